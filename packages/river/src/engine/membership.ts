/**
 * Cluster membership for VMs: who is in the cluster, so one seed address (or a DNS name) is
 * enough to find everyone — with what each VM sends and the connections it keeps bounded as the
 * cluster grows (a bounded fan-out gossip in the manner of SWIM and its descendants):
 *
 * - Neighbours. Members are placed on a ring by node id; a VM's *out-neighbours* are the members
 *   1, 3, 9 and 27 places after it, its *in-neighbours* those as many places before it (whose
 *   out-neighbour it is). It keeps connections to these (at most 8, whatever N), and closes
 *   connections to other VMs once idle. Its out-neighbours' connections are its failure
 *   detector: heartbeats on them notice a dead member within `peerTimeoutMs`; a graceful stop at
 *   once.
 * - Dissemination. Whatever a VM learns that is new to it — a member that joined, a member that
 *   died — it forwards at once to its neighbours (only the new entries, not its list): an
 *   infection that reaches every VM along the neighbour graph (diameter ~2·log3 N), each VM
 *   sending each change to at most 8 neighbours.
 * - Anti-entropy. Every `gossipIntervalMs` a VM sends one random neighbour the digest of its
 *   list; only when the digests differ do the two exchange whole lists. A converged cluster sends
 *   a few dozen bytes per VM per round; a change costs O(N) bytes once per VM.
 * - Death. A member that said goodbye, or whose connection was lost and at whose address
 *   nothing listens any more, is dropped and remembered as dead for `tombstoneMs` (default 30 s)
 *   everywhere the news spreads, so a stale list cannot bring it back. One that is merely slow
 *   (missed heartbeats on a starved machine) is kept. Node ids name one process: a dead member
 *   never returns under the same id.
 *
 * A `join` (a new VM registers with a seed) adds the joiner at the seed, which spreads it; the
 * joiner takes the seed's whole list.
 */
import { createHash } from 'node:crypto';
import { connect } from 'node:net';

import type { PeerTable } from '../net/peers';
import type { GossipArgs, GossipResult, JoinArgs, MembersNotice, MembersResult } from '../protocol';
import { isVMInfo, type VMInfo } from '../vm-info';

export interface MembershipOptions {
  self(): VMInfo;
  peers: PeerTable;
  gossipIntervalMs: number;
  /** How long a dead member stays dead (ignored in others' lists). */
  tombstoneMs?: number;
  /** Whether something besides membership uses the connection to this node (VRs live there). */
  inUse?(nodeId: string): boolean;
  /** Whether a process listens at an address (default: a TCP connect, see probeListening). */
  probe?(address: { host: string; port: number }): Promise<boolean>;
  log(line: string): void;
}

/** Ring distances of a VM's out-neighbours: with powers of 3 any member is ~2·log3 N hops away. */
export const NEIGHBOUR_OFFSETS = [1, 3, 9, 27] as const;

/** Rounds a non-neighbour connection must stay idle before it is closed. */
const IDLE_ROUNDS = 2;

/** What a merge changed. */
interface Delta {
  members: VMInfo[];
  dead: string[];
  /** Of `members`, those that had been held dead (sent as `back`, so tombstones are cleared). */
  back?: VMInfo[];
}

export class Membership {
  private readonly members = new Map<string, VMInfo>();
  private readonly tombstones = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private cache: { digest: string; out: string[]; all: Set<string> } | undefined;
  /** Lost members whose address is being checked. */
  private readonly probing = new Set<string>();
  /** Lost members found still listening, until when that finding holds. */
  private readonly kept = new Map<string, number>();
  /** Non-neighbour connections seen idle, and for how many rounds. */
  private readonly idle = new Map<string, number>();

  constructor(private readonly options: MembershipOptions) {}

  /** This VM and every member it knows. */
  list(): VMInfo[] {
    return [this.options.self(), ...this.members.values()];
  }

  has(id: string): boolean {
    return this.members.has(id);
  }

  /** Ids of the VMs this one keeps connections to (out- and in-neighbours). */
  neighbours(): string[] {
    return [...this.view().all];
  }

