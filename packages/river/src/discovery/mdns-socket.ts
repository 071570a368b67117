/**
 * The UDP socket multicast-dns runs on. multicast-dns accepts a ready-made `socket` option; we
 * hand it this adapter instead of letting it create a dgram socket, because the adapter is the
 * one place that can guarantee what the library alone does not:
 *
 * - Pinned to an interface, every send goes out of that interface or not at all. The outgoing
 *   multicast interface (IP_MULTICAST_IF) is set the moment the socket is bound, before
 *   multicast-dns can send, and if that or the group membership on the interface fails, the
 *   socket refuses to send (multicast-dns would only emit a 'warning' and carry on sending by
 *   the routing table, i.e. possibly out of the default interface).
 * - Pinned, packets whose source is outside the interface's subnets are dropped. (Linux delivers
 *   a group's packets from every interface to every socket bound to the port once any socket
 *   joined the group anywhere — IP_MULTICAST_ALL — and Node cannot turn that off.)
 * - An exception thrown by a listener while handling a packet (a malformed record that upsets
 *   bonjour-service) is caught here and logged, instead of becoming an uncaught exception.
 * - Socket 'error' events are never forwarded: multicast-dns re-emits them on an emitter nobody
 *   listens to, which would throw. They reject {@link MdnsSocket.ready} or are logged.
 *
 * It binds 0.0.0.0:5353 even when pinned: a socket bound to a unicast address never receives
 * multicast on Linux (multicast-dns binds to `interface` by default — mafintosh/multicast-dns#53).
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';

import { MdnsSocketError } from '../errors/mdns-socket-error';
import { onInterface, type MdnsInterface } from './mdns-interface';

/** The mDNS IPv4 group and port (RFC 6762). */
export const MDNS_GROUP = '224.0.0.251';
export const MDNS_PORT = 5353;

/** `NODE_DEBUG=river-mdns` prints what mDNS drops and why. */
export const debug = debuglog('river-mdns');

type SendCallback = (error: Error | null, bytes?: number) => void;

type State = 'new' | 'listening' | 'failed' | 'closed';

export interface MdnsSocketOptions {
  /** Pin to this interface; unset: multicast-dns's default (all interfaces). */
  pinned?: MdnsInterface;
}

/** The dgram-socket surface multicast-dns 7 uses, over a real socket, with the guarantees above. */
export class MdnsSocket extends EventEmitter {
  /** Resolves once bound, pinned and joined; rejects with `MdnsSocketError` otherwise. */
  readonly ready: Promise<void>;
  private readonly socket: Socket;
  private readonly pinned: MdnsInterface | undefined;
  private state: State = 'new';
  private settle!: (error?: Error) => void;
  private joined = false;
  /** Packets dropped because they came from outside the pinned interface's subnet. */
  droppedForeign = 0;

  constructor(options: MdnsSocketOptions = {}) {
    super();
    this.pinned = options.pinned;
    this.ready = new Promise<void>((resolve, reject) => {
      this.settle = (error) => (error ? reject(error) : resolve());
    });
    // Never an unhandled rejection if nobody awaits `ready` (e.g. closed before it settled).
    this.ready.catch(() => undefined);
    this.socket = createSocket({ type: 'udp4', reuseAddr: true });
    this.socket.on('listening', () => this.onListening());
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    this.socket.on('error', (err) => this.onError(err));
    this.socket.on('close', () => {
      this.state = 'closed';
      this.settle(new MdnsSocketError({ message: 'mDNS socket closed before it was ready' }));
    });
  }

  private fail(error: MdnsSocketError): void {
    if (this.state === 'closed') return;
    debug('socket failed: %s', error.message);
    this.state = 'failed';
    this.settle(error);
  }

