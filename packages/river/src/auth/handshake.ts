/**
 * The connection handshake as a pure state machine: frames in, frames out, no sockets, no timers.
 *
 * ```
 * dialer D                                      acceptor A
 *   HELLO{idD, nD}              ──────────────►
 *                               ◄──────────────  HELLO{idA, nA}
 *                               ◄──────────────  AUTH  macA = HMAC(k, "river/1 acceptor" ‖ nD ‖ nA ‖ idD ‖ idA)
 *   verify macA
 *   AUTH macD = HMAC(k, "river/1 dialer" ‖ nA ‖ nD ‖ idD ‖ idA)  ──►
 *                                                verify macD
 *                               ◄──────────────  READY
 * ```
 *
 * Both nonces are fresh random bytes, and each side's MAC covers the other side's nonce, so a
 * recorded handshake replayed later fails. Both node ids are bound in, and so is the channel: on a
 * keyed connection the handshake runs inside TLS (net/tls-channel.ts) and both MACs cover keying
 * material exported from that TLS session, so the handshake cannot be spliced onto another
 * channel. Without a key both sides MAC with the empty key over an empty binding (same code
 * path); a keyed side refuses a keyless one.
 *
 * HELLO carries only what the MACs need (version, node id, role, nonce, keyed). What a node says
 * about itself (listen port, VMInfo) travels after the peer proved the key: the dialer's in its
 * AUTH, the acceptor's in READY.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import { AuthError } from '../errors/auth-error';
import { HandshakeError } from '../errors/handshake-error';
import type { RiverError } from '../errors/river-error';
import {
  FrameKind,
  PROTOCOL_VERSION,
  frameName,
  type AboutBody,
  type Frame,
  type HelloBody,
  type NodeRole,
  type UUID,
} from '../protocol';
import type { VMInfo } from '../vm-info';

export const NONCE_BYTES = 32;
const EMPTY = new Uint8Array(0);

/** What the other side told us about itself, once authenticated. */
export interface PeerHello {
  nodeId: UUID;
  role: NodeRole;
  listenPort: number | null;
  info: VMInfo | null;
}

export interface HandshakeOptions {
  side: 'dialer' | 'acceptor';
  nodeId: UUID;
  role: NodeRole;
  /** The cluster key, or undefined for a keyless (loopback-only) node. */
  key: string | undefined;
  listenPort: number | null;
  info: VMInfo | null;
  /** Dialer only: the node id we expect to reach (when dialling a known node). */
  expectNodeId?: UUID;
  /**
   * Bytes both ends of this channel share and no other channel has (TLS exported keying
   * material); read when the first MAC is computed, after the channel is up. Empty when plain.
   */
  channelBinding?: () => Uint8Array;
  /** For tests: the nonce source. */
  randomBytes?: (n: number) => Uint8Array;
}

export interface HandshakeStep {
  /** Frames to send, in order (also when `error` is set: an ERROR frame to send before closing). */
  send: Frame[];
  /** Set once the peer is authenticated; the connection is open. */
  done?: PeerHello;
  error?: RiverError;
}

type HandshakeState =
  | { kind: 'initial' }
  | { kind: 'awaiting-hello' }
  | { kind: 'awaiting-auth'; peer: HelloBody }
  | { kind: 'awaiting-ready'; peer: HelloBody }
  | { kind: 'done'; peer: PeerHello }
  | { kind: 'failed'; error: RiverError };

export function computeMac(
  key: string | undefined,
  label: 'acceptor' | 'dialer',
  firstNonce: Uint8Array,
  secondNonce: Uint8Array,
  dialerId: UUID,
  acceptorId: UUID,
  binding: Uint8Array = EMPTY,
): Buffer {
  const h = createHmac('sha256', key ?? '');
  h.update(`river/${PROTOCOL_VERSION} ${label}\0`);
  h.update(firstNonce);
  h.update(secondNonce);
  h.update(`\0${dialerId}\0${acceptorId}\0`);
  h.update(binding);
  return h.digest();
}

function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

export class Handshake {
  private state: HandshakeState = { kind: 'initial' };
  private readonly nonce: Uint8Array;

  constructor(private readonly options: HandshakeOptions) {
    this.nonce = (options.randomBytes ?? randomBytes)(NONCE_BYTES);
  }

  get kind(): HandshakeState['kind'] {
    return this.state.kind;
  }

  /** Frames to send as the connection opens (the dialer speaks first). */
  start(): Frame[] {
    if (this.state.kind !== 'initial') throw new Error('handshake already started');
    this.state = { kind: 'awaiting-hello' };
    return this.options.side === 'dialer' ? [[FrameKind.HELLO, this.hello()]] : [];
  }

