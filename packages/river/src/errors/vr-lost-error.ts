import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.VRLostError';
const symbol = Symbol.for(marker);

/** The VR was lost with its process (the peer it lived on was lost) or its worker died. */
export class VRLostError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_VR_LOST';

  constructor(options: RiverErrorOptions) {
    super(VRLostError.code, options);
    this.name = 'VRLostError';
  }

  static override isInstance(error: unknown): error is VRLostError {
    return RiverError.hasMarker(error, marker);
  }
}