  private onListening(): void {
    const pinned = this.pinned;
    if (pinned) {
      // Both before multicast-dns hears 'listening': its first send must already be pinned.
      try {
        this.socket.setMulticastInterface(pinned.address);
      } catch (cause) {
        this.fail(this.pinError(`cannot send mDNS on`, cause));
        return;
      }
      try {
        this.socket.addMembership(MDNS_GROUP, pinned.address);
        this.joined = true;
      } catch (cause) {
        this.fail(this.pinError(`cannot join ${MDNS_GROUP} on`, cause));
        return;
      }
    }
    this.state = 'listening';
    // multicast-dns's own 'listening' handler (membership, TTL, loopback), then its bind
    // callback, which starts the sends it queued.
    this.emit('listening');
    this.settle();
  }

  private pinError(what: string, cause: unknown): MdnsSocketError {
    const pinned = this.pinned as MdnsInterface;
    return new MdnsSocketError({
      message: `${what} ${pinned.name} (${pinned.address}): ${(cause as Error)?.message ?? cause}`,
      cause,
    });
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.state !== 'listening') return;
    const pinned = this.pinned;
    if (pinned && !onInterface(rinfo.address, pinned)) {
      this.droppedForeign++;
      debug('dropped packet from %s:%d (outside %s)', rinfo.address, rinfo.port, pinned.name);
      return;
    }
    try {
      this.emit('message', msg, rinfo);
    } catch (err) {
      // A record that bonjour-service could not digest: drop the packet, keep the socket.
      debug('packet from %s:%d dropped: %s', rinfo.address, rinfo.port, (err as Error)?.stack ?? err);
    }
  }

  private onError(err: Error): void {
    if (this.state === 'new') {
      const where = this.pinned ? ` (pinned to ${this.pinned.name})` : '';
      this.fail(new MdnsSocketError({ message: `cannot bind mDNS socket${where}: ${err.message}`, cause: err }));
    } else {
      debug('socket error: %s', err.message);
    }
  }

  // ---- the dgram.Socket surface multicast-dns uses ----

  bind(port: number, address?: string, callback?: () => void): this {
    if (callback) this.once('listening', callback);
    // See the file comment: always the wildcard address, whatever multicast-dns asks for.
    void address;
    this.socket.bind(port, '0.0.0.0');
    return this;
  }

  send(
    msg: Buffer | Uint8Array,
    offset: number,
    length: number,
    port: number,
    address: string,
    callback?: SendCallback,
  ): void {
    const cb = callback ?? (() => undefined);
    if (this.state !== 'listening') {
      process.nextTick(cb, new MdnsSocketError({ message: `mDNS socket not usable (${this.state}); packet not sent` }));
      return;
    }
    const pinned = this.pinned;
    if (pinned && address !== MDNS_GROUP && !onInterface(address, pinned)) {
      process.nextTick(cb, new MdnsSocketError({ message: `refusing to send to ${address}: outside ${pinned.name}` }));
      return;
    }
    this.socket.send(msg, offset, length, port, address, cb);
  }

  address() {
    return this.socket.address();
  }

  setMulticastTTL(ttl: number): number {
    return this.socket.setMulticastTTL(ttl);
  }

  setMulticastLoopback(flag: boolean): boolean {
    return this.socket.setMulticastLoopback(flag);
  }

  setMulticastInterface(address: string): void {
    // Pinned: already set in onListening, and multicast-dns may only ask for the same address.
    if (this.pinned) return;
    this.socket.setMulticastInterface(address);
  }

  addMembership(group: string, address?: string): void {
    if (this.pinned) {
      // Joined in onListening; anything else would listen beyond the pinned interface.
      if (group === MDNS_GROUP && address === this.pinned.address && this.joined) return;
      throw new MdnsSocketError({ message: `refusing membership ${group} on ${address}: pinned to ${this.pinned.address}` });
    }
    this.socket.addMembership(group, address);
  }

  dropMembership(group: string, address?: string): void {
    this.socket.dropMembership(group, address);
  }

  close(callback?: () => void): void {
    if (this.state === 'closed') {
      if (callback) process.nextTick(callback);
      return;
    }
    this.state = 'closed';
    try {
      this.socket.close(callback);
    } catch {
      // Never bound / already closed: nothing left open.
      if (callback) process.nextTick(callback);
    }
  }
}
