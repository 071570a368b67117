/**
 * Routes envelopes `(src, dest, body)` by destination UUID without decoding the body: to a local
 * VR's port, onto the connection to the process that hosts `dest`, or — when nobody has `dest` —
 * back to the sender as a `river:undeliverable` message. Also tracks which VRs are gone, so a
 * `recv({ src })` on a gone VR fails instead of hanging.
 */
import { encode } from '@river/sfm';

import { MessageTooLargeError } from '../errors/message-too-large-error';
import { UnknownVRError } from '../errors/unknown-vr-error';
import { VRLostError } from '../errors/vr-lost-error';
import { compactWireError, fromWireError, toWireError, type WireError } from '../errors/wire';
import type { PeerTable } from '../net/peers';
import { FrameKind, ROUTE_SYSTEM, ToVRKind, type Frame, type LocateResult, type RouteFrame, type UUID } from '../protocol';
import type { LocalVR } from './local-vr';

/** Where `locate` found a VR. */
export type LocateOutcome = { state: 'at'; nodeId: string } | { state: 'gone'; error: WireError } | { state: 'unknown' };

export interface RouterHooks {
  /** Ask the cluster where a VR lives. */
  locate(uuid: UUID): Promise<LocateOutcome>;
  /** A VR (local or remote) is gone: stop children whose lifetime is tied to it. */
  gone(uuid: UUID, error: WireError): void;
}

/** How many gone VRs are remembered (oldest forgotten first). */
const GONE_MEMORY = 10_000;
/** How many lost nodes are remembered with the VRs lost with them (oldest forgotten first). */
const LOST_NODE_MEMORY = 1000;

export class Router {
  readonly locals = new Map<UUID, LocalVR>();
  /** Remote VR → the node id of the process that hosts it. */
  readonly locations = new Map<UUID, string>();
  /** VRs known to be gone, with why. */
  private readonly goneVRs = new Map<UUID, WireError>();
  /** Messages waiting for `locate(dest)`, in order. */
  private readonly locating = new Map<UUID, Array<[UUID, Uint8Array, number]>>();
  /** VR → local VRs that watch it. */
  private readonly watchers = new Map<UUID, Set<UUID>>();
  /** Lost nodes → the VRs marked gone with them (see `nodeReturned`). */
  private readonly lostWith = new Map<string, UUID[]>();

  constructor(
    private readonly nodeId: string,
    private readonly peers: PeerTable,
    private readonly hooks: RouterHooks,
    /** Largest message body that fits in a frame; a larger one bounces instead of costing the connection. */
    private readonly maxBodyBytes = Infinity,
  ) {}

  addLocal(vr: LocalVR): void {
    this.locals.set(vr.uuid, vr);
    this.goneVRs.delete(vr.uuid);
  }

  goneError(uuid: UUID): WireError | undefined {
    return this.goneVRs.get(uuid);
  }

  /** A message from a local VR or from the wire. `flags & ROUTE_SYSTEM`: never bounce it. */
  route(src: UUID, dest: UUID, body: Uint8Array, flags = 0): void {
    const local = this.locals.get(dest);
    if (local) {
      if (local.state.kind !== 'exited') {
        local.post([ToVRKind.MESSAGE, src, body]);
        return;
      }
    }
    const gone = this.goneVRs.get(dest);
    if (gone) {
      this.bounce(src, dest, body, flags, gone);
      return;
    }
    const node = this.locations.get(dest);
    if (node !== undefined) {
      if (body.byteLength > this.maxBodyBytes) {
        const error = new MessageTooLargeError({ message: `a message of ${body.byteLength} bytes is too large to send to another process (at most ${this.maxBodyBytes})` });
        this.bounce(src, dest, body, flags, toWireError(error));
        return;
      }
      const frame: RouteFrame = flags ? [FrameKind.ROUTE, dest, src, body, flags] : [FrameKind.ROUTE, dest, src, body];
      if (this.peers.send(node, frame)) return;
      // The process hosting dest is lost or unreachable.
      this.bounce(src, dest, body, flags, toWireError(new VRLostError({ message: `VR ${dest} was lost with its process ${node}` })));
      return;
    }
    if (local) {
      this.bounce(src, dest, body, flags, toWireError(new UnknownVRError({ message: `VR ${dest} has exited` })));
      return;
    }
    this.queueForLocate(src, dest, body, flags);
  }

  /** A ROUTE frame from node `from`: learn where its sender lives, then route it. */
  fromWire(from: string, frame: RouteFrame): void {
    const [, dest, src, body, flags = 0] = frame;
    if (!this.locals.has(src) && !this.goneVRs.has(src)) this.locations.set(src, from);
    if (!this.locals.has(dest) && this.locations.get(dest) === undefined && !this.goneVRs.has(dest)) {
      // The sender thought dest lives here; it does not (any more).
      this.bounce(src, dest, body, flags, toWireError(new UnknownVRError({ message: `no VR ${dest} on node ${this.nodeId}` })));
      return;
    }
    this.route(src, dest, body, flags);
  }

