import type { DiscoveryFailure } from '@river/engine';
import { ErrorCodes } from './codes';
import { TrickleError, hasMarker, mark } from './trickle-error';
import { describeFailures } from './failures';

const MARKER = Symbol.for('@trickle/core.PeerFailureError');

/**
 * Peers the program named (option `peers`, env TRICKLE_PEERS) cannot be used: each is in
 * `failures` with why (`refused`, `timeout`, `closed`, `wrong-key`, `protocol`, `unreachable`).
 * `connect()` never falls back to local VMs when peers were named.
 */
export class PeerFailureError extends TrickleError {
  override readonly name = 'PeerFailureError';
  readonly failures: readonly DiscoveryFailure[];

  constructor(failures: readonly DiscoveryFailure[], options: { from: string }) {
    const n = failures.length;
    super(
      `${n} peer${n === 1 ? '' : 's'} named in ${options.from} cannot be used: ${describeFailures(failures)} ` +
        `(no local VMs were started: fix or remove the peer${n === 1 ? '' : 's'}, or ask for local VMs with { local: n } / TRICKLE_LOCAL=n)`,
      { code: ErrorCodes.PEER_FAILURE },
    );
    mark(this, MARKER);
    this.failures = failures;
  }

  static override isInstance(error: unknown): error is PeerFailureError {
    return hasMarker(error, MARKER);
  }
}
