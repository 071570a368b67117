import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.ConfigError';
const symbol = Symbol.for(marker);

/** An option or flag is invalid (e.g. listening beyond loopback without a cluster key). */
export class ConfigError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_INVALID_OPTION';

  constructor(options: RiverErrorOptions) {
    super(ConfigError.code, options);
    this.name = 'ConfigError';
  }

  static override isInstance(error: unknown): error is ConfigError {
    return RiverError.hasMarker(error, marker);
  }
}
