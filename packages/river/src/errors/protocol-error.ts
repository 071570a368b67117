import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.ProtocolError';
const symbol = Symbol.for(marker);

/** A peer sent bytes or frames that break the wire protocol (undecodable, oversized, malformed). */
export class ProtocolError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_PROTOCOL_ERROR';

  constructor(options: RiverErrorOptions) {
    super(ProtocolError.code, options);
    this.name = 'ProtocolError';
  }

  static override isInstance(error: unknown): error is ProtocolError {
    return RiverError.hasMarker(error, marker);
  }
}
