import { RiverError } from './river-error';

const marker = 'river.error.KeyFileReadError';
const symbol = Symbol.for(marker);

/** A key file is missing or cannot be read (`cause` is the file-system error, e.g. ENOENT). */
export class KeyFileReadError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_KEY_FILE_UNREADABLE';
  /** The key file that could not be read. */
  readonly path: string;

  constructor({ path, cause }: { path: string; cause?: unknown }) {
    const reason = cause instanceof Error ? `: ${cause.message}` : '';
    super(KeyFileReadError.code, { message: `cannot read key file ${path}${reason}`, cause });
    this.name = 'KeyFileReadError';
    this.path = path;
  }

  static override isInstance(error: unknown): error is KeyFileReadError {
    return RiverError.hasMarker(error, marker);
  }
}
