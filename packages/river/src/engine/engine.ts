/**
 * The engine: the same code on a VM's main thread and in an initiator's engine worker. It owns
 * the TCP server, the peer table (connections, handshakes, heartbeats), the router, the VR host
 * (VMs only), membership (VMs only) and discovery, and serves the ports of its local VRs.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { availableParallelism, hostname, networkInterfaces } from 'node:os';

import { encode } from '@river/sfm';

import { ConfigError } from '../errors/config-error';
import { validateKey } from '../auth/keyfile';
import { DeployError } from '../errors/deploy-error';
import { HandshakeError } from '../errors/handshake-error';
import { NotParentError } from '../errors/not-parent-error';
import { PeerLostError } from '../errors/peer-lost-error';
import { ProtocolError } from '../errors/protocol-error';
import { RiverError } from '../errors/river-error';
import { StoppedError } from '../errors/stopped-error';
import { UnknownVRError } from '../errors/unknown-vr-error';
import { VRExitedError } from '../errors/vr-exited-error';
import { VRLostError } from '../errors/vr-lost-error';
import { fromWireError, toWireError, type WireError } from '../errors/wire';
import { LocalVMs } from '../discovery/local';
import { classifyFailure, type DiscoveryFailure, type DiscoveryReport } from '../discovery/failures';
import { browse, watch as mdnsWatch } from '../discovery/mdns';
import { DnsResolver, dnsServerFrom, specText } from '../discovery/dns';
import { mdnsEnabled, mdnsInterface, peerSpecsFrom } from '../discovery/sources';
import { askPeers } from '../discovery/static-peers';
import { VRHost, type VREnd } from '../host/vr-host';
import { unpackEntries } from '../port-batch';
import { PeerTable, addressKey, type Peer, type PeerAddress } from '../net/peers';
import {
  FrameKind,
  ROUTE_EXIT,
  ROUTE_SYSTEM,
  ToEngineKind,
  ToVRKind,
  type ControlOp,
  type DeployArgs,
  type DeployResult,
  type Frame,
  type GossipArgs,
  type JoinArgs,
  type LocateResult,
  type MembersNotice,
  type MembersResult,
  type NodeRole,
  type PortDeployArgs,
  type PortOp,
  type PortTerminateArgs,
  type TerminateArgs,
  type ToEngine,
  type UUID,
  type VRExitNotice,
} from '../protocol';
import type { DiscoverOptions, WatchVMsOptions } from '../vr/virtual-resource';
import { isVMInfo, type VMInfo } from '../vm-info';
import { LocalVR, type PortLike } from './local-vr';
import type { EngineObserver } from './observer';
import { Membership } from './membership';
import { PeerReturns } from './peer-returns';
import { RemoteChildren } from './remote-children';
import { Router, type LocateOutcome } from './router';

export const ENGINE_VERSION = '0.1.0';

/**
 * How many mDNS announcements one discovery checks (dials) at most: a flood of fake ones costs a
 * bounded number of connection attempts, each bounded in time; the rest are ignored (logged).
 */
export const MAX_ANNOUNCEMENTS_PER_DISCOVERY = 256;

/** How long watchVMs waits for an announced VM's handshake (and remembers that it failed). */
const WATCH_CHECK_TIMEOUT_MS = 10_000;

/** Room for a ROUTE frame's own bytes (kind, two UUIDs, headers) besides the message body. */
const ROUTE_OVERHEAD_BYTES = 1024;

/** Every tunable of an engine, with {@link ENGINE_DEFAULTS} for the ones left out. */
export interface EngineOptions {
  role: NodeRole;
  /** Listen address; default 127.0.0.1 without a key, 0.0.0.0 with one. */
  host?: string;
  /** 0 = any free port. */
  port?: number;
  key?: string;
  name?: string;
  slots?: number;
  /** Name → absolute module path of a VR class this VM can start by name. */
  extensions?: Record<string, string>;
  peerTimeoutMs?: number;
  pingIntervalMs?: number;
  handshakeTimeoutMs?: number;
  maxFrameBytes?: number;
  /** Bytes that may wait for a peer that does not read before it is cut off (default maxFrameBytes + 256 MiB). */
  maxUnsentBytes?: number;
  gossipIntervalMs?: number;
  /**
   * How long VRs get to finish after being told to stop (default 1000 ms; `river vm` and
   * `trickle vm` default to 30 s, see `--stop-grace`). The rest are then terminated.
   */
  stopGraceMs?: number;
  /** Heap limit (MB) of every VR worker this VM starts; a deploy asking for more (or nothing) gets this. */
  maxVRHeapMb?: number;
  /** Defaults for `discover` (e.g. the initiator's `peers`, `mdns`, `localCommand`). */
  discovery?: DiscoverOptions;
  /** Told about VRs and requests (the VM's metrics). */
  observer?: EngineObserver;
  log?: (line: string) => void;
}

export const ENGINE_DEFAULTS: {
  port: number;
  peerTimeoutMs: number;
  pingIntervalMs: number;
  handshakeTimeoutMs: number;
  maxFrameBytes: number;
  gossipIntervalMs: number;
  stopGraceMs: number;
} = {
  port: 0,
  peerTimeoutMs: 5000,
  pingIntervalMs: 1000,
  handshakeTimeoutMs: 5000,
  maxFrameBytes: 1024 * 1024 * 1024,
  gossipIntervalMs: 2000,
  stopGraceMs: 1000,
};

