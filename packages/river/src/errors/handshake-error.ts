import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.HandshakeError';
const symbol = Symbol.for(marker);

/** The connection handshake failed for a reason other than the key: timeout, version, unexpected frame. */
export class HandshakeError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_HANDSHAKE_FAILED';

  constructor(options: RiverErrorOptions) {
    super(HandshakeError.code, options);
    this.name = 'HandshakeError';
  }

  static override isInstance(error: unknown): error is HandshakeError {
    return RiverError.hasMarker(error, marker);
  }
}
