/**
 * Peers that come back. A process that was stalled (SIGSTOP, a long pause) or cut off (a network
 * partition) for longer than the peer timeout is declared lost: its VRs are lost, their parents
 * told, and the work they had is handed out again. When it can be reached again, the peering
 * starts anew instead of being refused for good:
 *
 * - The side that had declared the other lost sends `reset` as the first frame of the new
 *   connection. A side that gets a `reset` without having declared the loss itself (its peer
 *   timeout is longer, or it only saw the socket close and redialled) now does what a loss does:
 *   parents hear of their children there as lost, children of VRs there are stopped. Both sides
 *   then agree that everything of the old peering is gone.
 * - Then each side forgets which of the other's VRs were lost with it (Router.nodeReturned), so
 *   those that still live (an initiator's VR that wants new sessions) can be reached again, and
 *   takes the VM back into its membership and VM watches (a live list then admits it anew).
 * - Lost VMs that someone may want back (a cluster member, or while any VR watches VMs) are
 *   probed, with backoff, for a bounded time: the return of a VM known only through mDNS or
 *   membership is noticed too, not only that of a static peer that is polled anyway.
 */
import { PeerLostError } from '../errors/peer-lost-error';
import { compactWireError, fromWireError, toWireError } from '../errors/wire';
import type { Connection } from '../net/connection';
import type { Peer, PeerAddress, PeerTable } from '../net/peers';
import type { ResetNotice } from '../protocol';
import type { VMInfo } from '../vm-info';

/** A lost VM that may come back. */
export interface LostVM {
  info: VMInfo;
  address: PeerAddress;
  /** It was a member of this VM's cluster. */
  member: boolean;
  lostAt: number;
  /** When to try it next; doubles from `firstProbeMs` up to `maxProbeMs`. */
  nextAt: number;
  delayMs: number;
  probing: boolean;
}

export interface PeerReturnsHooks {
  /** Whether anyone here wants `vm` back now (it was a member, or VMs are being watched). */
  wanted(vm: LostVM): boolean;
  /** `peer` says it had lost us: do here what a loss of `peer` does (its connection stays). */
  lose(peer: Peer, error: PeerLostError): void;
  /** `peer` is back: its VRs may be reached again; membership and VM watches may take it back. */
  back(peer: Peer): void;
  log(line: string): void;
}

export interface PeerReturnsOptions {
  /** How long a lost VM is probed for (default 10 min). */
  windowMs?: number;
  /** First delay between probes (default 1000 ms); it doubles up to `maxProbeMs` (default 5000 ms). */
  firstProbeMs?: number;
  maxProbeMs?: number;
}

/** How many lost VMs are probed at most (the oldest is dropped first). */
const MAX_PROBED = 256;

export class PeerReturns {
  private readonly lostVMs = new Map<string, LostVM>();
  /** Why each lost peer was lost, told to it in `reset` when it comes back. */
  private readonly why = new Map<string, string>();
  /** The connection on which the peering with a node was restarted (this side sent or took `reset`). */
  private readonly restartedOn = new Map<string, Connection>();
  private timer: NodeJS.Timeout | undefined;
  private readonly windowMs: number;
  private readonly firstProbeMs: number;
  private readonly maxProbeMs: number;
  private stopped = false;

  constructor(
    private readonly peers: PeerTable,
    /** True when the router marked `nodeId` lost and it has not come back since. */
    private readonly wasLost: (nodeId: string) => boolean,
    private readonly hooks: PeerReturnsHooks,
    options: PeerReturnsOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 10 * 60_000;
    this.firstProbeMs = options.firstProbeMs ?? 1000;
    this.maxProbeMs = options.maxProbeMs ?? 5000;
  }

  /**
   * `peer` was lost. Unless it said goodbye (a stopped process never comes back), a VM is probed
   * for its return while someone wants it.
   */
  lost(peer: Peer, error: PeerLostError, member: boolean, graceful: boolean): void {
    this.restartedOn.delete(peer.nodeId);
    this.why.delete(peer.nodeId);
    if (graceful) return;
    this.why.set(peer.nodeId, error.message);
    if (this.why.size > MAX_PROBED * 4) this.why.delete(this.why.keys().next().value!);
    if (!peer.info || !peer.address || this.stopped) return;
    const now = Date.now();
    this.lostVMs.delete(peer.nodeId);
    this.lostVMs.set(peer.nodeId, {
      info: peer.info,
      address: peer.address,
      member,
      lostAt: now,
      nextAt: now + this.firstProbeMs,
      delayMs: this.firstProbeMs,
      probing: false,
    });
    if (this.lostVMs.size > MAX_PROBED) this.lostVMs.delete(this.lostVMs.keys().next().value!);
    this.timer ??= setInterval(() => this.probe(), Math.min(1000, this.firstProbeMs));
    this.timer.unref();
  }

  /**
   * A connection to `peer` opened (called before anything queued for it is sent). If this side
   * had declared it lost, the peering restarts: `reset` goes out first.
   */
  connected(peer: Peer): void {
    this.lostVMs.delete(peer.nodeId);
    if (!this.wasLost(peer.nodeId) || peer.state.kind !== 'connected') return;
    this.restartedOn.set(peer.nodeId, peer.state.conn);
    const reason = this.why.get(peer.nodeId) ?? 'it was lost';
    this.why.delete(peer.nodeId);
    this.peers.notice(peer.nodeId, 'reset', { error: toWireError(new PeerLostError({ message: reason })) } satisfies ResetNotice);
    this.hooks.log(`peer ${peer.nodeId} is back after being lost (${reason}); what was lost with it stays lost`);
    this.hooks.back(peer);
  }

  /** NOTICE `reset` from `peer`: it had declared this process lost. */
  onReset(peer: Peer, args: unknown): void {
    if (peer.state.kind !== 'connected') return;
    const mine = this.restartedOn.get(peer.nodeId);
    // Both sides declared the loss and restarted this peering (each did its part already), or
    // this peering was already restarted for the sender's reset: once per connection.
    if (mine && mine.state.kind !== 'closed') return;
    this.restartedOn.set(peer.nodeId, peer.state.conn);
    const reason = fromWireError(compactWireError((args as Partial<ResetNotice> | undefined)?.error)).message.slice(0, 500);
    const error = new PeerLostError({ message: `node ${peer.nodeId} had declared this process lost (${reason}); what depended on it before is gone` });
    this.hooks.log(`peer ${peer.nodeId} had lost us (${reason}): its VRs from before are lost here too`);
    this.hooks.lose(peer, error);
    this.hooks.back(peer);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.lostVMs.clear();
  }

  private probe(): void {
    const now = Date.now();
    for (const [id, vm] of this.lostVMs) {
      if (now - vm.lostAt > this.windowMs) {
        this.lostVMs.delete(id);
        continue;
      }
      if (vm.probing || now < vm.nextAt || !this.hooks.wanted(vm)) continue;
      vm.probing = true;
      // On success the connection's `connected` (above) takes it out and restarts the peering.
      this.peers.dialAddress(vm.address, id).then(
        () => undefined,
        () => {
          vm.probing = false;
          vm.delayMs = Math.min(vm.delayMs * 2, this.maxProbeMs);
          vm.nextAt = Date.now() + vm.delayMs;
        },
      );
    }
    if (this.lostVMs.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
