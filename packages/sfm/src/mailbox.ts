import { MailboxClosedError } from './errors/mailbox-closed-error';
import { TimeoutError } from './errors/timeout-error';
import type { Guarded, Message, MessageType } from './message';
import { MessageQueue } from './message-queue';
import { toPredicate, type Pattern, type Selector } from './pattern';
import { ReceiverQueue, type Receiver } from './receiver-queue';

export interface RecvOptions {
  /** Reject with `TimeoutError` when no matching message arrived within this many ms (>= 0; `Infinity` or over 2^31 - 1: none). */
  readonly timeoutMs?: number;
  /** Reject with `signal.reason` when it aborts (at once if it already has). */
  readonly signal?: AbortSignal;
}

/**
 * A process's mailbox with selective receive. `put` appends a message; `recv(pattern)` takes
 * the oldest queued message that matches and leaves the others in arrival order. When several
 * receivers wait, each message goes to exactly one of them: the earliest-waiting receiver
 * whose pattern matches it.
 */
export class Mailbox {
  private readonly queue = new MessageQueue();
  private readonly receivers = new ReceiverQueue();
  private closedWith: Error | undefined;

  /** Number of queued (unreceived) messages. */
  get size(): number {
    return this.queue.size;
  }

  /** Number of `recv` calls waiting for a message. */
  get waiting(): number {
    return this.receivers.size;
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /**
   * Delivers `msg` to the earliest waiting receiver that matches it, or queues it. Returns
   * false (and drops the message) when the mailbox is closed.
   */
  put(message: MessageType): boolean {
    const msg = message as Message;
    if (this.closedWith) return false;
    let next: Receiver | undefined;
    for (let receiver = this.receivers.first; receiver; receiver = next) {
      next = receiver.next;
      let accepted: boolean;
      try {
        accepted = receiver.accepts(msg);
      } catch (error) {
        // A throwing predicate fails its own receiver, not the sender.
        if (this.receivers.remove(receiver)) receiver.reject(error);
        continue;
      }
      if (accepted && this.receivers.remove(receiver)) {
        receiver.resolve(msg);
        return true;
      }
    }
    this.queue.push(msg);
    return true;
  }

  /**
   * Resolves with the oldest queued message for which `predicate` returns true; a type guard
   * (`(m: unknown) => m is Pong`) types the result.
   */
  recv<F extends (msg: Message) => boolean>(predicate: F, options?: RecvOptions): Promise<Guarded<F>>;
  /**
   * Resolves with the oldest queued message that matches `pattern` (any message when omitted),
   * waiting for one if none is queued.
   */
  recv(pattern?: Pattern, options?: RecvOptions): Promise<Message>;
  /**
   * `recv<Pong>(pattern)`: the pattern is checked against `Pong` (only its attributes, with values
   * of their types) and the result typed as one. `M` is trusted, as with any deserialised data.
   */
  recv<M extends MessageType>(pattern?: Pattern<NoInfer<M>>, options?: RecvOptions): Promise<M>;
  recv(selector?: Selector, options?: RecvOptions): Promise<Message> {
    const timeoutMs = options?.timeoutMs;
    const signal = options?.signal;
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (timeoutMs !== undefined && !(timeoutMs >= 0)) {
      return Promise.reject(new RangeError(`timeoutMs must be a number >= 0, got ${String(timeoutMs)}`));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);

    const accepts = toPredicate(selector);
    let queued: Message | undefined;
    try {
      queued = this.queue.take(accepts);
    } catch (error) {
      return Promise.reject(error);
    }
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise<Message>((resolve, reject) => this.wait(selector, accepts, resolve, reject, timeoutMs, signal));
  }

  /** Removes and returns the oldest queued message that matches, or undefined. */
  tryRecv<F extends (msg: Message) => boolean>(predicate: F): Guarded<F> | undefined;
  tryRecv(pattern?: Pattern): Message | undefined;
  tryRecv<M extends MessageType>(pattern?: Pattern<NoInfer<M>>): M | undefined;
  tryRecv(selector?: Selector): Message | undefined {
    return this.queue.take(toPredicate(selector));
  }

  /** Returns the oldest queued message that matches, or undefined, leaving it queued. */
  peek<F extends (msg: Message) => boolean>(predicate: F): Guarded<F> | undefined;
  peek(pattern?: Pattern): Message | undefined;
  peek<M extends MessageType>(pattern?: Pattern<NoInfer<M>>): M | undefined;
  peek(selector?: Selector): Message | undefined {
    return this.queue.find(toPredicate(selector));
  }

  /**
   * Rejects with `reason` every waiting receiver whose selector `which` picks (it is given the
   * pattern or predicate that receiver passed to `recv`). For the layer above: e.g. fail the
   * receivers waiting on a peer that is gone. Returns how many were rejected.
   */
  rejectReceivers(which: (selector: Selector | undefined) => boolean, reason: Error): number {
    let rejected = 0;
    let next: Receiver | undefined;
    for (let receiver = this.receivers.first; receiver; receiver = next) {
      next = receiver.next;
      if (which(receiver.selector) && this.receivers.remove(receiver)) {
        receiver.reject(reason);
        rejected++;
      }
    }
    return rejected;
  }

  /**
   * Closes the mailbox: every waiting receiver, and every later `recv`, rejects with `reason`;
   * later `put`s are dropped. Returns the messages that were still queued (oldest first), so
   * the caller can bounce them. Closing again does nothing and returns [].
   */
  close(reason: Error = new MailboxClosedError()): Message[] {
    if (this.closedWith) return [];
    this.closedWith = reason;
    for (let receiver = this.receivers.first; receiver; receiver = this.receivers.first) {
      this.receivers.remove(receiver);
      receiver.reject(reason);
    }
    return this.queue.drain();
  }

  private wait(
    selector: Selector | undefined,
    accepts: (msg: Message) => boolean,
    resolve: (msg: Message) => void,
    reject: (reason: unknown) => void,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
  ): void {
    const receiver: Receiver = {
      selector,
      accepts,
      resolve,
      reject,
      cleanup: noop,
      prev: undefined,
      next: undefined,
      queued: false,
    };
    let timer: NodeJS.Timeout | undefined;
    // Node fires longer timers at once, so a longer timeout (over 24 days) means none.
    if (timeoutMs !== undefined && timeoutMs <= MAX_TIMER_MS) {
      timer = setTimeout(() => {
        if (this.receivers.remove(receiver)) reject(new TimeoutError(timeoutMs));
      }, timeoutMs);
    }
    const onAbort = (): void => {
      if (this.receivers.remove(receiver)) reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timer || signal) {
      receiver.cleanup = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
    }
    this.receivers.push(receiver);
  }
}

const noop = (): void => {};
const MAX_TIMER_MS = 2 ** 31 - 1;
