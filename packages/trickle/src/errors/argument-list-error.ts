import { ErrorCodes } from './codes';
import { TrickleError, hasMarker, mark } from './trickle-error';

const MARKER = Symbol.for('@trickle/core.ArgumentListError');

/**
 * `fork(vms, f, array)` with an array whose length is not the number of VMs. The paper's rule
 * reads one array argument as one argument per VM only when the lengths match, so the same call
 * would change meaning with the number of VMs (the core count, for local VMs). It is refused, and
 * the message names the unambiguous forms: `forkEach` (per VM) and `forkAll` (the same everywhere).
 */
export class ArgumentListError extends TrickleError {
  override readonly name = 'ArgumentListError';
  /** Length of the array argument. */
  readonly length: number;
  /** Number of VMs it was forked on. */
  readonly vms: number;

  constructor(what: string, length: number, vms: number) {
    super(
      `${what}: one array argument of length ${length} for ${vms} VM${vms === 1 ? '' : 's'} is ambiguous ` +
        `(an array is taken as one argument per VM only when its length equals the number of VMs). ` +
        `Say what you mean: forkEach(vms, f, argLists) runs f(...argLists[i]) on vms[i]; ` +
        `forkAll(vms, f, array) passes the whole array to every VM`,
      { code: ErrorCodes.ARGUMENT_LIST },
    );
    mark(this, MARKER);
    this.length = length;
    this.vms = vms;
  }

  static override isInstance(error: unknown): error is ArgumentListError {
    return hasMarker(error, MARKER);
  }
}
