/**
 * Accepted connections that have not authenticated yet, capped: in all, and per source address.
 * Past a cap the OLDEST such connection is dropped — a flood of idle or half-open connections
 * then costs a bounded amount of memory and file descriptors, and pushes out its own oldest
 * members first, while a well-behaved peer (which authenticates within milliseconds) gets
 * through. Loopback sources share only the total cap: every local process is one of them.
 */
import type { Socket } from 'node:net';

import { normalizeAddress } from './transport';

export interface UnauthenticatedLimits {
  /** Unauthenticated connections in all (default 256). */
  total: number;
  /** Unauthenticated connections from one non-loopback address (default 32). */
  perSource: number;
}

export const DEFAULT_UNAUTHENTICATED_LIMITS: UnauthenticatedLimits = { total: 256, perSource: 32 };

interface Entry {
  socket: Socket;
  host: string;
  from: string;
  /** The connection speaking on the socket, once there is one. */
  connection?: object;
}

export class UnauthenticatedConnections {
  private readonly limits: UnauthenticatedLimits;
  /** In arrival order: the first is the oldest. */
  private readonly entries = new Map<Socket, Entry>();
  private readonly byConnection = new Map<object, Socket>();
  private readonly perHost = new Map<string, number>();

  constructor(
    limits: Partial<UnauthenticatedLimits> | undefined,
    private readonly dropped: (from: string, why: string) => void,
  ) {
    this.limits = { ...DEFAULT_UNAUTHENTICATED_LIMITS, ...limits };
  }

  get size(): number {
    return this.entries.size;
  }

  add(socket: Socket, from: string): void {
    const host = normalizeAddress(socket.remoteAddress) ?? '?';
    this.entries.set(socket, { socket, host, from });
    this.perHost.set(host, (this.perHost.get(host) ?? 0) + 1);
    socket.once('close', () => this.remove(socket));
    if (!isLoopback(host) && this.perHost.get(host)! > this.limits.perSource) {
      for (const e of this.entries.values()) {
        if (e.host === host) {
          this.drop(e, `more than ${this.limits.perSource} unauthenticated connections from ${host}: the oldest is dropped`);
          break;
        }
      }
    }
    if (this.entries.size > this.limits.total) {
      const oldest = this.entries.values().next().value!;
      this.drop(oldest, `more than ${this.limits.total} unauthenticated connections: the oldest is dropped`);
    }
  }

  /** The connection now speaking on `socket` (so `opened` can find it). */
  attach(socket: Socket, connection: object): void {
    const entry = this.entries.get(socket);
    if (!entry) return;
    entry.connection = connection;
    this.byConnection.set(connection, socket);
  }

  /** The connection authenticated, or closed: it no longer counts. */
  opened(connection: object): void {
    const socket = this.byConnection.get(connection);
    if (socket) this.remove(socket);
  }

  closeAll(): void {
    for (const e of [...this.entries.values()]) e.socket.destroy();
  }

  private drop(entry: Entry, why: string): void {
    this.remove(entry.socket);
    this.dropped(entry.from, why);
    entry.socket.destroy();
  }

  private remove(socket: Socket): void {
    const entry = this.entries.get(socket);
    if (!entry) return;
    this.entries.delete(socket);
    const n = (this.perHost.get(entry.host) ?? 1) - 1;
    if (n > 0) this.perHost.set(entry.host, n);
    else this.perHost.delete(entry.host);
    if (entry.connection) this.byConnection.delete(entry.connection);
  }
}

function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.');
}