export type EngineState =
  | { kind: 'new' }
  | { kind: 'starting' }
  | { kind: 'running'; server: Server; address: PeerAddress }
  | { kind: 'stopping' }
  | { kind: 'stopped' };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

interface VMWatch {
  id: number;
  vr: LocalVR;
  known: Map<string, VMInfo>;
  /** A VM lost earlier is back: reported `up` again if a source of this watch still lists it. */
  back: (info: VMInfo) => void;
  /** Stops its poll timer and its mDNS watcher. */
  stop: () => void;
}

export class Engine {
  readonly nodeId = randomUUID();
  state: EngineState = { kind: 'new' };
  readonly peers: PeerTable;
  readonly router: Router;
  private readonly host: VRHost | undefined;
  private readonly membership: Membership | undefined;
  /** Peers that come back after being lost (a stall, a partition). */
  private readonly returns: PeerReturns;
  private readonly localVMs = new LocalVMs();
  /** Children that local VRs deployed on other processes (told to their parent if lost). */
  private readonly children = new RemoteChildren();
  private readonly vmWatches = new Map<number, VMWatch>();
  private nextWatch = 1;
  /** The stop in progress (or done). */
  private stopping: Promise<void> | undefined;
  /** Aborted by `stopNow()`: the stop grace ends at once. */
  private readonly hurry = new AbortController();
  private readonly o: EngineOptions & typeof ENGINE_DEFAULTS & { slots: number; name: string | undefined; host: string };
  private readonly log: (line: string) => void;

  constructor(options: EngineOptions) {
    const key = options.key === '' ? undefined : options.key;
    if (key !== undefined) validateKey(key, 'key'); // a short or predictable key is refused here too, not only from files
    const host = options.host ?? (key ? '0.0.0.0' : '127.0.0.1');
    if (!key && !isLoopback(host)) {
      throw new ConfigError({
        message: `refusing to listen on ${host} without a cluster key: set a key (RIVER_KEY, --key-file) or listen on loopback only`,
      });
    }
    this.o = {
      ...ENGINE_DEFAULTS,
      ...stripUndefined(options),
      key,
      host,
      slots: options.slots ?? defaultSlots(),
      name: options.name,
    };
    this.log = options.log ?? (() => undefined);
    this.peers = new PeerTable(
      {
        nodeId: this.nodeId,
        role: options.role,
        key,
        maxFrameBytes: this.o.maxFrameBytes,
        maxUnsentBytes: this.o.maxUnsentBytes,
        pingIntervalMs: this.o.pingIntervalMs,
        peerTimeoutMs: this.o.peerTimeoutMs,
        handshakeTimeoutMs: this.o.handshakeTimeoutMs,
        hello: () => ({ listenPort: this.address?.port ?? null, info: options.role === 'vm' ? this.infoOrNull() : null }),
      },
      {
        frame: (peer, frame) => this.onFrame(peer, frame),
        request: (peer, op, args) => this.observeRequest(op, this.onRequest(peer, op, args)),
        connected: (peer) => this.returns.connected(peer),
        lost: (peer, error, queued, graceful) => {
          if (!graceful) this.log(`peer ${peer.nodeId} lost: ${error.message}`);
          const member = this.membership?.has(peer.nodeId) ?? false;
          this.onPeerLost(peer, error, queued, graceful);
          this.returns.lost(peer, error, member, graceful);
        },
        log: (line) => this.log(line),
      },
    );
    this.router = new Router(
      this.nodeId,
      this.peers,
      {
        locate: (uuid) => this.locate(uuid),
        gone: (uuid, error) => this.onVRGone(uuid, error),
      },
      this.o.maxFrameBytes - ROUTE_OVERHEAD_BYTES,
    );
    this.returns = new PeerReturns(this.peers, (nodeId) => this.router.wasLost(nodeId), {
      wanted: (vm) => vm.member || this.vmWatches.size > 0,
      lose: (peer, error) => this.onPeerLost(peer, error, []),
      back: (peer) => this.onPeerBack(peer),
      log: (line) => this.log(line),
    });
    if (options.role === 'vm') {
      this.host = new VRHost(
        this.nodeId,
        options.extensions ?? {},
        {
          added: (vr) => this.router.addLocal(vr),
          ended: (vr, end) => this.onLocalEnded(vr, end),
        },
        { maxHeapMb: options.maxVRHeapMb },
      );
      this.membership = new Membership({
        self: () => this.info,
        peers: this.peers,
        gossipIntervalMs: this.o.gossipIntervalMs,
        inUse: (nodeId) => this.hostsVRsFor(nodeId),
        log: (line) => this.log(line),
      });
    }
  }

  get role(): NodeRole {
    return this.o.role;
  }

  get keyed(): boolean {
    return this.o.key !== undefined;
  }

  get address(): PeerAddress | undefined {
    return this.state.kind === 'running' ? this.state.address : undefined;
  }

  /** This node as discovery reports it. */
  get info(): VMInfo {
    const address = this.address;
    if (!address) throw new StoppedError({ message: 'the engine is not running' });
    return {
      id: this.nodeId,
      name: this.o.name ?? `${hostname()}:${address.port}`,
      host: address.host,
      port: address.port,
      slots: this.o.slots,
      version: ENGINE_VERSION,
    };
  }

