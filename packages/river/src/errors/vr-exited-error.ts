import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.VRExitedError';
const symbol = Symbol.for(marker);

/** The VR has exited: its `main` settled, it was stopped, or its parent went away. */
export class VRExitedError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_VR_EXITED';

  constructor(options: RiverErrorOptions) {
    super(VRExitedError.code, options);
    this.name = 'VRExitedError';
  }

  static override isInstance(error: unknown): error is VRExitedError {
    return RiverError.hasMarker(error, marker);
  }
}
