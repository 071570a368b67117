import type { VMRef } from '../session-link';
import { ErrorCodes } from './codes';
import { TrickleError, hasMarker, mark, vmLabel } from './trickle-error';

const MARKER = Symbol.for('@trickle/core.VMStoppingError');

/**
 * The VM is stopping (graceful removal: SIGTERM on `trickle vm`) and refused a request it had not
 * started: it finishes the calls already running, and takes no new ones. Nothing of the request
 * ran, so it may be sent to another VM as it is — `forkWork`/`forkGen` do that by themselves.
 */
export class VMStoppingError extends TrickleError {
  override readonly name = 'VMStoppingError';
  declare readonly vm: VMRef;
  /** What was refused (`foo()`, `inject(foo)`). */
  readonly remoteName: string;

  constructor(vm: VMRef, options: { remoteName: string; cause?: unknown }) {
    super(`${vmLabel(vm)} is stopping: it did not run ${options.remoteName} (it finishes what it is running and takes no new calls)`, {
      code: ErrorCodes.VM_STOPPING,
      cause: options.cause,
      vm,
    });
    mark(this, MARKER);
    this.remoteName = options.remoteName;
  }

  static override isInstance(error: unknown): error is VMStoppingError {
    return hasMarker(error, MARKER);
  }
}
