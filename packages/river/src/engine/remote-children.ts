/**
 * The children that this engine's VRs deployed on other processes. When such a process is lost
 * (killed, silent, unreachable), nobody is left there to send a child's `river:exit`: the
 * parent's own engine sends it instead, with a `VRLostError`, so a supervisor waiting on
 * `river:exit` or a gather loop waiting on results hears of every child. A child reported lost
 * stays dead to this engine: what it still sends (from before the loss, or from a process that
 * comes back after a stall) is dropped, and its own late `river:exit` too, so the parent hears of
 * each child exactly once.
 */
import type { UUID } from '../protocol';

/** How many children reported lost (and exits seen before their deploy answer) are remembered. */
const MEMORY = 10_000;

export interface LostChild {
  child: UUID;
  parent: UUID;
}

export class RemoteChildren {
  /** Child → its parent (a VR of this engine) and the node that hosts the child. */
  private readonly byChild = new Map<UUID, { parent: UUID; node: string }>();
  /** Parent → its children elsewhere. */
  private readonly byParent = new Map<UUID, Set<UUID>>();
  /** Children already reported lost to their parent (oldest forgotten first). */
  private readonly reportedLost = new Set<UUID>();
  /**
   * Children whose `river:exit` passed before the answer to their deploy was read (the exit and
   * the answer can be read in one go, the answer's continuation running after).
   */
  private readonly exitedEarly = new Set<UUID>();

  get size(): number {
    return this.byChild.size;
  }

  /** `parent` (a local VR) deployed `child` on `node`. */
  add(child: UUID, parent: UUID, node: string): void {
    if (this.exitedEarly.delete(child) || this.reportedLost.has(child)) return;
    this.byChild.set(child, { parent, node });
    let set = this.byParent.get(parent);
    if (!set) this.byParent.set(parent, (set = new Set()));
    set.add(child);
  }

  /** A `river:exit` from `child` reached its parent here: nothing more to report for it. */
  exited(child: UUID): void {
    if (!this.remove(child)) remember(this.exitedEarly, child);
  }

  /** A local VR ended: its children elsewhere are no longer its engine's to report. */
  parentEnded(parent: UUID): void {
    const set = this.byParent.get(parent);
    if (!set) return;
    this.byParent.delete(parent);
    for (const child of set) this.byChild.delete(child);
  }

  /** Takes out every child hosted on `node` (it is lost): each is to be reported to its parent. */
  lostWith(node: string): LostChild[] {
    const lost: LostChild[] = [];
    for (const [child, at] of this.byChild) {
      if (at.node !== node) continue;
      lost.push({ child, parent: at.parent });
      this.remove(child);
      remember(this.reportedLost, child);
    }
    return lost;
  }

  /** True for a child that was reported lost: whatever it still sends is stale. */
  isLost(uuid: UUID): boolean {
    return this.reportedLost.size > 0 && this.reportedLost.has(uuid);
  }

  private remove(child: UUID): boolean {
    const at = this.byChild.get(child);
    if (!at) return false;
    this.byChild.delete(child);
    const set = this.byParent.get(at.parent);
    set?.delete(child);
    if (set && set.size === 0) this.byParent.delete(at.parent);
    return true;
  }
}

function remember(set: Set<UUID>, uuid: UUID): void {
  set.add(uuid);
  if (set.size > MEMORY) set.delete(set.values().next().value!);
}
