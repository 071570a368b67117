/**
 * One connection to another engine over a {@link Transport}: SFM framing, the handshake, then
 * frames in both directions and heartbeats. It knows nothing of routing: the owner (the peer
 * table) gets `open`, `frame` and `close` callbacks.
 */
import { RawFrameDecoder, decode, encodeFrame } from '@river/sfm';

import { Handshake, type PeerHello } from '../auth/handshake';
import { HandshakeError } from '../errors/handshake-error';
import { PeerLostError } from '../errors/peer-lost-error';
import { ProtocolError } from '../errors/protocol-error';
import { RiverError } from '../errors/river-error';
import { FrameKind, frameName, parseFrame, type ByeReason, type Frame, type NodeRole } from '../protocol';
import type { VMInfo } from '../vm-info';
import { assertHandshakeBytes } from './handshake-bytes';
import { decodeRoutePayload, encodeRouteFrame } from './route-codec';
import type { Transport } from './transport';

/** What may wait for a slow peer beyond one largest frame, by default (see `maxUnsentBytes`). */
const SLOW_PEER_MARGIN_BYTES = 256 * 1024 * 1024;

/**
 * Frames larger than this are refused before the peer is authenticated: the largest handshake
 * frame (an AUTH with a VMInfo) is a few hundred bytes.
 */
export const HANDSHAKE_MAX_FRAME_BYTES = 4 * 1024;

export interface ConnectionOptions {
  side: 'dialer' | 'acceptor';
  nodeId: string;
  role: NodeRole;
  key: string | undefined;
  listenPort: number | null;
  info: VMInfo | null;
  expectNodeId?: string;
  /** Largest frame accepted once authenticated. */
  maxFrameBytes: number;
  /**
   * Bytes that may wait to be sent to a peer that is not reading; past that the peer is cut off
   * (its connection fails, it is lost). Default: `maxFrameBytes` + 256 MiB.
   */
  maxUnsentBytes?: number;
  pingIntervalMs: number;
  peerTimeoutMs: number;
  handshakeTimeoutMs: number;
  now?: () => number;
}

/** Why a connection closed. */
export type CloseReason =
  | { kind: 'bye'; reason: ByeReason }
  | { kind: 'timeout'; error: PeerLostError }
  | { kind: 'error'; error: RiverError }
  | { kind: 'eof'; error: PeerLostError }
  | { kind: 'local'; reason: string };

export type ConnectionState =
  | { kind: 'handshaking'; handshake: Handshake; since: number }
  | { kind: 'open'; peer: PeerHello }
  /**
   * Retired duplicate (see PeerTable's tie-break): we said BYE and send nothing more, but keep
   * reading until the peer's own BYE, so nothing it sent before switching is lost.
   */
  | { kind: 'draining'; peer: PeerHello; since: number }
  | { kind: 'closed'; reason: CloseReason };

export interface ConnectionEvents {
  open(conn: Connection, peer: PeerHello): void;
  frame(conn: Connection, frame: Frame): void;
  close(conn: Connection, reason: CloseReason): void;
}

let nextConnectionId = 1;

export class Connection {
  readonly id = nextConnectionId++;
  state: ConnectionState;
  private decoder = new RawFrameDecoder({ maxFrameBytes: HANDSHAKE_MAX_FRAME_BYTES });
  private decoderUpgraded = false;
  private peerHello: PeerHello | undefined;
  private outgoing: Uint8Array[] = [];
  private flushScheduled = false;
  private lastRecv: number;
  private lastSent: number;
  private readonly now: () => number;
  private readonly events: Partial<ConnectionEvents> = {};

  constructor(
    readonly transport: Transport,
    private readonly options: ConnectionOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.lastRecv = this.lastSent = this.now();
    const handshake = new Handshake({ ...options, channelBinding: () => transport.channelBinding?.() ?? new Uint8Array(0) });
    this.state = { kind: 'handshaking', handshake, since: this.lastRecv };
  }

  get side(): 'dialer' | 'acceptor' {
    return this.options.side;
  }

  /** Who is at the other end, once authenticated (kept after the connection closes). */
  get peer(): PeerHello | undefined {
    return this.peerHello;
  }

