import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.DiscoveryError';
const symbol = Symbol.for(marker);

/** Discovery could not run as asked (bad peer address, a local VM that would not start). */
export class DiscoveryError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_DISCOVERY_FAILED';

  constructor(options: RiverErrorOptions) {
    super(DiscoveryError.code, options);
    this.name = 'DiscoveryError';
  }

  static override isInstance(error: unknown): error is DiscoveryError {
    return RiverError.hasMarker(error, marker);
  }
}