  /** Local VR `watcher` wants to know when `target` is gone. */
  watch(watcher: LocalVR, target: UUID): void {
    const gone = this.goneVRs.get(target);
    if (gone) {
      watcher.post([ToVRKind.GONE, target, gone]);
      return;
    }
    let set = this.watchers.get(target);
    if (!set) this.watchers.set(target, (set = new Set()));
    set.add(watcher.uuid);
    watcher.watching.add(target);
    if (this.locals.has(target)) return;
    const unknown = () => toWireError(new UnknownVRError({ message: `no VR ${target} is known in the cluster` }));
    // Ask the hosting node itself: that also opens a connection to it, whose heartbeats will
    // notice if that process is lost (nodeLost then marks `target` gone).
    const confirm = (node: string) => {
      this.locations.set(target, node);
      this.peers.request<LocateResult>(node, 'locate', { uuid: target }, 10_000).then(
        (r) => {
          if (r.state === 'gone') this.markGone(target, r.error);
          else if (r.state === 'unknown') this.markGone(target, unknown());
        },
        () => undefined, // a lost node is handled by nodeLost
      );
    };
    const node = this.locations.get(target);
    if (node !== undefined) {
      confirm(node);
      return;
    }
    this.hooks.locate(target).then(
      (outcome) => {
        if (outcome.state === 'at') confirm(outcome.nodeId);
        else this.markGone(target, outcome.state === 'gone' ? outcome.error : unknown());
      },
      () => undefined,
    );
  }

  /** Forgets everything a local VR watched (it exited). */
  unwatchAll(watcher: LocalVR): void {
    for (const target of watcher.watching) {
      const set = this.watchers.get(target);
      set?.delete(watcher.uuid);
      if (set && set.size === 0) this.watchers.delete(target);
    }
    watcher.watching.clear();
  }

  /** A VR is gone (local exit, exit notice from its node, its node lost, or never existed). */
  markGone(uuid: UUID, error: WireError): void {
    if (this.goneVRs.has(uuid)) return;
    // Remembered without stacks: up to GONE_MEMORY of these stay in memory.
    this.goneVRs.set(uuid, compactWireError(error));
    if (this.goneVRs.size > GONE_MEMORY) this.goneVRs.delete(this.goneVRs.keys().next().value!);
    this.locations.delete(uuid);
    const set = this.watchers.get(uuid);
    if (set) {
      this.watchers.delete(uuid);
      for (const w of set) this.locals.get(w)?.post([ToVRKind.GONE, uuid, error]);
    }
    const waiting = this.locating.get(uuid);
    if (waiting) {
      this.locating.delete(uuid);
      for (const [src, body, flags] of waiting) this.bounce(src, uuid, body, flags, error);
    }
    this.hooks.gone(uuid, error);
  }

  /** Every VR of a lost node is gone; messages queued for it bounce. */
  nodeLost(nodeId: string, error: Error, queued: Frame[]): void {
    const lost = toWireError(new VRLostError({ message: `VR lost with its process (node ${nodeId}): ${error.message}`, cause: error }));
    const marked = this.lostWith.get(nodeId) ?? [];
    this.lostWith.delete(nodeId); // re-inserted as the newest
    this.lostWith.set(nodeId, marked);
    if (this.lostWith.size > LOST_NODE_MEMORY) this.lostWith.delete(this.lostWith.keys().next().value!);
    for (const [uuid, node] of [...this.locations]) {
      if (node !== nodeId) continue;
      this.markGone(uuid, lost);
      marked.push(uuid);
    }
    for (const f of queued) {
      if (f[0] === FrameKind.ROUTE) this.bounce(f[2], f[1], f[3], f[4] ?? 0, lost);
    }
  }

  /** True when `nodeId` was lost (and has not come back since). */
  wasLost(nodeId: string): boolean {
    return this.lostWith.has(nodeId);
  }

  /**
   * A lost node connected again (it was stalled or cut off, not dead). The VRs marked gone with
   * it are no longer known to be gone: its engine has been told to end what depended on the lost
   * peering (see engine/peer-returns.ts), so those that still live, such as a parent that wants to
   * deploy again, can be reached again, and the others are found gone when asked. Everyone who
   * waited on them was already told they were lost. `staysLost` keeps some marked (children
   * already reported lost to their parent here).
   */
  nodeReturned(nodeId: string, staysLost: (uuid: UUID) => boolean = () => false): void {
    const marked = this.lostWith.get(nodeId);
    if (!marked) return;
    this.lostWith.delete(nodeId);
    for (const uuid of marked) {
      if (this.goneVRs.get(uuid)?.code === VRLostError.code && !staysLost(uuid)) this.goneVRs.delete(uuid);
    }
  }

  /** Sends `{ tag: 'river:undeliverable', dest, error, message }` back to `src`, from `dest`. */
  bounce(src: UUID, dest: UUID, body: Uint8Array, flags: number, error: WireError): void {
    if (flags & ROUTE_SYSTEM) return; // never bounce a bounce (or an exit notice)
    let reply: Uint8Array;
    try {
      reply = encode({ tag: 'river:undeliverable', dest, error: fromWireError(error), message: body });
    } catch {
      return;
    }
    this.route(dest, src, reply, ROUTE_SYSTEM);
  }

  private queueForLocate(src: UUID, dest: UUID, body: Uint8Array, flags: number): void {
    let queue = this.locating.get(dest);
    if (queue) {
      queue.push([src, body, flags]);
      return;
    }
    this.locating.set(dest, (queue = [[src, body, flags]]));
    const finish = (outcome: LocateOutcome) => {
      const waiting = this.locating.get(dest);
      if (!waiting) return;
      this.locating.delete(dest);
      if (outcome.state === 'at') {
        this.locations.set(dest, outcome.nodeId);
        for (const [s, b, f] of waiting) this.route(s, dest, b, f);
        return;
      }
      const error =
        outcome.state === 'gone' ? outcome.error : toWireError(new UnknownVRError({ message: `no VR ${dest} is known in the cluster` }));
      if (outcome.state === 'unknown' || outcome.state === 'gone') this.markGone(dest, error);
      for (const [s, b, f] of waiting) this.bounce(s, dest, b, f, error);
    };
    this.hooks.locate(dest).then(finish, () => finish({ state: 'unknown' }));
  }
}
