/**
 * Cluster membership for VMs: who is in the cluster, learned from `join` and from periodic
 * exchange of member lists (push–pull), so one seed address is enough to find everyone. Members
 * whose connection is lost are dropped and remembered as dead for a while, so a stale list from
 * another member cannot bring them back.
 */
import type { PeerTable } from '../net/peers';
import type { JoinArgs, MembersResult } from '../protocol';
import { isVMInfo, type VMInfo } from '../vm-info';

export interface MembershipOptions {
  self(): VMInfo;
  peers: PeerTable;
  gossipIntervalMs: number;
  /** How long a dead member stays dead (ignored in others' lists). */
  tombstoneMs?: number;
  log(line: string): void;
}

export class Membership {
  private readonly members = new Map<string, VMInfo>();
  private readonly tombstones = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: MembershipOptions) {}

  /** This VM and every member it knows. */
  list(): VMInfo[] {
    return [this.options.self(), ...this.members.values()];
  }

  has(id: string): boolean {
    return this.members.has(id);
  }

  start(): void {
    this.timer = setInterval(() => this.gossip(), this.options.gossipIntervalMs);
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
    this.merge(result.members);
  }

  /** Another VM joins through us: add it, tell the others, answer with everyone. */
  onJoin(info: VMInfo, observedHost: string | undefined): MembersResult {
    const entry = observedHost ? { ...info, host: observedHost } : info;
    this.tombstones.delete(entry.id);
    this.add(entry);
    this.pushToMembers(entry.id);
    return { members: this.list() };
  }

  /** A member list from someone else. */
  merge(list: VMInfo[] | undefined): void {
    if (!Array.isArray(list)) return;
    const selfId = this.options.self().id;
    const now = Date.now();
    let changed = false;
    for (const info of list) {
      if (!isVMInfo(info) || info.id === selfId) continue;
      const dead = this.tombstones.get(info.id);
      if (dead !== undefined && dead > now) continue;
      if (!this.members.has(info.id)) {
        this.add(info);
        changed = true;
      }
    }
    if (changed) this.pushToMembers();
  }

  /** A peer is lost: if it was a member, it is dead. */
  onLost(nodeId: string): void {
    if (!this.members.delete(nodeId)) return;
    this.tombstones.set(nodeId, Date.now() + (this.options.tombstoneMs ?? 30_000));
    this.options.log(`member ${nodeId} lost; ${this.members.size + 1} in the cluster`);
  }

  /**
   * A member lost earlier is back (stalled or cut off, not dead: it answered on a new
   * connection): it is a member again, and the others are told.
   */
  returned(info: VMInfo): void {
    if (!this.tombstones.delete(info.id) || this.members.has(info.id)) return;
    this.add(info);
    this.options.log(`member ${info.id} is back; ${this.members.size + 1} in the cluster`);
    this.pushToMembers(info.id);
  }

  private add(info: VMInfo): void {
    this.members.set(info.id, info);
    this.options.peers.learn(info.id, { host: info.host, port: info.port }, info);
  }

  private pushToMembers(except?: string): void {
    const members = this.list();
    for (const id of this.members.keys()) {
      if (id === except) continue;
      const peer = this.options.peers.get(id);
      if (peer?.state.kind === 'connected') this.options.peers.notice(id, 'members', { members });
    }
  }

  /** Push–pull with every member; a member that cannot be reached is lost (and dropped). */
  private gossip(): void {
    const members = this.list();
    for (const id of [...this.members.keys()]) {
      this.options.peers.request<MembersResult>(id, 'members', { members }, this.options.gossipIntervalMs * 2).then(
        (r) => this.merge(r.members),
        () => undefined,
      );
    }
  }
}
