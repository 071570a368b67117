const marker = 'river.error.InsecureKeyFileError';
const symbol = Symbol.for(marker);

/** A key file is readable or writable by group or others (POSIX). Like ssh with private keys, River refuses it. */
export class InsecureKeyFileError extends Error {
  // Marks instances across duplicate copies of this package (instanceof would not).
  private readonly [symbol] = true;
  override readonly name = 'InsecureKeyFileError';
  readonly code = 'RIVER_KEY_FILE_INSECURE' as const;
  readonly path: string;
  /** The file's permission bits, e.g. 0o644. */
  readonly mode: number;

  constructor({ path, mode, cause }: { path: string; mode: number; cause?: unknown }) {
    const octal = `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
    super(`key file ${path} is accessible to group or others (mode ${octal}); run: chmod 600 ${path}`, { cause });
    this.path = path;
    this.mode = mode;
  }

  static isInstance(error: unknown): error is InsecureKeyFileError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[symbol] === true;
  }
}
