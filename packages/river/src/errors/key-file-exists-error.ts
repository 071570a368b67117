const marker = 'river.error.KeyFileExistsError';
const symbol = Symbol.for(marker);

/** `writeKeyFile` would overwrite an existing key file and was not told to (`{ force: true }`). */
export class KeyFileExistsError extends Error {
  // Marks instances across duplicate copies of this package (instanceof would not).
  private readonly [symbol] = true;
  override readonly name = 'KeyFileExistsError';
  readonly code = 'RIVER_KEY_FILE_EXISTS' as const;
  /** The key file that already exists. */
  readonly path: string;

  constructor({ path, cause }: { path: string; cause?: unknown }) {
    super(`key file ${path} already exists; pass { force: true } to replace it`, { cause });
    this.path = path;
  }

  static isInstance(error: unknown): error is KeyFileExistsError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[symbol] === true;
  }
}