  private infoOrNull(): VMInfo | null {
    return this.address ? this.info : null;
  }

  async start(): Promise<void> {
    if (this.state.kind !== 'new') throw new RiverError('RIVER_INVALID_STATE', { message: `engine already ${this.state.kind}` });
    this.state = { kind: 'starting' };
    const server = createServer({ noDelay: true });
    this.peers.attachServer(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.o.host, port: this.o.port }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      this.state = { kind: 'stopped' };
      throw new ConfigError({ message: `cannot listen on ${this.o.host}:${this.o.port}: ${(error as Error).message}`, cause: error });
    });
    server.on('error', (err) => this.log(`server error: ${err.message}`));
    const bound = server.address() as AddressInfo;
    this.state = { kind: 'running', server, address: { host: advertisedHost(this.o.host), port: bound.port } };
    this.membership?.start();
  }

  /** Every member this VM knows, itself included (empty on an initiator). */
  members(): VMInfo[] {
    return this.membership ? this.membership.list() : [];
  }

  /** Registers with a seed VM (VMs only). */
  async join(seed: PeerAddress): Promise<void> {
    if (!this.membership) throw new ConfigError({ message: 'only a VM can join a cluster' });
    await this.membership.join(seed);
  }

  /**
   * Graceful stop: stop accepting (connections, deploys), tell every VR (a `river:stop` message,
   * and its `stopping` flag), give them `stopGraceMs` to end, terminate the rest, tell peers which
   * VRs are gone, say goodbye, stop local VMs. Calling it again returns the same promise.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  /** `stop()` without the grace (also cuts short one in progress): VRs still running are terminated now. */
  stopNow(): Promise<void> {
    this.hurry.abort();
    return this.stop();
  }

  private async stopOnce(): Promise<void> {
    const s = this.state;
    if (s.kind === 'stopping' || s.kind === 'stopped') return;
    this.state = { kind: 'stopping' };
    if (s.kind === 'running') s.server.close();
    // VRs first: a VR busy with a call sees `stopping` at once and takes nothing new.
    this.host?.askToStop();
    for (const w of this.vmWatches.values()) w.stop();
    this.vmWatches.clear();
    this.membership?.stop();
    this.returns.stop();
    await this.host?.close();
    if (this.host && this.host.size > 0) {
      await this.host.drain(this.o.stopGraceMs, this.hurry.signal);
      for (const vr of this.host.all()) void this.host.terminate(vr.uuid, new StoppedError({ message: 'the VM stopped' }));
      await this.host.drain(2000);
    }
    // Local VRs that are not workers (an initiator's VR) are gone with the engine.
    const error = toWireError(new VRExitedError({ message: `VR's engine ${this.nodeId} stopped` }));
    const uuids = [...this.router.locals.keys()];
    for (const uuid of uuids) this.router.locals.delete(uuid);
    if (uuids.length) this.broadcastExit(uuids, error);
    await new Promise((r) => setImmediate(r));
    this.peers.stop();
    await this.localVMs.stop();
    this.state = { kind: 'stopped' };
  }

  /** Connects a VR living outside any worker this engine started (the initiator's VR). */
  attachVR(uuid: UUID, port: PortLike): LocalVR {
    const vr = new LocalVR(uuid, null, 'detached', port, undefined);
    vr.state = { kind: 'running' };
    this.router.addLocal(vr);
    vr.listen((items) => this.onPortItems(vr, items));
    return vr;
  }

  // ------------------------------------------------------------------ local VR ports

  private onPortItems(vr: LocalVR, items: ToEngine[]): void {
    for (const item of items) {
      switch (item[0]) {
        case ToEngineKind.SEND:
          this.router.route(vr.uuid, item[1], item[2], item[3] ?? 0);
          break;
        case ToEngineKind.PACKED:
          unpackEntries(item[1], (dest, body, flags) => this.router.route(vr.uuid, dest, body, flags));
          break;
        case ToEngineKind.REQUEST: {
          const [, id, op, args] = item;
          this.onPortRequest(vr, op, args).then(
            (value) => vr.post([ToVRKind.RESPONSE, id, true, value]),
            (error) => vr.post([ToVRKind.RESPONSE, id, false, toWireError(error)]),
          );
          break;
        }
        case ToEngineKind.WATCH:
          this.router.watch(vr, item[1]);
          break;
        case ToEngineKind.EXIT:
          this.host?.reported(vr.uuid);
          break;
        case ToEngineKind.STARTED:
          break;
        case ToEngineKind.USAGE:
          this.o.observer?.vrUsage(vr.uuid, item[1]);
          break;
      }
    }
  }

  private async onPortRequest(vr: LocalVR, op: PortOp, args: unknown): Promise<unknown> {
    switch (op) {
      case 'deploy':
        return this.deployFrom(vr, args as PortDeployArgs);
      case 'discover':
        return this.discover((args ?? {}) as DiscoverOptions);
      case 'watch-vms':
        return this.watchVMs(vr, (args ?? {}) as WatchVMsOptions);
      case 'unwatch-vms': {
        const w = this.vmWatches.get(args as number);
        this.vmWatches.delete(args as number);
        w?.stop();
        return null;
      }
      case 'info':
        return this.info;
      case 'terminate':
        return this.terminateFrom(vr, args as PortTerminateArgs);
      default:
        throw new RiverError('RIVER_UNKNOWN_OP', { message: `unknown engine request ${String(op)}` });
    }
  }

  private async deployFrom(vr: LocalVR, args: PortDeployArgs): Promise<UUID> {
    if (this.state.kind !== 'running') throw new StoppedError({ message: 'the engine is stopping' });
    const request: DeployArgs = {
      source: args.source,
      imports: args.imports,
      position: args.position,
      extension: args.extension,
      args: args.args,
      parent: vr.uuid,
      lifetime: args.lifetime,
      resourceLimits: args.resourceLimits,
    };
    const vm = args.vm;
    if (vm.id === this.nodeId) return this.deployHere(request);
    this.peers.learn(vm.id, { host: vm.host, port: vm.port }, vm);
    try {
      await this.peers.ensure(vm.id);
    } catch (error) {
      throw new DeployError({ message: `cannot reach VM ${vm.name} (${vm.host}:${vm.port}): ${(error as Error).message}`, cause: error });
    }
    const result = await this.peers.request<DeployResult>(vm.id, 'deploy', request, 60_000);
    this.router.locations.set(result.uuid, vm.id);
    this.children.add(result.uuid, vr.uuid, vm.id);
    return result.uuid;
  }

  /** `vr.terminate(uuid)`: here, or asks the node that hosts `uuid`. Resolves once its worker is gone. */
  private async terminateFrom(vr: LocalVR, args: PortTerminateArgs): Promise<null> {
    const uuid = args?.uuid;
    if (typeof uuid !== 'string') throw new UnknownVRError({ message: 'terminate: no VR named' });
    const reason = typeof args.reason === 'string' ? args.reason : undefined;
    if (this.router.locals.has(uuid)) return this.terminateHere({ uuid, parent: vr.uuid, reason });
    if (this.router.goneError(uuid)) return null; // already gone: nothing to do
    const node = this.router.locations.get(uuid);
    if (node === undefined) throw new UnknownVRError({ message: `terminate: no VR ${uuid} is known here` });
    await this.peers.request(node, 'terminate', { uuid, parent: vr.uuid, reason } satisfies TerminateArgs, 10_000);
    return null;
  }

  /** Terminates local VR `uuid` for its parent `parent` (anyone else is refused). */
  private async terminateHere(args: TerminateArgs): Promise<null> {
    const child = this.host?.get(args.uuid);
    if (!child || child.state.kind === 'exited') return null; // already gone
    if (child.parent !== args.parent) {
      throw new NotParentError({ message: `VR ${args.parent} may not terminate VR ${args.uuid}: only its parent may` });
    }
    const why = `terminated by its parent${args.reason ? `: ${args.reason}` : ''}`;
    this.log(`VR ${args.uuid} ${why}`);
    await this.host!.terminate(args.uuid, new VRExitedError({ message: why }));
    return null;
  }

  private deployHere(request: DeployArgs): Promise<UUID> {
    if (!this.host) return Promise.reject(new DeployError({ message: 'this process is an initiator, not a VM: it hosts no VRs' }));
    if (this.state.kind !== 'running') return Promise.reject(new StoppedError({ message: 'the VM is stopping' }));
    const deployed = this.host.deploy(request, (vr, items) => this.onPortItems(vr, items as ToEngine[]));
    const observer = this.o.observer;
    if (observer) void deployed.then((uuid) => observer.vrStarted(uuid, request.extension ?? 'class'), () => undefined);
    return deployed;
  }

  /** Tells the observer how a peer's request ended; returns the same promise. */
  private observeRequest(op: ControlOp, answer: Promise<unknown>): Promise<unknown> {
    const observer = this.o.observer;
    if (observer) answer.then(() => observer.request(op, undefined), (error) => observer.request(op, (error as { code?: string })?.code ?? 'ERROR'));
    return answer;
  }

  /** Whether VRs this engine knows of live on that node (so its connection is in use). */
  private hostsVRsFor(nodeId: string): boolean {
    for (const node of this.router.locations.values()) if (node === nodeId) return true;
    return false;
  }

  /** Counts for metrics: VRs hosted, connected peers by role, known cluster members. */
  stats(): { vrs: number; connections: { vm: number; initiator: number }; members: number } {
    const connections = { vm: 0, initiator: 0 };
    for (const p of this.peers.connected()) connections[p.role === 'initiator' ? 'initiator' : 'vm']++;
    return { vrs: this.host?.size ?? 0, connections, members: this.membership ? this.membership.list().length : 0 };
  }

  /** A local VR's worker is gone. */
  private onLocalEnded(vr: LocalVR, end: VREnd): void {
    this.router.locals.delete(vr.uuid);
    this.router.unwatchAll(vr);
    this.o.observer?.vrEnded(vr.uuid, end.kind);
    this.children.parentEnded(vr.uuid);
    if (end.kind === 'failed') return; // deploy failed: nobody knows this UUID
    if (end.kind === 'crashed') this.log(`VR ${vr.uuid} died: ${end.error.message}`);
    if (end.kind !== 'returned' && vr.parent) {
      // It did not report (crashed, or we stopped it): tell the parent ourselves.
      let body: Uint8Array;
      try {
        body = encode({ tag: 'river:exit', uuid: vr.uuid, error: end.error });
      } catch {
        body = encode({ tag: 'river:exit', uuid: vr.uuid, error: new Error(end.error.message) });
      }
      this.router.route(vr.uuid, vr.parent, body, ROUTE_SYSTEM | ROUTE_EXIT);
    }
    const wire = toWireError(
      end.kind === 'crashed'
        ? new VRLostError({ message: `VR ${vr.uuid} died: ${end.error.message}`, cause: end.error })
        : new VRExitedError({ message: `VR ${vr.uuid} has exited${end.kind === 'stopped' ? ` (${end.error.message})` : ''}` }),
    );
    this.router.markGone(vr.uuid, wire);
    this.broadcastExit([vr.uuid], wire);
  }

  private broadcastExit(uuids: UUID[], error: WireError): void {
    const notice: VRExitNotice = { uuids, error };
    for (const peer of this.peers.connected()) this.peers.notice(peer.nodeId, 'vr-exit', notice);
  }

  /** A VR somewhere is gone: stop local VRs whose lifetime is tied to it. */
  private onVRGone(uuid: UUID, error: WireError): void {
    if (!this.host) return;
    for (const vr of this.host.all()) {
      if (vr.parent === uuid && vr.lifetime === 'parent' && vr.state.kind !== 'exited') {
        void this.host.terminate(vr.uuid, new VRExitedError({ message: `stopped because its parent ${uuid} is gone`, cause: fromWireError(error) }));
      }
    }
  }

  // ------------------------------------------------------------------ peers

  private onFrame(peer: Peer, frame: Frame): void {
    switch (frame[0]) {
      case FrameKind.ROUTE: {
        const src = frame[2];
        const flags = frame[4] ?? 0;
        // A child reported lost stays dead here (see RemoteChildren): what it still sends, and its
        // own late river:exit, are stale. A bounce of a message sent to it still comes back.
        if (this.children.isLost(src) && (flags & (ROUTE_SYSTEM | ROUTE_EXIT)) !== ROUTE_SYSTEM) return;
        if (flags & ROUTE_EXIT) this.children.exited(src);
        this.router.fromWire(peer.nodeId, frame);
        return;
      }
      case FrameKind.NOTICE: {
        const [, op, args] = frame;
        if (op === 'vr-exit') {
          const n = args as VRExitNotice;
          if (!n || !Array.isArray(n.uuids)) return;
          for (const uuid of n.uuids) {
            if (typeof uuid !== 'string' || this.router.locals.has(uuid)) continue;
            const at = this.router.locations.get(uuid);
            if (at === undefined || at === peer.nodeId) this.router.markGone(uuid, n.error);
          }
        } else if (op === 'members') {
          this.membership?.onNotice(peer.nodeId, args as MembersNotice | undefined);
        } else if (op === 'reset') {
          this.returns.onReset(peer, args);
        }
        return;
      }
      default:
        return;
    }
  }

  private async onRequest(peer: Peer, op: ControlOp, args: unknown): Promise<unknown> {
    switch (op) {
      case 'deploy': {
        const a = args as DeployArgs;
        if (!a || typeof a.parent !== 'string' || !(a.args instanceof Uint8Array)) throw new DeployError({ message: 'malformed deploy request' });
        if (!this.router.locals.has(a.parent)) this.router.locations.set(a.parent, peer.nodeId);
        const uuid = await this.deployHere({ ...a, lifetime: a.lifetime === 'detached' ? 'detached' : 'parent' });
        return { uuid } satisfies DeployResult;
      }
      case 'locate': {
        const uuid = (args as { uuid?: unknown })?.uuid;
        if (typeof uuid !== 'string') return { state: 'unknown' } satisfies LocateResult;
        const local = this.router.locals.get(uuid);
        if (local && local.state.kind !== 'exited') return { state: 'here' } satisfies LocateResult;
        const gone = this.router.goneError(uuid);
        if (gone) return { state: 'gone', error: gone } satisfies LocateResult;
        const at = this.router.locations.get(uuid);
        const atPeer = at !== undefined && at !== peer.nodeId ? this.peers.get(at) : undefined;
        if (atPeer?.address && atPeer.state.kind !== 'lost') {
          return { state: 'at', nodeId: atPeer.nodeId, host: atPeer.address.host, port: atPeer.address.port } satisfies LocateResult;
        }
        return { state: 'unknown' } satisfies LocateResult;
      }
      case 'terminate': {
        const a = args as TerminateArgs;
        if (!a || typeof a.uuid !== 'string' || typeof a.parent !== 'string') throw new ProtocolError({ message: 'malformed terminate request' });
        // The asker must host the parent: a peer cannot end VRs that another process started.
        if (this.router.locals.has(a.parent) || this.router.locations.get(a.parent) !== peer.nodeId) {
          throw new NotParentError({ message: `node ${peer.nodeId} does not host VR ${a.parent}, so it may not terminate its children` });
        }
        return this.terminateHere({ uuid: a.uuid, parent: a.parent, reason: typeof a.reason === 'string' ? a.reason.slice(0, 500) : undefined });
      }
      case 'members': {
        if (!this.membership) return { members: [] } satisfies MembersResult;
        return this.membership.onMembers(peer.nodeId, (args as MembersNotice | undefined)?.members);
      }
      case 'gossip': {
        if (!this.membership) throw new ConfigError({ message: 'an initiator takes no part in membership' });
        return this.membership.onGossip(peer.nodeId, args as GossipArgs | undefined);
      }
      case 'join': {
        if (!this.membership) throw new ConfigError({ message: 'an initiator has no cluster to join' });
        const info = (args as JoinArgs)?.info;
        if (!isVMInfo(info) || info.id !== peer.nodeId) throw new ConfigError({ message: 'malformed join request' });
        return this.membership.onJoin(info, peer.address?.host);
      }
      default:
        throw new RiverError('RIVER_UNKNOWN_OP', { message: `unknown request ${String(op)}` });
    }
  }

  private onPeerLost(peer: Peer, error: PeerLostError, queued: Frame[], graceful = false): void {
    // Each child lost with that process: its parent gets the river:exit nobody else can send,
    // before the notice that the child is gone (a message from X comes before X's gone notice).
    this.reportLostChildren(peer, error);
    this.router.nodeLost(peer.nodeId, error, queued);
    this.membership?.onLost(peer.nodeId, graceful);
    for (const w of this.vmWatches.values()) {
      const info = w.known.get(peer.nodeId);
      if (info) {
        w.known.delete(peer.nodeId);
        w.vr.post([ToVRKind.VM_EVENT, w.id, 'down', info]);
      }
    }
  }

  /** A peer lost earlier is back (see PeerReturns): its VRs may be reached again; a VM is taken back. */
  private onPeerBack(peer: Peer): void {
    this.router.nodeReturned(peer.nodeId, (uuid) => this.children.isLost(uuid));
    const info = peer.info;
    if (!info) return;
    this.membership?.returned(info);
    for (const w of this.vmWatches.values()) w.back(info);
  }

  /** Sends every local parent a `river:exit` with a VRLostError for each child it had on `peer`'s process. */
  private reportLostChildren(peer: Peer, error: PeerLostError): void {
    const where = peer.info ? `VM ${peer.info.name} (node ${peer.nodeId})` : `node ${peer.nodeId}`;
    for (const { child, parent } of this.children.lostWith(peer.nodeId)) {
      const lost = new VRLostError({ message: `VR ${child} was lost with its process, ${where}: ${error.message}`, cause: error });
      this.router.route(child, parent, encode({ tag: 'river:exit', uuid: child, error: lost }), ROUTE_SYSTEM | ROUTE_EXIT);
    }
  }

  /** Asks every reachable engine where `uuid` lives. */
  private async locate(uuid: UUID): Promise<LocateOutcome> {
    const candidates = this.peers.all().filter((p) => p.state.kind === 'connected' || (p.state.kind === 'idle' && p.address));
    if (candidates.length === 0) return { state: 'unknown' };
    const results = await Promise.allSettled(
      candidates.map((p) => this.peers.request<LocateResult>(p.nodeId, 'locate', { uuid }, 5000).then((r) => ({ r, node: p.nodeId }))),
    );
    let gone: WireError | undefined;
    let elsewhere: LocateOutcome | undefined;
    for (const res of results) {
      if (res.status !== 'fulfilled') continue;
      const { r, node } = res.value;
      if (r.state === 'here') return { state: 'at', nodeId: node };
      if (r.state === 'gone') gone = r.error;
      if (r.state === 'at' && r.nodeId !== this.nodeId && typeof r.host === 'string' && typeof r.port === 'number') {
        // A third engine knows where it lives: learn that node's address, dial it lazily.
        const known = this.peers.get(r.nodeId);
        if (known?.state.kind !== 'lost') {
          this.peers.learn(r.nodeId, { host: r.host, port: r.port });
          elsewhere ??= { state: 'at', nodeId: r.nodeId };
        }
      }
    }
    return elsewhere ?? (gone ? { state: 'gone', error: gone } : { state: 'unknown' });
  }

  // ------------------------------------------------------------------ discovery

  /**
   * Static peers (+ the members each knows), mDNS, local child VMs; deduplicated by id. Listens
   * for up to `timeoutMs`, or until `want` distinct VMs are known (local VMs asked for are always
   * started and counted).
   *
   * Every VM reported is one this engine reached and authenticated: a static peer answered its
   * member list; an mDNS announcement is dialled (handshake, and the node id it announced) before
   * it counts, so an impostor (silent, closing, garbage, wrong key) never reaches the caller. What
   * failed is in `failures`, with a reason; a peer or announcement still unanswered when the
   * window ends is a `timeout` (unless `want` was reached first: then nobody waited for it).
   */
  async discover(options: DiscoverOptions = {}): Promise<DiscoveryReport> {
    const o = { ...this.o.discovery, ...stripUndefined(options) };
    const timeoutMs = o.timeoutMs ?? 2000;
    const want = o.want;
    if (want !== undefined && !(Number.isInteger(want) && want >= 1)) {
      throw new ConfigError({ message: `discover: want must be a positive integer, got ${String(want)}` });
    }
    const found = new Map<string, VMInfo>();
    const failures: DiscoveryFailure[] = [];
    /** Attempts in flight, by `source address id`: what to report if the window ends first. */
    const pending = new Map<string, Omit<DiscoveryFailure, 'reason' | 'message'>>();
    /** Every attempt made: an announcement repeated (or changed) is not dialled twice. */
    const attempted = new Set<string>();
    let ignored = 0;
    // Aborts once `want` VMs are known: the listening (mDNS, silent peers) ends there.
    const enough = new AbortController();
    const add = (list: VMInfo[]) => {
      for (const info of list) if (info && typeof info.id === 'string' && !found.has(info.id)) found.set(info.id, info);
      if (want !== undefined && found.size >= want) enough.abort();
    };
    /** Runs one attempt; its failure (or its silence until the end) is reported as `about`. */
    const attempt = (about: Omit<DiscoveryFailure, 'reason' | 'message'>, run: () => Promise<VMInfo[]>): Promise<void> => {
      const key = `${about.source} ${about.address} ${about.id ?? ''}`;
      if (attempted.has(key)) return Promise.resolve();
      attempted.add(key);
      pending.set(key, about);
      return withTimeout(run(), timeoutMs).then(
        (list) => {
          pending.delete(key);
          add(list);
        },
        (error: unknown) => {
          if (!pending.delete(key)) return;
          failures.push({ ...about, ...classifyFailure(error) });
        },
      );
    };
    if (this.membership) add(this.membership.list());
    const listening: Array<Promise<void>> = [];
    const specs = peerSpecsFrom(o.peers);
    /** DNS names (as given) of which some address answered, and the static addresses that did. */
    const namesAnswered = new Set<string>();
    const answered = new Set<string>();
    if (specs.length > 0) {
      const deadline = Date.now() + timeoutMs;
      listening.push(
        askPeers(specs, {
          resolver: new DnsResolver(dnsServerFrom(o.dnsServer)),
          deadline,
          signal: enough.signal,
          // The first ask of an address is an attempt (a failure is reported); asking again while
          // fewer VMs than wanted are known only adds what it finds.
          query: (address, first, spec) => {
            const ask = () =>
              this.queryMembers(address, true).then((list) => {
                namesAnswered.add(specText(spec));
                answered.add(addressKey(address));
                return list;
              });
            return first
              ? attempt(spec.kind === 'address' ? { source: 'peer', address: addressKey(address) } : { source: 'dns', address: addressKey(address), name: specText(spec) }, ask)
              : withTimeout(ask(), Math.max(1, deadline - Date.now())).then(add, () => undefined);
          },
          unresolved: (spec, error) =>
            failures.push({ source: 'peer', address: specText(spec), ...(error ? classifyFailure(error) : { reason: 'unreachable', message: 'no DNS records' }) }),
        }),
      );
    }
    if (mdnsEnabled(o.mdns, this.keyed)) {
      /** Announcements being checked: each is dialled, so a flood of them is capped. */
      const probes: Array<Promise<void>> = [];
      const probe = (vm: VMInfo) => {
        if (found.has(vm.id) || enough.signal.aborted) return;
        if (probes.length >= MAX_ANNOUNCEMENTS_PER_DISCOVERY) {
          ignored++;
          return;
        }
        const address = { host: vm.host, port: vm.port };
        probes.push(attempt({ source: 'mdns', address: addressKey(address), id: vm.id, name: vm.name }, () => this.verifyAnnounced(vm)));
      };
      listening.push(
        browse({ timeoutMs, interface: mdnsInterface(o.interface), signal: enough.signal, onFound: probe }).then(
          async (list) => {
            for (const vm of list) probe(vm);
            // The window is over for new answers; dials already started get the rest of it.
            await Promise.all(probes);
          },
          (e) => this.log(`discover: mDNS: ${(e as Error).message}`),
        ),
      );
    }
    let starting: Promise<void> = Promise.resolve();
    if (o.local && o.local > 0) {
      starting = (async () => {
        const locals = await this.localVMs.ensure(o.local!, { command: o.localCommand, key: this.o.key, env: o.localEnv });
        const infos = await Promise.all(locals.map((a) => this.queryMembers(a)));
        for (const list of infos) add(list);
      })();
    }
    // Announcements that came late get a short grace for their handshake, then count as timeouts.
    const window = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs + Math.min(500, timeoutMs)).unref());
    await Promise.all([starting, Promise.race([Promise.all(listening), aborted(enough.signal), window])]);
    if (!enough.signal.aborted) {
      for (const about of pending.values()) failures.push({ ...about, reason: 'timeout', message: `no answer within ${timeoutMs} ms` });
    }
    pending.clear();
    // A static address that failed at first and answered when asked again is no failure; a name
    // none of whose addresses answered is a named peer that failed, like an address.
    for (let i = failures.length - 1; i >= 0; i--) {
      const f = failures[i]!;
      if ((f.source === 'peer' || f.source === 'dns') && answered.has(f.address)) failures.splice(i, 1);
      else if (f.source === 'dns' && f.name !== undefined && !namesAnswered.has(f.name)) f.source = 'peer';
    }
    if (ignored > 0) this.log(`discover: mDNS: ${ignored} more announcements ignored (at most ${MAX_ANNOUNCEMENTS_PER_DISCOVERY} are checked per discovery)`);
    return { vms: [...found.values()], failures };
  }

  /**
   * Dials an announced VM and checks it is the node it announced (the handshake authenticates it
   * with the cluster key). Resolves with the announcement when it is.
   */
  private async verifyAnnounced(vm: VMInfo): Promise<VMInfo[]> {
    const peer = await this.peers.dialAddress({ host: vm.host, port: vm.port }, vm.id, true);
    if (peer.nodeId !== vm.id) throw new HandshakeError({ message: `announced as node ${vm.id}, but ${peer.nodeId} answered` });
    return peer.role === 'vm' ? [vm] : [];
  }

  /** Connects to `address` (one attempt when `once`) and asks for its member list (itself included). */
  private async queryMembers(address: PeerAddress, once = false): Promise<VMInfo[]> {
    const peer = await this.peers.dialAddress(address, undefined, once);
    const result = await this.peers.request<MembersResult>(peer.nodeId, 'members', undefined, 10_000);
    const members = Array.isArray(result?.members) ? result.members.filter(isVMInfo) : [];
    for (const m of members) if (m.id !== this.nodeId) this.peers.learn(m.id, { host: m.host, port: m.port }, m);
    return members.filter((m) => m.id !== this.nodeId || this.role === 'vm');
  }

  /**
   * Reports VMs to `vr` as they appear (`up`) and go (`down`). mDNS, when on, is watched as it
   * happens (an announcement is reported at once, a goodbye too); static peers and the
   * membership they report (a VM's own membership too) are polled every `intervalMs`. A VM is
   * down when its connection is lost, or when no source reports it any more (mDNS said goodbye
   * and the last poll did not list it, and it is not connected).
   */
  private async watchVMs(vr: LocalVR, options: WatchVMsOptions): Promise<number> {
    const id = this.nextWatch++;
    const o = { ...this.o.discovery, ...stripUndefined(options) };
    const known = new Map<string, VMInfo>();
    /** VMs mDNS reports now (announced, no goodbye since). */
    const viaMdns = new Set<string>();
    /** VMs the last poll of static peers and membership returned. */
    let polled = new Set<string>();
    const active = () => this.vmWatches.has(id);
    const up = (info: VMInfo) => {
      if (!active() || known.has(info.id)) return;
      known.set(info.id, info);
      vr.post([ToVRKind.VM_EVENT, id, 'up', info]);
    };
    const down = (vmId: string) => {
      const info = known.get(vmId);
      if (!active() || !info) return;
      known.delete(vmId);
      vr.post([ToVRKind.VM_EVENT, id, 'down', info]);
    };
    const stops: Array<() => void> = [];
    const back = (info: VMInfo) => {
      if (viaMdns.has(info.id) || polled.has(info.id)) up(info);
    };
    const watch: VMWatch = { id, vr, known, back, stop: () => stops.forEach((stop) => stop()) };
    this.vmWatches.set(id, watch);

    if (peerSpecsFrom(o.peers).length > 0 || this.membership) {
      const poll = async () => {
        const list = await this.discover({ peers: o.peers, dnsServer: o.dnsServer, mdns: false, timeoutMs: 1000 }).then((report) => report.vms, () => [] as VMInfo[]);
        if (!active()) return;
        polled = new Set(list.map((i) => i.id));
        for (const info of list) up(info);
        for (const vmId of [...known.keys()]) {
          if (!polled.has(vmId) && !viaMdns.has(vmId) && this.peers.get(vmId)?.state.kind !== 'connected') down(vmId);
        }
      };
      const timer = setInterval(() => void poll(), options.intervalMs ?? 2000);
      timer.unref();
      stops.push(() => clearInterval(timer));
      void poll();
    }
    if (mdnsEnabled(o.mdns, this.keyed)) {
      // As in discover: an announcement counts once it was dialled and is the node it announced.
      // A failed check is forgotten after a while (the VM may have been stalled); checks in hand
      // are capped, so a flood of announcements costs a bounded number of dials.
      const checks = new Map<string, Promise<boolean>>();
      const verified = (info: VMInfo): Promise<boolean> => {
        const key = `${info.id} ${addressKey(info)}`;
        const known = checks.get(key);
        if (known) return known;
        if (checks.size >= MAX_ANNOUNCEMENTS_PER_DISCOVERY) return Promise.resolve(false);
        const check = withTimeout(this.verifyAnnounced(info), WATCH_CHECK_TIMEOUT_MS).then(
          () => true,
          (error: unknown) => {
            const { reason, message } = classifyFailure(error);
            this.log(`watch: mDNS: ${info.name} (${addressKey(info)}) skipped: ${reason}: ${message}`);
            setTimeout(() => checks.delete(key), WATCH_CHECK_TIMEOUT_MS).unref();
            return false;
          },
        );
        checks.set(key, check);
        return check;
      };
      try {
        const watcher = mdnsWatch(
          { interface: mdnsInterface(o.interface), onError: (error) => this.log(`watch: mDNS: ${error.message}`) },
          (info) => {
            void verified(info).then((ok) => {
              if (!ok) return;
              viaMdns.add(info.id);
              up(info);
            });
          },
          (info) => {
            viaMdns.delete(info.id);
            checks.delete(`${info.id} ${addressKey(info)}`);
            // A goodbye: the VM withdrew its record (it is stopping). Still listed by a poll?
            if (!polled.has(info.id)) down(info.id);
          },
        );
        stops.push(() => void watcher.stop());
      } catch (error) {
        this.log(`watch: mDNS: ${(error as Error).message}`);
      }
    }
    return id;
  }
}

/** Resolves when `signal` aborts (never, if it does not). */
function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new PeerLostError({ message: `no answer within ${ms} ms` })), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function defaultSlots(): number {
  return availableParallelism();
}

/** The host others should use: the bound address, or for a wildcard bind this machine's first external IPv4. */
function advertisedHost(bound: string): string {
  if (bound !== '0.0.0.0' && bound !== '::') return bound === 'localhost' ? '127.0.0.1' : bound;
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) return i.address;
  }
  return '127.0.0.1';
}
