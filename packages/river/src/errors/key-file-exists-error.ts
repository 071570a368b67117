import { RiverError } from './river-error';

const marker = 'river.error.KeyFileExistsError';
const symbol = Symbol.for(marker);

/** `writeKeyFile` would overwrite an existing key file and was not told to (`{ force: true }`). */
export class KeyFileExistsError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_KEY_FILE_EXISTS';
  /** The key file that already exists. */
  readonly path: string;

  /** `fix`: how the caller replaces it (default `pass { force: true }`; a CLI names its flag). */
  constructor({ path, cause, fix = 'pass { force: true }' }: { path: string; cause?: unknown; fix?: string }) {
    super(KeyFileExistsError.code, {
      message: `key file ${path} already exists; ${fix} to replace it`,
      cause,
    });
    this.name = 'KeyFileExistsError';
    this.path = path;
  }

  static override isInstance(error: unknown): error is KeyFileExistsError {
    return RiverError.hasMarker(error, marker);
  }
}
