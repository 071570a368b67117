import { RequestTimeoutError } from '../errors/timeout-error';

interface Pending<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Requests waiting for their reply, keyed by id. One instance per link (connection or port):
 * when the link dies, `failAll` rejects every request still waiting, so nothing hangs.
 */
export class PendingRequests<T = unknown> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending<T>>();

  get size(): number {
    return this.pending.size;
  }

  /** Registers a request; `send(id)` sends it. Rejects with RequestTimeoutError after `timeoutMs`. */
  start(send: (id: number) => void, timeoutMs: number | undefined, what: string): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              if (this.pending.delete(id)) reject(new RequestTimeoutError({ message: `${what}: no reply within ${timeoutMs} ms` }));
            }, timeoutMs);
      timer?.unref?.();
      this.pending.set(id, { resolve, reject, timer });
      try {
        send(id);
      } catch (error) {
        this.settle(id, false, error);
      }
    });
  }

  /** Settles request `id`; false when no such request waits (late or unknown reply). */
  settle(id: number, ok: boolean, value: unknown): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if (ok) p.resolve(value as T);
    else p.reject(value);
    return true;
  }

  failAll(error: unknown): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(error);
    }
  }
}
