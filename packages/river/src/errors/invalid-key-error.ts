import { RiverError } from './river-error';

const marker = 'river.error.InvalidKeyError';
const symbol = Symbol.for(marker);

/** A cluster key is empty, too short, or not a single line of printable characters. The key itself is never put in the message. */
export class InvalidKeyError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_INVALID_KEY';
  /** Where the key came from: a file path, `RIVER_KEY`, or `key` for an explicit option. */
  readonly source: string;

  constructor({ source, reason, cause }: { source: string; reason: string; cause?: unknown }) {
    super(InvalidKeyError.code, { message: `invalid cluster key from ${source}: ${reason}`, cause });
    this.name = 'InvalidKeyError';
    this.source = source;
  }

  static override isInstance(error: unknown): error is InvalidKeyError {
    return RiverError.hasMarker(error, marker);
  }
}
