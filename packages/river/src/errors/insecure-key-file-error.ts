import { RiverError } from './river-error';

const marker = 'river.error.InsecureKeyFileError';
const symbol = Symbol.for(marker);

/** A key file is readable or writable by group or others (POSIX). Like ssh with private keys, River refuses it. */
export class InsecureKeyFileError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_KEY_FILE_INSECURE';
  readonly path: string;
  /** The file's mode bits as read (e.g. 0o100644); `mode & 0o777` are the permissions. */
  readonly mode: number;

  constructor({ path, mode, cause }: { path: string; mode: number; cause?: unknown }) {
    const octal = `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
    super(InsecureKeyFileError.code, {
      message: `key file ${path} is accessible to group or others (mode ${octal}); run: chmod 600 ${path}`,
      cause,
    });
    this.name = 'InsecureKeyFileError';
    this.path = path;
    this.mode = mode;
  }

  static override isInstance(error: unknown): error is InsecureKeyFileError {
    return RiverError.hasMarker(error, marker);
  }
}
