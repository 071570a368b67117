import { ErrorCodes } from './codes';
import { TrickleError, hasMarker, mark } from './trickle-error';

const MARKER = Symbol.for('@trickle/core.KeyError');

/**
 * The cluster key cannot be used: its file is missing, unreadable or readable by others, or the
 * key itself is invalid. `source` says where it came from (`TRICKLE_KEY_FILE=/path`, the
 * `keyFile` option, …); `reason` is River's error code (`RIVER_KEY_FILE_UNREADABLE`, …).
 * The message is one line; the key itself is never in it.
 */
export class KeyError extends TrickleError {
  override readonly name = 'KeyError';
  readonly source: string;
  readonly reason: string;

  constructor(source: string, reason: string, detail: string) {
    super(`cannot use the cluster key (${source}): ${detail}`, { code: ErrorCodes.KEY });
    mark(this, MARKER);
    this.source = source;
    this.reason = reason;
  }

  static override isInstance(error: unknown): error is KeyError {
    return hasMarker(error, MARKER);
  }
}
