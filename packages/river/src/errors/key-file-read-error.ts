const marker = 'river.error.KeyFileReadError';
const symbol = Symbol.for(marker);

/** A key file is missing or cannot be read (`cause` is the file-system error, e.g. ENOENT). */
export class KeyFileReadError extends Error {
  // Marks instances across duplicate copies of this package (instanceof would not).
  private readonly [symbol] = true;
  override readonly name = 'KeyFileReadError';
  readonly code = 'RIVER_KEY_FILE_UNREADABLE' as const;
  /** The key file that could not be read. */
  readonly path: string;

  constructor({ path, cause }: { path: string; cause?: unknown }) {
    const reason = cause instanceof Error ? `: ${cause.message}` : '';
    super(`cannot read key file ${path}${reason}`, { cause });
    this.path = path;
  }

  static isInstance(error: unknown): error is KeyFileReadError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[symbol] === true;
  }
}
