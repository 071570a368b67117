import type { VMRef } from '../session-link';
import { ErrorCodes } from './codes';
import { TrickleError, hasMarker, mark } from './trickle-error';

const MARKER = Symbol.for('@trickle/core.WorkLostError');

/**
 * A `forkWork`/`forkGen` run gave up because no VM is left to run on: every VM it used died, lost
 * its connection or left. (While one VM survives, the chunks of a lost VM are re-issued to the
 * survivors and no error is raised. On a live list that is still watching, the run first waits
 * `waitForVMsMs` for a VM to join.)
 *
 * - `chunks`: indexes (work order, as in `ordered`) of the chunks that were handed out, lost with
 *   their VM and not completed anywhere else. Chunks never handed out are not listed.
 * - `vms`: the VMs the run lost, in the order it lost them.
 * - `done` / `total`: work items completed before it gave up, and all items (when known).
 * - `cause`: why the last VM went (usually a VMLostError).
 */
export class WorkLostError extends TrickleError {
  override readonly name = 'WorkLostError';
  readonly chunks: readonly number[];
  readonly vms: readonly VMRef[];
  readonly done: number;
  readonly total: number | undefined;

  constructor(options: {
    chunks: readonly number[];
    vms: readonly VMRef[];
    done: number;
    total: number | undefined;
    /** How long the run waited for a VM to join its live list before giving up. */
    waitedMs?: number;
    cause?: unknown;
  }) {
    const chunks = [...options.chunks].sort((a, b) => a - b);
    const lost = chunks.length === 0 ? 'no chunk was in flight' : `lost chunk${chunks.length === 1 ? '' : 's'} ${listed(chunks)}`;
    const why = options.cause instanceof Error ? `: ${options.cause.message}` : '';
    const waited = options.waitedMs === undefined ? '' : `, and none joined the live list within ${options.waitedMs} ms`;
    super(
      `forkWork: no VM left to run on (${options.vms.length} lost${waited}); ${lost}; ${options.done}${options.total === undefined ? '' : ` of ${options.total}`} items done${why}`,
      { code: ErrorCodes.WORK_LOST, cause: options.cause },
    );
    mark(this, MARKER);
    this.chunks = chunks;
    this.vms = options.vms.map((vm) => ({ id: vm.id, name: vm.name }));
    this.done = options.done;
    this.total = options.total;
  }

  static override isInstance(error: unknown): error is WorkLostError {
    return hasMarker(error, MARKER);
  }
}

/** "3, 7, 12" — at most 20 indexes, then "… (n in all)". */
function listed(indexes: readonly number[]): string {
  const shown = indexes.slice(0, 20).join(', ');
  return indexes.length > 20 ? `${shown}, … (${indexes.length} in all)` : shown;
}
