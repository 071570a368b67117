import type { ResourceLimits } from '../protocol';
import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.ResourceLimitError';
const symbol = Symbol.for(marker);

/**
 * A VR's worker reached a resource limit it was deployed with (`resourceLimits`, e.g. its heap,
 * `maxOldGenerationSizeMb`) and was ended. The VM and its other VRs carry on.
 */
export class ResourceLimitError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_RESOURCE_LIMIT';
  /** The limits the worker had (an own property, so it crosses the wire with the error). */
  limits?: ResourceLimits;

  constructor(options: RiverErrorOptions) {
    super(ResourceLimitError.code, options);
    this.name = 'ResourceLimitError';
  }

  static override isInstance(error: unknown): error is ResourceLimitError {
    return RiverError.hasMarker(error, marker);
  }
}
