import type { VMRef } from '../session-link';
import { ErrorCodes } from './codes';
import { TrickleError, hasMarker, mark, vmLabel } from './trickle-error';

const MARKER = Symbol.for('@trickle/core.VMLostError');

/**
 * The session on a VM is gone (the VM died, its connection was lost, its worker exited) while a
 * request was outstanding, or a request was made after that. `cause` says why, when known.
 */
export class VMLostError extends TrickleError {
  override readonly name = 'VMLostError';
  declare readonly vm: VMRef;

  constructor(vm: VMRef, options: { cause?: unknown; during?: string } = {}) {
    const why = options.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`lost the session on ${vmLabel(vm)}${options.during ? ` during ${options.during}` : ''}${why}`, {
      code: ErrorCodes.VM_LOST,
      cause: options.cause,
      vm,
    });
    mark(this, MARKER);
  }

  static override isInstance(error: unknown): error is VMLostError {
    return hasMarker(error, MARKER);
  }
}
