/**
 * The VR end of the VR ⇄ engine port. Everything a VR asks of its engine goes through here: sends
 * are batched (one port message per microtask burst), requests are matched to replies by id and
 * all fail when the link closes. Message bodies from a VR that a sibling package intercepts (see
 * internal.ts) go to it as bytes, before anything decodes them.
 */
import { PendingRequests } from '../engine/pending';
import { packOutbox, unpackEntries } from '../port-batch';
import { StoppedError } from '../errors/stopped-error';
import { fromWireError, type WireError } from '../errors/wire';
import { ToEngineKind, ToVRKind, type PortOp, type ToEngine, type ToVR, type UUID } from '../protocol';
import type { VMInfo } from '../vm-info';

export interface LinkPort {
  postMessage(value: unknown, transfer?: ArrayBuffer[]): void;
  on(event: 'message', listener: (value: unknown) => void): unknown;
  off?(event: 'message', listener: (value: unknown) => void): unknown;
  close?(): void;
  unref?(): void;
  ref?(): void;
}

export interface LinkHandlers {
  message(src: UUID, body: Uint8Array): void;
  gone(uuid: UUID, error: Error): void;
  stop(): void;
  closed(error: Error): void;
  vmEvent(subscription: number, kind: 'up' | 'down', info: VMInfo): void;
}

/** Takes a message body before it is decoded; returns false to leave it to the VR's mailbox. */
export type BodyTap = (body: Uint8Array) => boolean;

export class EngineLink {
  private outbox: ToEngine[] = [];
  private scheduled = false;
  private readonly requests = new PendingRequests();
  private closedWith: Error | undefined;
  private handlers: LinkHandlers | undefined;
  /** Per sender: who takes its message bodies first (see `intercept`). */
  private readonly taps = new Map<UUID, BodyTap>();
  private readonly listener = (value: unknown) => {
    if (Array.isArray(value)) this.receive(value as ToVR[]);
  };

  private readonly stopFlag: Int32Array | undefined;
  /** Metric increments not yet reported, by name and label values (see `count`). */
  private readonly counts = new Map<string, [string, string[], number]>();

  constructor(
    private readonly port: LinkPort,
    /** Set to 1 by the engine when the VM is stopping (a VR in a worker thread has one). */
    stopFlag?: SharedArrayBuffer,
  ) {
    this.stopFlag = stopFlag ? new Int32Array(stopFlag) : undefined;
    port.on('message', this.listener);
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** True once the engine asked this VR to stop, read now (not when the stop message is read). */
  get stopRequested(): boolean {
    return this.stopFlag !== undefined && Atomics.load(this.stopFlag, 0) === 1;
  }

  attach(handlers: LinkHandlers): void {
    this.handlers = handlers;
  }

  send(dest: UUID, body: Uint8Array, flags = 0): void {
    this.push(flags ? [ToEngineKind.SEND, dest, body, flags] : [ToEngineKind.SEND, dest, body]);
  }

  /**
   * Offers every message body from `src` to `take` before it is decoded, in arrival order; a body
   * it takes never reaches the mailbox. One tap per sender; returns the function that removes it.
   */
  intercept(src: UUID, take: BodyTap): () => void {
    if (this.taps.has(src)) throw new Error(`a tap for messages from ${src} is already set`);
    this.taps.set(src, take);
    return () => {
      if (this.taps.get(src) === take) this.taps.delete(src);
    };
  }

  watch(uuid: UUID): void {
    this.push([ToEngineKind.WATCH, uuid]);
  }

  started(error: WireError | null): void {
    this.push([ToEngineKind.STARTED, error]);
  }

  exited(): void {
    this.push([ToEngineKind.EXIT]);
  }

  request<T>(op: PortOp, args: unknown, timeoutMs?: number): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return this.requests.start((id) => this.push([ToEngineKind.REQUEST, id, op, args]), timeoutMs, op) as Promise<T>;
  }

  /** Adds `n` to the counter `name` (with these label values) that an extension declared on its VM. */
  count(name: string, labels: string[], n: number): void {
    const key = `${name}\0${labels.join('\0')}`;
    const entry = this.counts.get(key);
    if (entry) entry[2] += n;
    else this.counts.set(key, [name, labels, n]);
  }

  /** Reports the heap in use and the counts since the last report (a worker VR does so every second). */
  reportUsage(heapUsed: number): void {
    if (this.closedWith) return;
    const counts = [...this.counts.values()];
    this.counts.clear();
    this.push([ToEngineKind.USAGE, { heapUsed, counts }]);
  }

  /** Posts what is queued now (used before a worker ends). */
  flushNow(): void {
    this.flush();
  }

  close(error: Error = new StoppedError({ message: 'the engine link is closed' })): void {
    if (this.closedWith) return;
    this.flush();
    this.closedWith = error;
    this.port.off?.('message', this.listener);
    this.requests.failAll(error);
    this.handlers?.closed(error);
  }

  private push(item: ToEngine): void {
    if (this.closedWith) throw this.closedWith;
    this.outbox.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.outbox.length === 0 || this.closedWith) return;
    const packed = packOutbox(this.outbox);
    this.outbox = [];
    this.port.postMessage(packed.items, packed.transfer);
  };

  private readonly deliver = (src: UUID, body: Uint8Array): void => {
    const take = this.taps.size > 0 ? this.taps.get(src) : undefined;
    if (take !== undefined) {
      let taken: boolean;
      try {
        taken = take(body);
      } catch (error) {
        // A tap that throws is a bug in its owner: report it loudly, but keep delivering the
        // other messages of this port message (the body goes to the mailbox).
        queueMicrotask(() => {
          throw error;
        });
        taken = false;
      }
      if (taken) return;
    }
    this.handlers?.message(src, body);
  };

  private receive(items: ToVR[]): void {
    const h = this.handlers;
    for (const item of items) {
      switch (item[0]) {
        case ToVRKind.MESSAGE:
          if (h) this.deliver(item[1], item[2]);
          break;
        case ToVRKind.PACKED:
          if (h) unpackEntries(item[1], this.deliver);
          break;
        case ToVRKind.RESPONSE:
          this.requests.settle(item[1], item[2], item[2] ? item[3] : fromWireError(item[3] as WireError));
          break;
        case ToVRKind.GONE:
          h?.gone(item[1], fromWireError(item[2]));
          break;
        case ToVRKind.STOP:
          h?.stop();
          break;
        case ToVRKind.VM_EVENT:
          h?.vmEvent(item[1], item[2], item[3]);
          break;
      }
    }
  }
}
