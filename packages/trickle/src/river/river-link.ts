/**
 * A SessionLink over River: the initiator VR sends each batch of encoded requests as the body
 * of one SFM message to the session's RAI VR, and takes the reply batches from that VR as they
 * arrive. River's connection ordering keeps requests in order; a lost VM or connection, or an
 * ended RAI VR, rejects the receive loop and is reported through `lost`.
 *
 * Batches are written straight into their SFM body and read straight out of it (rai-body.ts),
 * before River would decode them into the mailbox: one encode and one decode per request, and no
 * mailbox round per batch. The mailbox still gets everything else from the RAI VR (drain,
 * `river:exit`, bounces), and the receive loop's `recv({ src })` still reports a lost VM.
 */
import type { Initiator, UUID, VMInfo } from '@river/engine';
import { interceptFrom, sendEncoded } from '@river/engine/internal';
import { ResourceLimitError } from '../errors';
import type { LinkListener, SessionLink, VMRef } from '../session-link';
import { MessageBatcher, unbatch } from '../worker/batch';
import { raiBodyHeader, readRaiBody } from './rai-body';
import { RAI_DRAIN_TAG, RAI_END_TAG, RAI_MAX_MESSAGE_BYTES } from './tags';

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
  readonly maxMessageBytes = RAI_MAX_MESSAGE_BYTES;
  private listener: LinkListener | undefined;
  private ended: { reason: Error } | undefined;
  private closing: Promise<void> | undefined;
  private readonly requests: MessageBatcher;
  private readonly receiving: Promise<void>;
  private readonly stopReceiving = new AbortController();
  private readonly untap: () => void;
  private readonly deliver = (bytes: Uint8Array): void => {
    if (!this.ended) this.listener?.message(bytes);
  };

  constructor(
    private readonly initiator: Initiator,
    readonly info: VMInfo,
    readonly rai: UUID,
    /** The resource limits the session was deployed with (named in a ResourceLimitError). */
    private readonly limits: { maxOldGenerationSizeMb?: number } = {},
  ) {
    this.vm = { id: info.id, name: info.name };
    this.requests = new MessageBatcher((body) => sendEncoded(this.initiator, this.rai, body), raiBodyHeader);
    this.untap = interceptFrom(initiator, rai, (body) => {
      const batch = readRaiBody(body);
      if (batch === undefined) return false;
      unbatch(batch, this.deliver);
      return true;
    });
    this.receiving = this.receive();
  }

  /** Where the initiator's other sessions reach this one (forkWork `reduce`). */
  get address(): string {
    return this.rai;
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
        // The RAI VR returns from main; River tells its parent with a river:exit message. A
        // session busy in a long call never reads the end: it is terminated after a while.
        const timers = [
          setTimeout(() => void this.initiator.terminate(this.rai, 'it did not end when its session was closed').catch(() => undefined), CLOSE_TIMEOUT_MS),
          setTimeout(() => this.stopReceiving.abort(new Error('close timed out')), 2 * CLOSE_TIMEOUT_MS),
        ];
        await this.receiving;
        for (const timer of timers) clearTimeout(timer);
      }
      this.stopReceiving.abort(new Error('closed'));
      this.end(new Error(`the session on VM '${this.vm.name}' was closed`));
    })();
    return this.closing;
  }

  /** Ends the session now: River terminates the RAI VR's worker, even in the middle of a call. */
  cancel(reason: Error): Promise<void> {
    this.closing ??= (async () => {
      if (!this.ended) {
        this.end(reason);
        await this.initiator.terminate(this.rai, reason.message).catch(() => undefined);
        // Its river:exit ends the receive loop (bounded, in case it never comes).
        const timer = setTimeout(() => this.stopReceiving.abort(new Error('cancel timed out')), CLOSE_TIMEOUT_MS);
        await this.receiving;
        clearTimeout(timer);
      }
      this.stopReceiving.abort(new Error('cancelled'));
    })();
    return this.closing;
  }

  /** Why the session ended, from River's error: running out of memory is a ResourceLimitError. */
  private endedBecause(error: unknown, ended: string): Error {
    const limit = withCode(error, 'RIVER_RESOURCE_LIMIT') as { limits?: { maxOldGenerationSizeMb?: unknown } } | undefined;
    if (limit) {
      // The limit the VM applied (it may cap what we asked for), else the one we asked for.
      const applied = limit.limits?.maxOldGenerationSizeMb;
      return new ResourceLimitError(this.vm, { limitMb: typeof applied === 'number' ? applied : this.limits.maxOldGenerationSizeMb, cause: error });
    }
    if (!(error instanceof Error)) return new Error(ended || String(error));
    return ended ? new Error(`${ended}: ${error.message}`, { cause: error }) : error;
  }

  private async receive(): Promise<void> {
    try {
      for (;;) {
        const msg = await this.initiator.recv<{ tag: string; b?: Uint8Array; error?: unknown }>(
          { src: this.rai },
          { signal: this.stopReceiving.signal },
        );
        // Reply batches never get here (see the constructor). A lost session is reported by this
        // recv failing, or by a bounce of our requests.
        if (msg.tag === RAI_DRAIN_TAG) {
          // The VM is stopping: no new work (listener), then acknowledge after what is queued.
          if (!this.ended) this.listener?.draining?.();
          this.requests.flush();
          this.initiator.send(this.rai, { tag: RAI_DRAIN_TAG });
        } else if (msg.tag === 'river:undeliverable') {
          // Requests that could not reach the session: it is gone, or they could not be carried
          // (and then it would wait for them forever: end it).
          this.end(this.endedBecause(msg.error, `requests to the session on VM '${this.vm.name}' could not be delivered`));
          void this.initiator.terminate(this.rai, 'its requests could not be delivered').catch(() => undefined);
          return;
        } else if (msg.tag === 'river:exit') {
          this.end(this.endedBecause(msg.error instanceof Error ? msg.error : undefined, `the session on VM '${this.vm.name}' ended`));
          return;
        }
      }
    } catch (error) {
      this.end(this.endedBecause(error, ''));
    }
  }

  private end(reason: Error): void {
    if (this.ended) return;
    this.ended = { reason };
    this.untap();
    this.listener?.lost(reason);
  }
}

/** `error` or the first of its causes that has `code`. */
function withCode(error: unknown, code: string): Error | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if ((e as Error & { code?: unknown }).code === code) return e;
  }
  return undefined;
}
