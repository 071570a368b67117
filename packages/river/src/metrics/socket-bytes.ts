/**
 * Bytes in and out of an engine's TCP connections, counted from the sockets themselves: every
 * socket this thread dials (`net.client.socket`) and every one its server accepts on the engine's
 * port (`net.server.socket`; the metrics server's own sockets are on another port and not
 * counted). Node publishes both channels on the thread that makes the socket, so the sockets of
 * user code in VR workers are never counted here.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';

export class SocketBytes {
  private readonly live = new Set<Socket>();
  private closedIn = 0;
  private closedOut = 0;
  private readonly onClient = (message: unknown) => this.track((message as { socket: Socket }).socket);
  private readonly onServer = (message: unknown) => {
    const socket = (message as { socket: Socket }).socket;
    if (socket.localPort === this.port()) this.track(socket);
  };

  /** `port()`: the engine's listening port (read when a socket is accepted). */
  constructor(private readonly port: () => number | undefined) {
    subscribe('net.client.socket', this.onClient);
    subscribe('net.server.socket', this.onServer);
  }

  /** Bytes read and written so far, closed sockets included. */
  totals(): { in: number; out: number } {
    let bytesIn = this.closedIn;
    let bytesOut = this.closedOut;
    for (const s of this.live) {
      bytesIn += s.bytesRead;
      bytesOut += s.bytesWritten;
    }
    return { in: bytesIn, out: bytesOut };
  }

  stop(): void {
    unsubscribe('net.client.socket', this.onClient);
    unsubscribe('net.server.socket', this.onServer);
  }

  private track(socket: Socket): void {
    this.live.add(socket);
    socket.once('close', () => {
      if (!this.live.delete(socket)) return;
      this.closedIn += socket.bytesRead;
      this.closedOut += socket.bytesWritten;
    });
  }
}
