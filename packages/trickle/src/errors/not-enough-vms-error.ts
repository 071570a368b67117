import type { DiscoveryFailure } from '@river/engine';
import { ErrorCodes } from './codes';
import { describeFailures } from './failures';
import { TrickleError, hasMarker, mark } from './trickle-error';

const MARKER = Symbol.for('@trickle/core.NotEnoughVMsError');

/**
 * `connect(n)` found fewer than `n` usable VMs (or `connect({ min })` fewer than `min`). Each VM
 * that was found but could not be used (unreachable, wrong key, an impostor, no session) is in
 * `failures` and named in the message.
 */
export class NotEnoughVMsError extends TrickleError {
  override readonly name = 'NotEnoughVMsError';
  readonly wanted: number;
  readonly found: number;
  readonly failures: readonly DiscoveryFailure[];

  constructor(wanted: number, found: number, options: { cause?: unknown; detail?: string; failures?: readonly DiscoveryFailure[] } = {}) {
    const failures = options.failures ?? [];
    const unusable = failures.length > 0 ? `; could not use ${describeFailures(failures)}` : '';
    super(
      `wanted ${wanted} VM${wanted === 1 ? '' : 's'} but found ${found}${unusable}${options.detail ? ` (${options.detail})` : ''}`,
      { code: ErrorCodes.NOT_ENOUGH_VMS, cause: options.cause },
    );
    mark(this, MARKER);
    this.wanted = wanted;
    this.found = found;
    this.failures = failures;
  }

  static override isInstance(error: unknown): error is NotEnoughVMsError {
    return hasMarker(error, MARKER);
  }
}
