import type { VMRef } from '../session-link';
import { ErrorCodes } from './codes';
import { TrickleError, hasMarker, mark } from './trickle-error';

const MARKER = Symbol.for('@trickle/core.CancelledError');

/**
 * Work was given up on purpose: the session was closed (`disconnect`) while a request was still
 * outstanding, or a remote object was used after `release()`.
 */
export class CancelledError extends TrickleError {
  override readonly name = 'CancelledError';

  constructor(message: string, options: { cause?: unknown; vm?: VMRef } = {}) {
    super(message, { code: ErrorCodes.CANCELLED, ...options });
    mark(this, MARKER);
  }

  static override isInstance(error: unknown): error is CancelledError {
    return hasMarker(error, MARKER);
  }
}
