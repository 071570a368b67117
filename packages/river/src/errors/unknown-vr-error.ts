import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.UnknownVRError';
const symbol = Symbol.for(marker);

/** No VR with that UUID exists anywhere this engine can ask (never existed, or exited long ago). */
export class UnknownVRError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_UNKNOWN_VR';

  constructor(options: RiverErrorOptions) {
    super(UnknownVRError.code, options);
    this.name = 'UnknownVRError';
  }

  static override isInstance(error: unknown): error is UnknownVRError {
    return RiverError.hasMarker(error, marker);
  }
}
