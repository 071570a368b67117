import { SfmError, hasMarker, markPrototype } from './sfm-error';

const marker = Symbol.for('@river/sfm/TimeoutError');

/** A `recv` whose `timeoutMs` passed before a matching message arrived. */
export class TimeoutError extends SfmError {
  readonly code = 'ERR_TIMEOUT';

  constructor(
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(`no matching message within ${timeoutMs} ms`, options);
  }

  static override isInstance(error: unknown): error is TimeoutError {
    return hasMarker(error, marker);
  }

  static {
    markPrototype(this, marker, 'TimeoutError');
  }
}
