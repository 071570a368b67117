const marker = 'river.error.InvalidKeyError';
const symbol = Symbol.for(marker);

/** A cluster key is empty, too short, or not a single line of printable characters. The key itself is never put in the message. */
export class InvalidKeyError extends Error {
  // Marks instances across duplicate copies of this package (instanceof would not).
  private readonly [symbol] = true;
  override readonly name = 'InvalidKeyError';
  readonly code = 'RIVER_INVALID_KEY' as const;
  /** Where the key came from: a file path, `RIVER_KEY`, or `key` for an explicit option. */
  readonly source: string;

  constructor({ source, reason, cause }: { source: string; reason: string; cause?: unknown }) {
    super(`invalid cluster key from ${source}: ${reason}`, { cause });
    this.source = source;
  }

  static isInstance(error: unknown): error is InvalidKeyError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[symbol] === true;
  }
}
