import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.ReservedAttributeError';
const symbol = Symbol.for(marker);

/**
 * `send` was given a message with an attribute River sets itself on delivery (`src`, `dest`):
 * it would be overwritten, so the message is refused instead. `attribute` names it.
 */
export class ReservedAttributeError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_RESERVED_ATTRIBUTE';
  /** The reserved attribute the message had. */
  attribute: string | undefined;

  constructor(options: RiverErrorOptions & { attribute?: string }) {
    super(ReservedAttributeError.code, options);
    this.name = 'ReservedAttributeError';
    this.attribute = options.attribute;
  }

  static override isInstance(error: unknown): error is ReservedAttributeError {
    return RiverError.hasMarker(error, marker);
  }
}
