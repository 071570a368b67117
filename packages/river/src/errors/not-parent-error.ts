import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.NotParentError';
const symbol = Symbol.for(marker);

/** Only a VR's parent may terminate it (`vr.terminate(uuid)`); the asker is not. */
export class NotParentError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_NOT_PARENT';

  constructor(options: RiverErrorOptions) {
    super(NotParentError.code, options);
    this.name = 'NotParentError';
  }

  static override isInstance(error: unknown): error is NotParentError {
    return RiverError.hasMarker(error, marker);
  }
}