  /** Feeds one frame from the peer. */
  receive(frame: Frame): HandshakeStep {
    const s = this.state;
    if (s.kind === 'done' || s.kind === 'failed') return this.fail(new HandshakeError({ message: 'handshake already finished' }));
    if (frame[0] === FrameKind.ERROR) {
      const [, code, message] = frame;
      const error =
        code === AuthError.code
          ? new AuthError({ message: `peer refused authentication: ${message}` })
          : new HandshakeError({ message: `peer refused the handshake: ${message}` });
      this.state = { kind: 'failed', error };
      return { send: [], error };
    }
    const side = this.options.side;
    switch (s.kind) {
      case 'initial':
      case 'awaiting-hello': {
        if (frame[0] !== FrameKind.HELLO) return this.unexpected(frame, 'HELLO');
        const peer = frame[1];
        const bad = this.checkHello(peer);
        if (bad) return this.fail(bad);
        if (side === 'acceptor') {
          const mac = computeMac(this.options.key, 'acceptor', peer.nonce, this.nonce, peer.nodeId, this.options.nodeId, this.binding());
          this.state = { kind: 'awaiting-auth', peer };
          return { send: [[FrameKind.HELLO, this.hello()], [FrameKind.AUTH, mac]] };
        }
        this.state = { kind: 'awaiting-auth', peer };
        return { send: [] };
      }
      case 'awaiting-auth': {
        if (frame[0] !== FrameKind.AUTH) return this.unexpected(frame, 'AUTH');
        const peer = s.peer;
        const mine = this.options.nodeId;
        const binding = this.binding();
        if (side === 'dialer') {
          const expected = computeMac(this.options.key, 'acceptor', this.nonce, peer.nonce, mine, peer.nodeId, binding);
          if (!macEquals(frame[1], expected)) return this.authFailed();
          const mac = computeMac(this.options.key, 'dialer', peer.nonce, this.nonce, mine, peer.nodeId, binding);
          this.state = { kind: 'awaiting-ready', peer };
          return { send: [[FrameKind.AUTH, mac, this.about()]] };
        }
        const expected = computeMac(this.options.key, 'dialer', this.nonce, peer.nonce, peer.nodeId, mine, binding);
        if (!macEquals(frame[1], expected)) return this.authFailed();
        const done = toPeerHello(peer, frame[2]);
        this.state = { kind: 'done', peer: done };
        return { send: [[FrameKind.READY, this.about()]], done };
      }
      case 'awaiting-ready': {
        if (frame[0] !== FrameKind.READY) return this.unexpected(frame, 'READY');
        const done = toPeerHello(s.peer, frame[1]);
        this.state = { kind: 'done', peer: done };
        return { send: [], done };
      }
    }
  }

  private hello(): HelloBody {
    return {
      version: PROTOCOL_VERSION,
      nodeId: this.options.nodeId,
      role: this.options.role,
      nonce: this.nonce,
      keyed: this.options.key !== undefined,
    };
  }

  /** What this node says about itself, once the peer has proved the key. */
  private about(): AboutBody {
    return { listenPort: this.options.listenPort, info: this.options.info };
  }

  private binding(): Uint8Array {
    return this.options.channelBinding?.() ?? EMPTY;
  }

  private checkHello(peer: HelloBody): RiverError | undefined {
    if (peer.version !== PROTOCOL_VERSION) {
      return new HandshakeError({ message: `protocol version mismatch: peer speaks ${peer.version}, this node ${PROTOCOL_VERSION}` });
    }
    if (peer.nonce.length !== NONCE_BYTES) return new HandshakeError({ message: 'malformed HELLO: bad nonce' });
    if (peer.nodeId === this.options.nodeId) return new HandshakeError({ message: 'connected to itself' });
    const keyed = this.options.key !== undefined;
    if (peer.keyed !== keyed) {
      return new AuthError({
        message: keyed
          ? 'peer has no cluster key, this node requires one (set RIVER_KEY or a key file on both sides)'
          : 'peer requires a cluster key, this node has none (set RIVER_KEY or a key file on both sides)',
      });
    }
    if (this.options.expectNodeId !== undefined && peer.nodeId !== this.options.expectNodeId) {
      return new HandshakeError({ message: `expected node ${this.options.expectNodeId}, reached ${peer.nodeId} (did that VM restart?)` });
    }
    return undefined;
  }

  private authFailed(): HandshakeStep {
    return this.fail(new AuthError({ message: 'authentication failed: the peer does not hold the same cluster key' }));
  }

  private unexpected(frame: Frame, expected: string): HandshakeStep {
    return this.fail(
      new HandshakeError({ message: `expected ${expected} during the handshake, got ${frameName(frame[0])}: no frame is accepted before the handshake completes` }),
    );
  }

  private fail(error: RiverError): HandshakeStep {
    this.state = { kind: 'failed', error };
    return { send: [[FrameKind.ERROR, error.code, error.message]], error };
  }
}

function toPeerHello(h: HelloBody, about: AboutBody | undefined): PeerHello {
  return { nodeId: h.nodeId, role: h.role, listenPort: about?.listenPort ?? null, info: about?.info ?? null };
}