  get isOpen(): boolean {
    return this.state.kind === 'open';
  }

  /** Starts reading and (as the dialer) speaks first. */
  start(events: ConnectionEvents): void {
    Object.assign(this.events, events);
    this.transport.start({
      data: (chunk) => this.onData(chunk),
      close: (error) => {
        // The channel refused the peer (no key, wrong key) before anything was said: that is the
        // handshake failing, not a connection lost.
        if (this.state.kind === 'handshaking' && RiverError.isInstance(error)) {
          this.closed({ kind: 'error', error }, 'destroy');
          return;
        }
        this.closed({
          kind: 'eof',
          error: new PeerLostError({ message: `connection closed by the peer${error ? `: ${error.message}` : ''}`, cause: error }),
        });
      },
    });
    if (this.state.kind === 'handshaking') this.write(this.state.handshake.start());
  }

  /** Queues a frame; every frame of one tick goes out in one write. */
  send(frame: Frame): void {
    if (this.state.kind === 'closed' || this.state.kind === 'draining') return;
    this.outgoing.push(frame[0] === FrameKind.ROUTE ? encodeRouteFrame(frame[1], frame[2], frame[3], frame[4]) : encodeFrame(frame));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Sends BYE and closes after flushing. */
  bye(reason: ByeReason): void {
    if (this.state.kind === 'closed') return;
    this.send([FrameKind.BYE, reason]);
    this.flush();
    this.closed({ kind: 'local', reason: `bye: ${reason}` }, 'end');
  }

  /** Retires a duplicate connection: BYE now, keep reading until the peer's BYE (or 5 s). */
  retire(): void {
    if (this.state.kind !== 'open') return;
    this.send([FrameKind.BYE, 'duplicate']);
    this.flush();
    this.state = { kind: 'draining', peer: this.state.peer, since: this.now() };
  }

  /** Sends an ERROR frame (best effort) and closes. */
  fail(error: RiverError): void {
    if (this.state.kind === 'closed') return;
    this.outgoing.push(encodeFrame([FrameKind.ERROR, error.code, error.message]));
    this.flush();
    this.closed({ kind: 'error', error }, 'end');
  }

  close(reason = 'closed locally'): void {
    this.flush();
    this.closed({ kind: 'local', reason }, 'end');
  }

  /** Heartbeat and handshake-timeout check; the owner calls this about every `pingIntervalMs`. */
  tick(): void {
    const now = this.now();
    switch (this.state.kind) {
      case 'handshaking':
        if (now - this.state.since > this.options.handshakeTimeoutMs) {
          this.fail(new HandshakeError({ message: `no handshake within ${this.options.handshakeTimeoutMs} ms` }));
        }
        return;
      case 'open':
        if (now - this.lastRecv > this.options.peerTimeoutMs) {
          const error = new PeerLostError({
            message: `peer ${this.state.peer.nodeId} silent for ${now - this.lastRecv} ms (peerTimeoutMs ${this.options.peerTimeoutMs})`,
          });
          this.closed({ kind: 'timeout', error }, 'destroy');
          return;
        }
        if (now - this.lastSent >= this.options.pingIntervalMs * 0.9) this.send([FrameKind.PING, now]);
        return;
      case 'draining':
        if (now - this.state.since > 5000) this.closed({ kind: 'bye', reason: 'duplicate' }, 'end');
        return;
      case 'closed':
        return;
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.outgoing.length === 0) return;
    const chunks = this.outgoing;
    this.outgoing = [];
    this.lastSent = this.now();
    this.transport.write(chunks);
    const unsent = this.transport.bufferedBytes;
    if (unsent > (this.options.maxUnsentBytes ?? this.options.maxFrameBytes + SLOW_PEER_MARGIN_BYTES)) this.slowPeer(unsent);
  };

  /**
   * The peer does not read what we send: rather than buffer without bound, give up on it. Its
   * connection fails (what was queued is dropped; its VRs are lost, so nothing waits forever).
   */
  private slowPeer(unsent: number): void {
    if (this.state.kind === 'closed') return;
    const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
    const limit = this.options.maxUnsentBytes ?? this.options.maxFrameBytes + SLOW_PEER_MARGIN_BYTES;
    const error = new PeerLostError({ message: `the peer is not reading: ${mib(unsent)} wait to be sent to it (limit ${mib(limit)})` });
    this.closed({ kind: 'error', error }, 'destroy');
  }

  private write(frames: Frame[]): void {
    for (const f of frames) this.send(f);
  }

  private onData(chunk: Uint8Array): void {
    if (this.state.kind === 'closed') return;
    this.lastRecv = this.now();
    let payloads: Uint8Array[];
    try {
      payloads = this.decoder.push(chunk);
    } catch (error) {
      this.fail(
        RiverError.isInstance(error)
          ? error
          : new ProtocolError({ message: `bad bytes from peer: ${(error as Error)?.message ?? String(error)}`, cause: error }),
      );
      return;
    }
    for (const payload of payloads) {
      if ((this.state as ConnectionState).kind === 'closed') return;
      let frame: Frame;
      try {
        if (this.state.kind === 'handshaking') assertHandshakeBytes(payload);
        frame = decodeRoutePayload(payload) ?? parseFrame(decode(payload));
      } catch (error) {
        this.fail(
          RiverError.isInstance(error)
            ? error
            : new ProtocolError({ message: `undecodable frame from peer: ${(error as Error)?.message ?? String(error)}`, cause: error }),
        );
        return;
      }
      this.onFrame(frame);
    }
  }

  private onFrame(frame: Frame): void {
    const state = this.state;
    if (state.kind === 'handshaking') {
      const step = state.handshake.receive(frame);
      if (step.error) {
        // An ERROR frame from the peer needs no answer; anything else gets one.
        if (frame[0] === FrameKind.ERROR) this.closed({ kind: 'error', error: step.error }, 'end');
        else this.fail(step.error);
        return;
      }
      this.write(step.send);
      const hs = state.handshake.kind;
      if (!this.decoderUpgraded && (hs === 'awaiting-ready' || hs === 'done')) {
        // The peer is authenticated and is now waiting on us, so the small pre-auth decoder holds
        // no partial frame: switch to the full frame size.
        this.decoderUpgraded = true;
        this.decoder = new RawFrameDecoder({ maxFrameBytes: this.options.maxFrameBytes });
      }
      if (step.done) {
        this.peerHello = step.done;
        this.state = { kind: 'open', peer: step.done };
        this.events.open?.(this, step.done);
      }
      return;
    }
    if (state.kind !== 'open' && state.kind !== 'draining') return;
    switch (frame[0]) {
      case FrameKind.PING:
        if (state.kind === 'open') this.send([FrameKind.PONG, frame[1]]);
        return;
      case FrameKind.PONG:
        return;
      case FrameKind.BYE:
        // Whatever we queued before seeing it still goes out: a retiring peer drains until our BYE.
        if (state.kind === 'open') this.send([FrameKind.BYE, frame[1]]);
        this.flush();
        this.closed({ kind: 'bye', reason: frame[1] }, 'end');
        return;
      case FrameKind.ERROR:
        this.closed({ kind: 'error', error: new ProtocolError({ message: `peer reported: ${frame[1]}: ${frame[2]}` }) }, 'end');
        return;
      case FrameKind.HELLO:
      case FrameKind.AUTH:
      case FrameKind.READY:
        this.fail(new ProtocolError({ message: 'handshake frame after the handshake completed' }));
        return;
      default:
        try {
          this.events.frame?.(this, frame);
        } catch (error) {
          // A frame that passed parsing but that the engine could not act on (a shape it did
          // not expect): it costs this connection only, never the process.
          this.fail(new ProtocolError({ message: `could not handle a ${frameName(frame[0])} frame from the peer: ${(error as Error)?.message ?? String(error)}`, cause: error }));
        }
    }
  }

  private closed(reason: CloseReason, how?: 'end' | 'destroy'): void {
    if (this.state.kind === 'closed') return;
    this.state = { kind: 'closed', reason };
    this.outgoing = [];
    if (how === 'end') this.transport.end();
    else if (how === 'destroy') this.transport.destroy();
    this.events.close?.(this, reason);
  }
}
