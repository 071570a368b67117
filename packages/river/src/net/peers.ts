/**
 * The peer table: one entry per other engine (node id), each with at most one open connection
 * that all VRs share. Owns dialling (lazily, with bounded retries and backoff), the simultaneous-
 * dial tie-break, heartbeats, reconnecting after a transient loss, and declaring a peer lost.
 */
import { connect as netConnect, type Server, type Socket } from 'node:net';

import { AuthError } from '../errors/auth-error';
import { HandshakeError } from '../errors/handshake-error';
import { PeerLostError } from '../errors/peer-lost-error';
import { RiverError } from '../errors/river-error';
import { StoppedError } from '../errors/stopped-error';
import { fromWireError, toWireError, type WireError } from '../errors/wire';
import { PendingRequests } from '../engine/pending';
import { FrameKind, type ControlOp, type Frame, type NodeRole, type NoticeOp } from '../protocol';
import type { PeerHello } from '../auth/handshake';
import type { VMInfo } from '../vm-info';
import { encodeFrame } from '@river/sfm';

import { Connection, type CloseReason, type ConnectionOptions } from './connection';
import { RefusalLog } from './refusal-log';
import { TLS_HANDSHAKE_RECORD, secureAcceptor, secureDialer } from './tls-channel';
import { SocketTransport, normalizeAddress, type Transport } from './transport';
import { UnauthenticatedConnections, type UnauthenticatedLimits } from './unauthenticated';

export interface PeerAddress {
  host: string;
  port: number;
}

export type PeerState =
  /** Known (and dialable when it has an address) but not connected. */
  | { kind: 'idle' }
  /** Dialling; frames sent meanwhile wait in `queue`. */
  | { kind: 'dialing'; queue: Frame[]; reconnect: boolean }
  | { kind: 'connected'; conn: Connection }
  /**
   * Declared dead or unreachable: what was pending failed, its VRs are lost. A process that was
   * only stalled or cut off may connect again under the same id; the engine then treats it as a
   * new start of the peering (see engine/peer-returns.ts): what was lost stays lost.
   */
  | { kind: 'lost'; error: PeerLostError };

export class Peer {
  state: PeerState = { kind: 'idle' };
  address: PeerAddress | undefined;
  role: NodeRole | undefined;
  info: VMInfo | null = null;
  readonly requests = new PendingRequests();
  /** Resolves when the current dial attempt ends (connected or lost). */
  dialing: Promise<void> | undefined;

  constructor(readonly nodeId: string) {}
}

export interface ReconnectPolicy {
  /** Delays before each retry after the first attempt; their count bounds the retries. */
  backoffMs: number[];
  connectTimeoutMs: number;
}

export const DEFAULT_RECONNECT: ReconnectPolicy = { backoffMs: [100, 400, 1000], connectTimeoutMs: 3000 };

/**
 * How long a lost peer is remembered (so frames for it fail as "lost", not "unknown"). Then it is
 * forgotten: a VM that serves initiator after initiator, each a new node id, must not keep one
 * entry per initiator it ever saw.
 */
export const LOST_PEER_MEMORY_MS = 60_000;

export interface PeerTableOptions
  extends Pick<ConnectionOptions, 'key' | 'maxFrameBytes' | 'maxUnsentBytes' | 'pingIntervalMs' | 'peerTimeoutMs' | 'handshakeTimeoutMs'> {
  nodeId: string;
  role: NodeRole;
  /** Our listen port and info as sent in HELLO (read when a connection starts). */
  hello(): { listenPort: number | null; info: VMInfo | null };
  reconnect?: ReconnectPolicy;
  /** Default {@link LOST_PEER_MEMORY_MS}. */
  lostPeerMemoryMs?: number;
  /** Caps on accepted connections that have not authenticated yet (defaults in unauthenticated.ts). */
  unauthenticated?: Partial<UnauthenticatedLimits>;
}