  start(): void {
    this.timer = setInterval(() => this.round(), this.options.gossipIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Registers with a seed VM and takes its member list. */
  async join(seed: { host: string; port: number }): Promise<void> {
    const peer = await this.options.peers.dialAddress(seed);
    const args: JoinArgs = { info: this.options.self() };
    const result = await this.options.peers.request<MembersResult>(peer.nodeId, 'join', args, 10_000);
    // The seed spreads the news of this VM; what the seed knows is no news to the others.
    this.apply(result?.members, undefined);
    this.connectNeighbours();
  }

  /**
   * Another VM joins through us: add it, spread it, answer with everyone. The joiner's own idea
   * of its host wins, unless it is of no use to others (a wildcard or loopback address while we
   * saw it come from elsewhere).
   */
  onJoin(info: VMInfo, observedHost: string | undefined): MembersResult {
    const useless = info.host === '0.0.0.0' || info.host === '::' || isLoopbackHost(info.host);
    const entry = observedHost && useless && !isLoopbackHost(observedHost) ? { ...info, host: observedHost } : info;
    this.tombstones.delete(entry.id);
    const delta = this.apply([entry], undefined);
    this.spread(delta, entry.id);
    this.connectNeighbours();
    return { members: this.list() };
  }

  /** NOTICE members: news from a neighbour (or, from an older VM, its whole list). */
  onNotice(from: string, notice: MembersNotice | undefined): void {
    const back = this.revive(notice?.back);
    const delta = this.apply(notice?.members, notice?.dead);
    this.spread({ members: [...back.members, ...delta.members], dead: delta.dead, back: back.members }, from);
  }

  /** REQUEST members (an initiator asks, with nothing): merged if it carries a list. */
  onMembers(from: string, members: VMInfo[] | undefined): MembersResult {
    if (members !== undefined) this.spread(this.apply(members, undefined), from);
    return { members: this.list() };
  }

  /** REQUEST gossip: our digest, and our whole list when it differs from the asker's. */
  onGossip(from: string, args: GossipArgs | undefined): GossipResult {
    if (args && (args.members !== undefined || args.dead !== undefined)) this.spread(this.apply(args.members, args.dead), from);
    const digest = this.view().digest;
    if (args && args.digest === digest) return { digest };
    return { digest, members: this.list(), dead: this.deadIds() };
  }

  /**
   * A peer is lost. A member that said goodbye is dead; one whose connection failed otherwise
   * (missed heartbeats, a handshake that did not finish in time) may only be slow — a busy
   * machine — so its address is checked first: nothing listening there (refused, unreachable,
   * no TCP answer) means dead, and everyone should know; a listening process stays a member.
   */
  onLost(nodeId: string, graceful = false): void {
    const info = this.members.get(nodeId);
    if (!info || this.probing.has(nodeId) || (this.kept.get(nodeId) ?? 0) > Date.now()) return;
    if (graceful) {
      this.declareDead(nodeId, 'stopped');
      return;
    }
    this.probing.add(nodeId);
    void (this.options.probe ?? probeListening)({ host: info.host, port: info.port }).then((listening) => {
      this.probing.delete(nodeId);
      if (!this.members.has(nodeId)) return;
      if (listening) {
        // Checked again (when lost again) after a while, not every round.
        this.kept.set(nodeId, Date.now() + (this.options.tombstoneMs ?? 30_000));
        this.options.log(`member ${nodeId} (${info.host}:${info.port}) lost its connection but still listens: kept`);
      } else this.declareDead(nodeId, 'gone');
    });
  }

  /**
   * A member lost earlier is back (stalled or cut off, not dead: it answered on a new connection,
   * see PeerReturns): a member again, and the others are told — as `back`, which clears the
   * tombstone they hold for it (a node id names one process, and this one lives).
   */
  returned(info: VMInfo): void {
    if (!isVMInfo(info) || info.id === this.options.self().id) return;
    const delta = this.revive([info]);
    if (delta.members.length === 0) return;
    this.options.log(`member ${info.id} is back; ${this.members.size + 1} in the cluster`);
    this.spread(delta, undefined);
  }

  /** Members known to be alive again: tombstones cleared, added if missing. */
  private revive(list: VMInfo[] | undefined): Delta {
    const back: VMInfo[] = [];
    for (const info of Array.isArray(list) ? list : []) {
      if (!isVMInfo(info) || !this.tombstones.delete(info.id)) continue;
      back.push(info);
    }
    const delta = this.apply(back, undefined);
    return { ...delta, back: delta.members };
  }

  private declareDead(nodeId: string, why: string): void {
    const delta = this.apply(undefined, [nodeId]);
    this.options.log(`member ${nodeId} ${why}; ${this.members.size + 1} in the cluster`);
    this.spread(delta, undefined);
  }

  // ---------------------------------------------------------------------------------------------

  /** Merges members and deaths; returns what was new. */
  private apply(list: VMInfo[] | undefined, dead: string[] | undefined): Delta {
    const delta: Delta = { members: [], dead: [] };
    const selfId = this.options.self().id;
    const now = Date.now();
    if (Array.isArray(dead)) {
      for (const id of dead) {
        if (typeof id !== 'string' || id === selfId || id.length > 128) continue;
        const known = this.tombstones.get(id);
        if (known !== undefined && known > now) continue;
        this.tombstones.set(id, now + (this.options.tombstoneMs ?? 30_000));
        this.members.delete(id);
        this.idle.delete(id);
        this.kept.delete(id);
        delta.dead.push(id);
      }
    }
    if (Array.isArray(list)) {
      for (const info of list) {
        if (!isVMInfo(info) || info.id === selfId || this.members.has(info.id)) continue;
        const tomb = this.tombstones.get(info.id);
        if (tomb !== undefined && tomb > now) continue;
        this.members.set(info.id, info);
        this.options.peers.learn(info.id, { host: info.host, port: info.port }, info);
        delta.members.push(info);
      }
    }
    if (delta.members.length || delta.dead.length) this.cache = undefined;
    return delta;
  }

  /** Sends what was new to every neighbour but the one it came from. */
  private spread(delta: Delta, except: string | undefined): void {
    if (delta.members.length === 0 && delta.dead.length === 0) return;
    const notice: MembersNotice = { members: delta.members.filter((m) => !delta.back?.includes(m)) };
    if (delta.dead.length) notice.dead = delta.dead;
    if (delta.back?.length) notice.back = delta.back;
    for (const id of this.view().all) {
      if (id !== except) this.options.peers.notice(id, 'members', notice);
    }
  }

  /** Digest and neighbours of the current list (recomputed after a change). */
  private view(): { digest: string; out: string[]; all: Set<string> } {
    if (this.cache) return this.cache;
    const selfId = this.options.self().id;
    const ring = [selfId, ...this.members.keys()].sort();
    const at = ring.indexOf(selfId);
    const n = ring.length;
    const out = new Set<string>();
    const all = new Set<string>();
    for (const d of NEIGHBOUR_OFFSETS) {
      if (d >= n) break;
      out.add(ring[(at + d) % n]!);
      all.add(ring[(at + d) % n]!);
      all.add(ring[(at - d + n) % n]!);
    }
    const digest = createHash('sha256').update(ring.join('\n')).digest('base64url').slice(0, 16);
    this.cache = { digest, out: [...out], all };
    return this.cache;
  }

  private deadIds(): string[] {
    const now = Date.now();
    return [...this.tombstones].filter(([, until]) => until > now).map(([id]) => id);
  }

  /** Dials the out-neighbours not connected yet: their heartbeats watch them from now on. */
  private connectNeighbours(): void {
    const peers = this.options.peers;
    for (const id of this.view().out) {
      const info = this.members.get(id);
      // (A peer table forgets a lost peer after a while; a member it lost and forgot is relearned.)
      const peer = peers.get(id) ?? (info ? peers.learn(id, { host: info.host, port: info.port }, info) : undefined);
      if (peer?.state.kind === 'idle') peers.ensure(id).catch(() => undefined);
      // A neighbour lost before we learned it was a member (or again, from a stale list).
      else if (peer?.state.kind === 'lost') this.onLost(id);
    }
  }

  /** Once per interval: forget old deaths, compare digests with one neighbour, keep connections bounded. */
  private round(): void {
    const now = Date.now();
    for (const [id, until] of this.tombstones) if (until <= now) this.tombstones.delete(id);
    for (const [id, until] of this.kept) if (until <= now) this.kept.delete(id);
    this.connectNeighbours();
    const { all } = this.view();
    const neighbours = [...all];
    if (neighbours.length > 0) {
      const id = neighbours[Math.floor(Math.random() * neighbours.length)]!;
      const mine = this.view().digest;
      this.options.peers.request<GossipResult>(id, 'gossip', { digest: mine } satisfies GossipArgs, this.options.gossipIntervalMs * 2).then(
        (r) => {
          if (!r || typeof r.digest !== 'string') return;
          if (r.members !== undefined || r.dead !== undefined) this.spread(this.apply(r.members, r.dead), id);
          // It lacks something we know: push our whole list (it merges and spreads what is new).
          if (r.digest !== this.view().digest) this.options.peers.notice(id, 'members', { members: this.list(), dead: this.deadIds() });
        },
        () => undefined,
      );
    }
    this.closeIdle(all);
  }

  /** Closes connections to VMs that are not neighbours and that nothing else uses. */
  private closeIdle(neighbours: Set<string>): void {
    for (const peer of this.options.peers.connected()) {
      const id = peer.nodeId;
      if (peer.role !== 'vm' || neighbours.has(id) || peer.requests.size > 0 || this.options.inUse?.(id)) {
        this.idle.delete(id);
        continue;
      }
      const rounds = (this.idle.get(id) ?? 0) + 1;
      if (rounds < IDLE_ROUNDS) {
        this.idle.set(id, rounds);
        continue;
      }
      this.idle.delete(id);
      this.options.peers.retire(id);
    }
  }
}

/**
 * Whether a process listens at `address`: a bare TCP connect (no handshake), closed at once. The
 * kernel accepts for a process however busy it is; refused, unreachable or no answer within
 * `timeoutMs` means nothing is there.
 */
export function probeListening(address: { host: string; port: number }, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address.host, port: address.port });
    const done = (listening: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(listening);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
