import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.PeerLostError';
const symbol = Symbol.for(marker);

/** The connection to a peer process was lost (closed, refused, or silent past `peerTimeoutMs`). */
export class PeerLostError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_PEER_LOST';

  constructor(options: RiverErrorOptions) {
    super(PeerLostError.code, options);
    this.name = 'PeerLostError';
  }

  static override isInstance(error: unknown): error is PeerLostError {
    return RiverError.hasMarker(error, marker);
  }
}
