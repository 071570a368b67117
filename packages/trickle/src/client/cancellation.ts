/**
 * Cancelling one request (see call-options.ts for the user-facing side): the options a request
 * may carry, and the timer and abort listener that fire its cancellation once.
 */
import { CancelledError } from '../errors';
import type { VMRef } from '../session-link';

/** How a request may be cancelled. */
export interface CallOptions {
  /** Aborting it cancels every request made through the handle that is still outstanding. */
  signal?: AbortSignal;
  /** Cancels a request that has not been answered within this many milliseconds. */
  timeoutMs?: number;
}

/** Why a request was cancelled, for messages: `timed out after 500 ms`, `aborted (reason)`. */
export type CancelReason = { readonly why: string; readonly cause?: unknown };

/**
 * Arms the cancellation of one request: `cancel` is called at most once, when the signal aborts
 * or the timeout passes. Returns the function that disarms it (call it when the request settles).
 */
export function armCancellation(options: CallOptions, cancel: (reason: CancelReason) => void): () => void {
  const { signal, timeoutMs } = options;
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const disarm = () => {
    done = true;
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  };
  const fire = (reason: CancelReason) => {
    if (done) return;
    disarm();
    cancel(reason);
  };
  const onAbort = () => fire({ why: `aborted${describeReason(signal!.reason)}`, cause: signal!.reason });
  if (timeoutMs !== undefined) {
    timer = setTimeout(() => fire({ why: `timed out after ${timeoutMs} ms` }), timeoutMs);
    // The request itself keeps the process alive while it is outstanding (the link's ref).
    timer.unref?.();
  }
  signal?.addEventListener('abort', onAbort, { once: true });
  return disarm;
}

/** The error for a request not sent because its signal was already aborted. */
export function abortedBeforeSending(remoteName: string, label: string, signal: AbortSignal, vm?: VMRef): CancelledError {
  return new CancelledError(`${remoteName} on ${label} was not sent: its signal was already aborted${describeReason(signal.reason)}`, {
    cause: signal.reason,
    vm,
  });
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) return reason.name === 'AbortError' ? '' : ` (${reason.message})`;
  return reason === undefined ? '' : ` (${String(reason)})`;
}

