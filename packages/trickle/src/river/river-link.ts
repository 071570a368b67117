/**
 * A SessionLink over River: the initiator VR sends each batch of encoded requests as the body
 * of one SFM message to the session's RAI VR, and takes replies from that VR off its mailbox.
 * River's connection ordering keeps requests in order; a lost VM or connection, or an ended RAI
 * VR, rejects the receive loop and is reported through `lost`.
 */
import type { Initiator, UUID, VMInfo } from '@river/engine';
import type { LinkListener, SessionLink, VMRef } from '../session-link';
import { MessageBatcher, unbatch } from '../worker/batch';
import { RAI_DRAIN_TAG, RAI_END_TAG, RAI_TAG } from './tags';

/** How long close() waits for the RAI VR to confirm its end. */
const CLOSE_TIMEOUT_MS = 5000;

/** Busy sessions per initiator: the engine keeps the process alive only while one is busy. */
const busy = new WeakMap<Initiator, number>();

/** Counts a reason to keep the process alive for `initiator` (+1) or drops one (-1). */
export function keepAlive(initiator: Initiator, delta: 1 | -1): void {
  const before = busy.get(initiator) ?? 0;
  const after = Math.max(0, before + delta);
  busy.set(initiator, after);
  if (before === 0 && after > 0) initiator.ref();
  else if (before > 0 && after === 0) initiator.unref();
}

export class RiverLink implements SessionLink {
  readonly vm: VMRef;
  private listener: LinkListener | undefined;
  private ended: { reason: Error } | undefined;
  private closing: Promise<void> | undefined;
  private readonly requests: MessageBatcher;
  private readonly receiving: Promise<void>;
  private readonly stopReceiving = new AbortController();

  constructor(
    private readonly initiator: Initiator,
    readonly info: VMInfo,
    readonly rai: UUID,
  ) {
    this.vm = { id: info.id, name: info.name };
    this.requests = new MessageBatcher((batch) => this.initiator.send(this.rai, { tag: RAI_TAG, b: batch }));
    this.receiving = this.receive();
  }

  ref(): void {
    keepAlive(this.initiator, +1);
  }

  unref(): void {
    keepAlive(this.initiator, -1);
  }

  send(bytes: Uint8Array): void {
    if (!this.ended) this.requests.push(bytes);
  }

  listen(listener: LinkListener): void {
    this.listener = listener;
    if (this.ended) listener.lost(this.ended.reason);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.ended) {
        this.requests.flush();
        this.initiator.send(this.rai, { tag: RAI_END_TAG });
        // The RAI VR returns from main; River tells its parent with a river:exit message.
        const timer = setTimeout(() => this.stopReceiving.abort(new Error('close timed out')), CLOSE_TIMEOUT_MS);
        await this.receiving;
        clearTimeout(timer);
      }
      this.stopReceiving.abort(new Error('closed'));
      this.end(new Error(`the session on VM '${this.vm.name}' was closed`));
    })();
    return this.closing;
  }

  private async receive(): Promise<void> {
    try {
      for (;;) {
        const msg = await this.initiator.recv<{ tag: string; b?: Uint8Array; error?: unknown }>(
          { src: this.rai },
          { signal: this.stopReceiving.signal },
        );
        if (msg.tag === RAI_TAG && msg.b instanceof Uint8Array) {
          unbatch(msg.b, (bytes) => this.deliver(bytes));
        } else if (msg.tag === RAI_DRAIN_TAG) {
          // The VM is stopping: no new work (listener), then acknowledge after what is queued.
          if (!this.ended) this.listener?.draining?.();
          this.requests.flush();
          this.initiator.send(this.rai, { tag: RAI_DRAIN_TAG });
        } else if (msg.tag === 'river:exit') {
          const error = msg.error instanceof Error ? msg.error : undefined;
          this.end(new Error(`the session on VM '${this.vm.name}' ended${error ? `: ${error.message}` : ''}`, { cause: error }));
          return;
        }
      }
    } catch (error) {
      this.end(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private deliver(bytes: Uint8Array): void {
    if (!this.ended) this.listener?.message(bytes);
  }

  private end(reason: Error): void {
    if (this.ended) return;
    this.ended = { reason };
    this.listener?.lost(reason);
  }
}
