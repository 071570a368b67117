/**
 * The byte stream under a connection, behind a small interface so the handshake, framing and
 * heartbeat logic of `Connection` can be tested with an in-memory pair and run for real over TCP.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

import { channelBinding, explainTlsError } from './tls-channel';

export interface TransportHandlers {
  data(chunk: Uint8Array): void;
  /** The stream ended or failed; called once. */
  close(error?: Error): void;
}

export interface Transport {
  /** Where the other end is (an IP for TCP), for logs and for learning a peer's address. */
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** Writes several chunks at once (one syscall where the stream allows it). */
  write(chunks: Uint8Array[]): void;
  /** Bytes written but not yet handed to the operating system (the peer is not keeping up). */
  readonly bufferedBytes: number;
  /** Flushes what was written, then closes. */
  end(): void;
  /** Closes now, dropping anything unsent. */
  destroy(): void;
  start(handlers: TransportHandlers): void;
  /** Keying material of the encrypted channel, when there is one (see tls-channel.ts). */
  channelBinding?(): Uint8Array;
}

/** A TCP socket, or the TLS channel over one, as a Transport. */
export class SocketTransport implements Transport {
  private handlers: TransportHandlers | undefined;
  private closed = false;
  private secured = false;

  /** `tls` is the channel over `socket` on a keyed connection; bytes then go through it. */
  constructor(
    private readonly tcp: Socket,
    private readonly tls?: TLSSocket,
  ) {
    tcp.setNoDelay(true);
    tls?.once('secure', () => (this.secured = true)).once('secureConnect', () => (this.secured = true));
  }

  private get socket(): Socket {
    return this.tls ?? this.tcp;
  }

  channelBinding(): Uint8Array {
    return this.tls ? channelBinding(this.tls) : new Uint8Array(0);
  }

  get remoteAddress(): string | undefined {
    return normalizeAddress(this.tcp.remoteAddress);
  }
  get remotePort(): number | undefined {
    return this.tcp.remotePort;
  }
  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  start(handlers: TransportHandlers): void {
    this.handlers = handlers;
    this.socket.on('data', (chunk: Buffer) => this.handlers?.data(chunk));
    this.socket.on('error', (err) => this.finish(this.tls ? (explainTlsError(err, this.secured) ?? err) : err));
    this.socket.on('close', () => this.finish());
    // A TLS socket does not always pass on its TCP socket's errors (a reset during the handshake).
    if (this.tls) this.tcp.on('error', (err) => this.finish(err));
    // The peer half-closed: we have nothing more to say either.
    this.socket.on('end', () => this.socket.end());
  }

  write(chunks: Uint8Array[]): void {
    if (this.closed || this.socket.destroyed) return;
    if (chunks.length === 1) {
      this.socket.write(chunks[0]!);
      return;
    }
    this.socket.write(Buffer.concat(chunks));
  }

  end(): void {
    if (!this.socket.destroyed) this.socket.end();
    // Never linger on a peer that does not finish the close.
    setTimeout(() => this.destroy(), 2000).unref();
  }

  destroy(): void {
    this.socket.destroy();
    this.tcp.destroy();
  }

  private finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.close(error);
  }
}

/** `::ffff:127.0.0.1` → `127.0.0.1`. */
export function normalizeAddress(address: string | undefined): string | undefined {
  if (address?.startsWith('::ffff:')) return address.slice(7);
  return address;
}

/** Two connected in-memory transports (for tests): what one writes, the other receives, asynchronously. */
export function memoryTransportPair(): [MemoryTransport, MemoryTransport] {
  const a = new MemoryTransport();
  const b = new MemoryTransport();
  a.other = b;
  b.other = a;
  return [a, b];
}

export class MemoryTransport implements Transport {
  other: MemoryTransport | undefined;
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 0;
  readonly bufferedBytes = 0;
  /** Every chunk written, for inspection. */
  readonly written: Uint8Array[] = [];
  private handlers: TransportHandlers | undefined;
  private pending: Uint8Array[] = [];
  private closed = false;

  start(handlers: TransportHandlers): void {
    this.handlers = handlers;
    const pending = this.pending;
    this.pending = [];
    for (const c of pending) handlers.data(c);
  }

  write(chunks: Uint8Array[]): void {
    if (this.closed) return;
    const data = Buffer.concat(chunks);
    this.written.push(data);
    const other = this.other;
    setImmediate(() => other?.receive(data));
  }

  /** Delivers bytes as if the other end wrote them. */
  receive(data: Uint8Array): void {
    if (this.closed) return;
    if (this.handlers) this.handlers.data(data);
    else this.pending.push(data);
  }

  end(): void {
    setImmediate(() => this.destroy());
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.close();
    const other = this.other;
    setImmediate(() => other?.destroy());
  }
}