export interface PeerTableEvents {
  /** A frame (ROUTE, REQUEST, NOTICE) from an authenticated peer. */
  frame(peer: Peer, frame: Frame): void;
  /** A REQUEST; the returned promise's value or error is the RESPONSE. */
  request(peer: Peer, op: ControlOp, args: unknown): Promise<unknown>;
  /**
   * A peer connected (first time or again). Called before the frames queued while dialling are
   * sent, so what the handler sends goes out first.
   */
  connected(peer: Peer): void;
  /** A peer is lost; `queued` are the frames that were waiting for it (ROUTE frames to bounce). */
  lost(peer: Peer, error: PeerLostError, queued: Frame[], graceful: boolean): void;
  /** Something worth a log line (bad client, refused handshake). */
  log(line: string): void;
}

export class PeerTable {
  private readonly peers = new Map<string, Peer>();
  private readonly byAddress = new Map<string, string>();
  private readonly addressDials = new Map<string, Promise<Peer>>();
  private readonly conns = new Set<Connection>();
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  private readonly reconnect: ReconnectPolicy;
  private readonly refusals: RefusalLog;
  private readonly unauthenticated: UnauthenticatedConnections;

  constructor(
    private readonly options: PeerTableOptions,
    private readonly events: PeerTableEvents,
  ) {
    this.reconnect = options.reconnect ?? DEFAULT_RECONNECT;
    this.refusals = new RefusalLog((line) => this.events.log(line));
    this.unauthenticated = new UnauthenticatedConnections(options.unauthenticated, (from, why) => this.refusals.refused(from, why));
    this.timer = setInterval(() => {
      for (const c of this.conns) c.tick();
    }, Math.min(250, options.pingIntervalMs));
    this.timer.unref();
  }

  get(nodeId: string): Peer | undefined {
    return this.peers.get(nodeId);
  }

  all(): Peer[] {
    return [...this.peers.values()];
  }

  connected(): Peer[] {
    return this.all().filter((p) => p.state.kind === 'connected');
  }

  /** Notes where a node listens (from membership or discovery), so it can be dialled lazily. */
  learn(nodeId: string, address: PeerAddress, info?: VMInfo | null): Peer {
    const peer = this.getOrCreate(nodeId);
    if (!peer.address) this.setAddress(peer, address);
    if (info) peer.info = info;
    return peer;
  }

  /** Accepts connections from a listening server. */
  attachServer(server: Server): void {
    server.on('connection', (socket: Socket) => {
      if (this.stopped) {
        socket.destroy();
        return;
      }
      this.accept(socket);
    });
  }

  /**
   * An accepted socket: counted against the caps on unauthenticated connections until it opens;
   * its first byte tells a TLS client (a keyed dialer) from a plain one, so a key mismatch gets a
   * clear answer instead of a TLS alert or a garbled frame.
   */
  private accept(socket: Socket): void {
    const from = formatRemote(normalizeAddress(socket.remoteAddress), socket.remotePort);
    socket.setNoDelay(true);
    socket.on('error', () => undefined); // reported through the connection, or not at all
    this.unauthenticated.add(socket, from);
    const sniffTimer = setTimeout(() => {
      this.refusePlain(socket, from, new HandshakeError({ message: `no handshake within ${this.options.handshakeTimeoutMs} ms` }));
    }, this.options.handshakeTimeoutMs);
    sniffTimer.unref();
    socket.once('close', () => clearTimeout(sniffTimer));
    socket.once('data', (first: Buffer) => {
      clearTimeout(sniffTimer);
      socket.pause();
      socket.unshift(first);
      const key = this.options.key;
      const tlsClient = first[0] === TLS_HANDSHAKE_RECORD;
      if (key !== undefined && !tlsClient) {
        this.refusePlain(socket, from, new AuthError({ message: 'peer has no cluster key, this node requires one (set RIVER_KEY or a key file on both sides)' }));
        return;
      }
      if (key === undefined && tlsClient) {
        this.refusePlain(socket, from, new AuthError({ message: 'peer requires a cluster key, this node has none (set RIVER_KEY or a key file on both sides)' }));
        return;
      }
      const transport = key === undefined ? new SocketTransport(socket) : new SocketTransport(socket, secureAcceptor(socket, key));
      const conn = this.newConnection(transport, 'acceptor');
      this.unauthenticated.attach(socket, conn);
      conn.start(this.connEvents());
      if (key === undefined) socket.resume();
    });
  }

