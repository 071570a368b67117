import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.MessageTooLargeError';
const symbol = Symbol.for(marker);

/**
 * A message is too large to cross a connection (its frame would exceed `maxFrameBytes`): it
 * comes back to its sender as `river:undeliverable` with this error, and the connection, which
 * other VRs share, is not affected.
 */
export class MessageTooLargeError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_MESSAGE_TOO_LARGE';

  constructor(options: RiverErrorOptions) {
    super(MessageTooLargeError.code, options);
    this.name = 'MessageTooLargeError';
  }

  static override isInstance(error: unknown): error is MessageTooLargeError {
    return RiverError.hasMarker(error, marker);
  }
}
