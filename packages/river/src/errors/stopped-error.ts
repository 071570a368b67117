import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.StoppedError';
const symbol = Symbol.for(marker);

/** The engine (VM or initiator) is stopping or stopped, so the operation cannot complete. */
export class StoppedError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_STOPPED';

  constructor(options: RiverErrorOptions) {
    super(StoppedError.code, options);
    this.name = 'StoppedError';
  }

  static override isInstance(error: unknown): error is StoppedError {
    return RiverError.hasMarker(error, marker);
  }
}