  /** Answers a peer on the wrong side of the key with a plain ERROR frame, and closes. */
  private refusePlain(socket: Socket, from: string, error: RiverError): void {
    this.refusals.refused(from, error.message);
    socket.end(encodeFrame([FrameKind.ERROR, error.code, error.message]));
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  /**
   * Sends a frame to a node: now when connected, after the dial when not (dialling lazily).
   * Returns false when the node is lost or cannot be reached (no known address).
   */
  send(nodeId: string, frame: Frame): boolean {
    const peer = this.peers.get(nodeId);
    if (!peer || this.stopped) return false;
    const s = peer.state;
    switch (s.kind) {
      case 'connected':
        s.conn.send(frame);
        return true;
      case 'dialing':
        s.queue.push(frame);
        return true;
      case 'idle':
        if (!peer.address) return false;
        this.startDial(peer, false).queue.push(frame);
        return true;
      case 'lost':
        return false;
    }
  }

  /** Sends a request to a node and resolves with its response. */
  request<T>(nodeId: string, op: ControlOp, args: unknown, timeoutMs?: number): Promise<T> {
    const peer = this.peers.get(nodeId);
    if (!peer) return Promise.reject(new PeerLostError({ message: `unknown node ${nodeId}` }));
    if (peer.state.kind === 'lost') return Promise.reject(peer.state.error);
    return peer.requests.start(
      (id) => {
        if (!this.send(nodeId, [FrameKind.REQUEST, id, op, args])) {
          throw peer.state.kind === 'lost' ? peer.state.error : new PeerLostError({ message: `node ${nodeId} cannot be reached` });
        }
      },
      timeoutMs,
      `${op} request to node ${nodeId}`,
    ) as Promise<T>;
  }

  notice(nodeId: string, op: NoticeOp, args: unknown): boolean {
    return this.send(nodeId, [FrameKind.NOTICE, op, args]);
  }

  /**
   * Connects to `host:port` (or reuses the connection there) and resolves with the peer once
   * authenticated. `once`: a single attempt, no retries (discovery: it reports why an address
   * failed — refused, closed — rather than retrying until its window is over).
   */
  dialAddress(address: PeerAddress, expectNodeId?: string, once = false): Promise<Peer> {
    if (this.stopped) return Promise.reject(new StoppedError({ message: 'engine stopped' }));
    const key = addressKey(address);
    const known = this.byAddress.get(key);
    const peer = known ? this.peers.get(known) : undefined;
    if (peer && peer.state.kind === 'connected') return Promise.resolve(peer);
    if (peer && peer.state.kind === 'dialing' && peer.dialing) {
      return peer.dialing.then(() => {
        if (peer.state.kind === 'connected') return peer;
        throw peer.state.kind === 'lost' ? peer.state.error : new PeerLostError({ message: `could not reach ${key}` });
      });
    }
    const inflight = this.addressDials.get(key);
    if (inflight) return inflight;
    const p = this.dialWithRetries(address, expectNodeId, undefined, once).finally(() => this.addressDials.delete(key));
    this.addressDials.set(key, p);
    return p;
  }

  /** Ensures a connection to a known node (dialling if needed). */
  async ensure(nodeId: string): Promise<Peer> {
    const peer = this.peers.get(nodeId);
    if (!peer) throw new PeerLostError({ message: `unknown node ${nodeId}` });
    if (peer.state.kind === 'connected') return peer;
    if (peer.state.kind === 'lost') throw peer.state.error;
    if (peer.state.kind === 'idle') {
      if (!peer.address) throw new PeerLostError({ message: `node ${nodeId} has no known address` });
      this.startDial(peer, false);
    }
    await peer.dialing;
    const s = peer.state as PeerState;
    if (s.kind === 'connected') return peer;
    throw s.kind === 'lost' ? s.error : new PeerLostError({ message: `could not reach node ${nodeId}` });
  }

  /**
   * Closes the connection to an idle peer gracefully (what is queued goes out, the peer's frames
   * already in flight are still read; BYE 'duplicate' tells it the peer is not gone). The peer
   * stays known and is dialled again when something is sent to it. False when it was not
   * connected or has requests waiting.
   */
  retire(nodeId: string): boolean {
    const peer = this.peers.get(nodeId);
    if (!peer || peer.state.kind !== 'connected' || peer.requests.size > 0) return false;
    const conn = peer.state.conn;
    peer.state = { kind: 'idle' };
    conn.retire();
    return true;
  }

  /** Says goodbye to every peer and closes every connection. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.refusals.flush();
    this.unauthenticated.closeAll();
    for (const c of [...this.conns]) c.bye('stopping');
    const error = new StoppedError({ message: 'engine stopped' });
    for (const p of this.peers.values()) p.requests.failAll(error);
  }

  // -------------------------------------------------------------------------------------------

  private getOrCreate(nodeId: string): Peer {
    let peer = this.peers.get(nodeId);
    if (!peer) {
      peer = new Peer(nodeId);
      this.peers.set(nodeId, peer);
    }
    return peer;
  }

  private setAddress(peer: Peer, address: PeerAddress): void {
    if (peer.address) this.byAddress.delete(addressKey(peer.address));
    peer.address = address;
    this.byAddress.set(addressKey(address), peer.nodeId);
  }

  private newConnection(transport: Transport, side: 'dialer' | 'acceptor', expectNodeId?: string): Connection {
    const hello = this.options.hello();
    const conn = new Connection(transport, {
      side,
      nodeId: this.options.nodeId,
      role: this.options.role,
      key: this.options.key,
      listenPort: hello.listenPort,
      info: hello.info,
      expectNodeId,
      maxFrameBytes: this.options.maxFrameBytes,
      maxUnsentBytes: this.options.maxUnsentBytes,
      pingIntervalMs: this.options.pingIntervalMs,
      peerTimeoutMs: this.options.peerTimeoutMs,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs,
    });
    this.conns.add(conn);
    return conn;
  }

  private connEvents() {
    return {
      open: (conn: Connection, hello: PeerHello) => this.onOpen(conn, hello),
      frame: (conn: Connection, frame: Frame) => this.onFrame(conn, frame),
      close: (conn: Connection, reason: CloseReason) => this.onClose(conn, reason),
    };
  }

  /** One TCP connect + handshake. Resolves with the open connection (already attached to its peer). */
  private openConnection(address: PeerAddress, expectNodeId?: string, timeoutMs?: number): Promise<Connection> {
    return new Promise<Connection>((resolve, reject) => {
      if (this.stopped) {
        reject(new StoppedError({ message: 'engine stopped' }));
        return;
      }
      const socket = netConnect({ host: address.host, port: address.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new PeerLostError({ message: `connecting to ${addressKey(address)} timed out` }));
      }, timeoutMs ?? this.reconnect.connectTimeoutMs + this.options.handshakeTimeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(new PeerLostError({ message: `cannot connect to ${addressKey(address)}: ${err.message}`, cause: err }));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        const key = this.options.key;
        const transport = key === undefined ? new SocketTransport(socket) : new SocketTransport(socket, secureDialer(socket, key));
        const conn = this.newConnection(transport, 'dialer', expectNodeId);
        const events = this.connEvents();
        conn.start({
          open: (c, hello) => {
            clearTimeout(timer);
            events.open(c, hello);
            resolve(c);
          },
          frame: events.frame,
          close: (c, reason) => {
            clearTimeout(timer);
            events.close(c, reason);
            if (reason.kind === 'error') reject(reason.error);
            else if (reason.kind === 'timeout' || reason.kind === 'eof') reject(reason.error);
            else reject(new PeerLostError({ message: `connection to ${addressKey(address)} closed during the handshake` }));
          },
        });
      });
    });
  }

  /**
   * Dials with bounded retries and backoff. `deadline` (a reconnect after a lost connection)
   * bounds the whole attempt, so a peer whose host vanished is declared lost in time.
   */
  private async dialWithRetries(address: PeerAddress, expectNodeId: string | undefined, deadline?: number, once = false): Promise<Peer> {
    let lastError: unknown = new PeerLostError({ message: `could not reach ${addressKey(address)} in time` });
    const delays = once ? [0] : [0, ...this.reconnect.backoffMs];
    for (const delay of delays) {
      if (delay) await sleep(delay);
      if (this.stopped) throw new StoppedError({ message: 'engine stopped' });
      const left = deadline === undefined ? undefined : deadline - Date.now();
      if (left !== undefined && left <= 0) break;
      try {
        const conn = await this.openConnection(address, expectNodeId, left);
        const peer = this.peers.get(conn.peer!.nodeId)!;
        return peer;
      } catch (error) {
        lastError = error;
        if (!isTransient(error)) break;
      }
    }
    throw lastError;
  }

  private startDial(peer: Peer, reconnect: boolean): Extract<PeerState, { kind: 'dialing' }> {
    const state: Extract<PeerState, { kind: 'dialing' }> = { kind: 'dialing', queue: [], reconnect };
    peer.state = state;
    const address = peer.address!;
    const deadline = reconnect ? Date.now() + this.options.peerTimeoutMs : undefined;
    peer.dialing = this.dialWithRetries(address, peer.nodeId, deadline).then(
      () => undefined,
      (error) => {
        if (peer.state !== state) return; // an inbound connection won meanwhile
        this.lose(
          peer,
          RiverError.isInstance(error) && error.code === PeerLostError.code
            ? (error as PeerLostError)
            : new PeerLostError({ message: `cannot reach node ${peer.nodeId}: ${(error as Error)?.message}`, cause: error }),
        );
      },
    );
    return state;
  }

  private onOpen(conn: Connection, hello: PeerHello): void {
    this.unauthenticated.opened(conn);
    const peer = this.getOrCreate(hello.nodeId);
    peer.role = hello.role;
    if (hello.info) peer.info = hello.info;
    const host = conn.transport.remoteAddress;
    if (host && hello.listenPort) this.setAddress(peer, { host, port: hello.listenPort });
    const s = peer.state;
    if (s.kind === 'connected' && s.conn !== conn && s.conn.isOpen) {
      // Both sides dialled at once: keep the connection dialled by the lower node id (both sides
      // agree on that), retire the other after flushing.
      const dialerOf = (c: Connection) => (c.side === 'dialer' ? this.options.nodeId : peer.nodeId);
      const winner = [this.options.nodeId, peer.nodeId].sort()[0];
      if (dialerOf(conn) === winner) {
        peer.state = { kind: 'connected', conn };
        s.conn.retire();
      } else {
        conn.retire();
      }
      return;
    }
    const queue = s.kind === 'dialing' ? s.queue : [];
    peer.state = { kind: 'connected', conn };
    this.events.connected(peer);
    for (const f of queue) conn.send(f);
  }

  private onFrame(conn: Connection, frame: Frame): void {
    const peer = this.peers.get(conn.peer!.nodeId);
    if (!peer) return;
    switch (frame[0]) {
      case FrameKind.REQUEST: {
        const [, id, op, args] = frame;
        this.events.request(peer, op, args).then(
          (value) => conn.send([FrameKind.RESPONSE, id, true, value]),
          (error) => conn.send([FrameKind.RESPONSE, id, false, toWireError(error)]),
        );
        return;
      }
      case FrameKind.RESPONSE: {
        const [, id, ok, value] = frame;
        peer.requests.settle(id, ok, ok ? value : fromWireError(value as WireError));
        return;
      }
      default:
        this.events.frame(peer, frame);
    }
  }

  private onClose(conn: Connection, reason: CloseReason): void {
    this.conns.delete(conn);
    this.unauthenticated.opened(conn);
    const from = () => formatRemote(conn.transport.remoteAddress, conn.transport.remotePort);
    if (reason.kind === 'error' && conn.peer === undefined) this.refusals.refused(from(), reason.error.message);
    // The encrypted channel refused bytes on an open connection: someone on the path wrote into it.
    if (reason.kind === 'eof' && conn.peer !== undefined && HandshakeError.isInstance(reason.error.cause)) {
      this.refusals.refused(from(), `node ${conn.peer.nodeId}: ${reason.error.cause.message}`);
    }
    const nodeId = conn.peer?.nodeId;
    if (!nodeId) return;
    const peer = this.peers.get(nodeId);
    if (!peer || peer.state.kind !== 'connected' || peer.state.conn !== conn) return;
    const lostError = (message: string, cause?: unknown) => new PeerLostError({ message, cause });
    peer.requests.failAll(lostError(`connection to node ${nodeId} closed`));
    if (this.stopped) {
      peer.state = { kind: 'idle' };
      return;
    }
    switch (reason.kind) {
      case 'bye':
        if (reason.reason === 'duplicate') peer.state = { kind: 'idle' };
        else this.lose(peer, lostError(`node ${nodeId} stopped`), true);
        return;
      case 'timeout':
        this.lose(peer, reason.error);
        return;
      case 'error':
        this.lose(peer, lostError(`connection to node ${nodeId} failed: ${reason.error.message}`, reason.error));
        return;
      case 'local':
        peer.state = { kind: 'idle' };
        return;
      case 'eof':
        // Maybe transient: try to reconnect (bounded); a dead process refuses at once.
        if (peer.address) this.startDial(peer, true);
        else this.lose(peer, reason.error);
        return;
    }
  }

  private lose(peer: Peer, error: PeerLostError, graceful = false): void {
    if (peer.state.kind === 'lost') return;
    const queued = peer.state.kind === 'dialing' ? peer.state.queue : [];
    peer.state = { kind: 'lost', error };
    peer.requests.failAll(error);
    this.events.lost(peer, error, queued, graceful);
    const forget = setTimeout(() => {
      if (this.peers.get(peer.nodeId) !== peer || peer.state.kind !== 'lost') return;
      this.peers.delete(peer.nodeId);
      if (peer.address && this.byAddress.get(addressKey(peer.address)) === peer.nodeId) this.byAddress.delete(addressKey(peer.address));
    }, this.options.lostPeerMemoryMs ?? LOST_PEER_MEMORY_MS);
    forget.unref();
  }
}

function isTransient(error: unknown): boolean {
  if (AuthError.isInstance(error) || HandshakeError.isInstance(error)) return false;
  if (StoppedError.isInstance(error)) return false;
  return true;
}

/** `host:port` (`[v6]:port`) of a remote end, `?` for what is not known, for log lines. */
function formatRemote(host: string | undefined, port: number | undefined): string {
  const h = host ?? '?';
  return `${h.includes(':') ? `[${h}]` : h}:${port ?? '?'}`;
}

export function addressKey(a: PeerAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Parses `host:port` or `[v6]:port`. */
export function parseAddress(text: string): PeerAddress | undefined {
  const m = /^\s*(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})\s*$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (!(port > 0 && port < 65536)) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref?.());
}
