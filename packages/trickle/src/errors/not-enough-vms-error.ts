import { ErrorCodes } from './codes';
import { TrickleError, hasMarker, mark } from './trickle-error';

const MARKER = Symbol.for('@trickle/core.NotEnoughVMsError');

/** `connect(n)` found fewer than `n` VMs. */
export class NotEnoughVMsError extends TrickleError {
  override readonly name = 'NotEnoughVMsError';
  readonly wanted: number;
  readonly found: number;

  constructor(wanted: number, found: number, options: { cause?: unknown; detail?: string } = {}) {
    super(
      `wanted ${wanted} VM${wanted === 1 ? '' : 's'} but found ${found}${options.detail ? ` (${options.detail})` : ''}`,
      { code: ErrorCodes.NOT_ENOUGH_VMS, cause: options.cause },
    );
    mark(this, MARKER);
    this.wanted = wanted;
    this.found = found;
  }

  static override isInstance(error: unknown): error is NotEnoughVMsError {
    return hasMarker(error, MARKER);
  }
}
