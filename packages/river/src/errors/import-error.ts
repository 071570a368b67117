import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.ImportError';
const symbol = Symbol.for(marker);

/**
 * Shipped code needs something from its module's imports that cannot travel or cannot be bound
 * where it runs: a package not installed on the VM, a module that cannot be bundled. The message
 * names the user's identifier, the module and the fix.
 */
export class ImportError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_IMPORT_FAILED';

  constructor(options: RiverErrorOptions) {
    super(ImportError.code, options);
    this.name = 'ImportError';
  }

  static override isInstance(error: unknown): error is ImportError {
    return RiverError.hasMarker(error, marker);
  }
}
