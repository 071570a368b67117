import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.RequestTimeoutError';
const symbol = Symbol.for(marker);

/** A request to another engine (deploy, locate, members) got no reply in time. */
export class RequestTimeoutError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_REQUEST_TIMEOUT';

  constructor(options: RiverErrorOptions) {
    super(RequestTimeoutError.code, options);
    this.name = 'RequestTimeoutError';
  }

  static override isInstance(error: unknown): error is RequestTimeoutError {
    return RiverError.hasMarker(error, marker);
  }
}
