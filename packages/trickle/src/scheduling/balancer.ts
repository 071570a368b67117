/**
 * Which VM gets the next chunk. The default is the paper's dynamic policy: a VM gets more work
 * when its work comes back. To hide the round trip, each VM may have a few chunks in flight
 * (`inFlightPerVM`, default 2): while it computes one, the next is already on its way.
 */
import type { VM } from '../types';

/** One VM taking part in a forkWork run, as the balancer sees it. */
export interface WorkerSlot {
  readonly vm: VM;
  /** Chunks sent to this VM and not yet returned. */
  inFlight: number;
  /** Chunks this VM has completed. */
  completed: number;
  /** False once the VM has left the run (it gets no more chunks). */
  active: boolean;
}

export interface Balancer {
  /** The slot to send the next chunk to, or undefined when every VM has enough in flight. */
  pick(slots: readonly WorkerSlot[]): WorkerSlot | undefined;
}

/** Defaults for the dynamic policy. */
export const schedulingDefaults = {
  /** Chunks in flight per VM: 1 is the paper's policy; 2 keeps a VM busy across the round trip. */
  inFlightPerVM: 2,
} as const;

/** The VM with the fewest chunks in flight, below the limit; ties go to the earliest in the list. */
export class DynamicBalancer implements Balancer {
  constructor(readonly inFlightPerVM: number = schedulingDefaults.inFlightPerVM) {
    if (!Number.isInteger(inFlightPerVM) || inFlightPerVM < 1) {
      throw new RangeError(`inFlightPerVM must be a positive integer, got ${String(inFlightPerVM)}`);
    }
  }

  pick(slots: readonly WorkerSlot[]): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    for (const slot of slots) {
      if (!slot.active || slot.inFlight >= this.inFlightPerVM) continue;
      if (!best || slot.inFlight < best.inFlight) best = slot;
    }
    return best;
  }
}
