import type { Message } from './message';
import type { Selector } from './pattern';

/** A pending `recv`: what it waits for and how to settle it. */
export interface Receiver {
  readonly selector: Selector | undefined;
  readonly accepts: (msg: Message) => boolean;
  readonly resolve: (msg: Message) => void;
  readonly reject: (reason: unknown) => void;
  /** Stops the receiver's timer and abort listener; called once, when it leaves the queue. */
  cleanup: () => void;
  prev: Receiver | undefined;
  next: Receiver | undefined;
  queued: boolean;
}

/**
 * Pending receivers, earliest first: a doubly linked list, so a receiver that times out or is
 * aborted leaves in O(1) wherever it is.
 */
export class ReceiverQueue {
  private head: Receiver | undefined;
  private tail: Receiver | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get first(): Receiver | undefined {
    return this.head;
  }

  push(receiver: Receiver): void {
    receiver.prev = this.tail;
    receiver.next = undefined;
    if (this.tail) this.tail.next = receiver;
    else this.head = receiver;
    this.tail = receiver;
    receiver.queued = true;
    this.count++;
  }

  /** Unlinks `receiver` and stops its timer; false when it had already left. */
  remove(receiver: Receiver): boolean {
    if (!receiver.queued) return false;
    if (receiver.prev) receiver.prev.next = receiver.next;
    else this.head = receiver.next;
    if (receiver.next) receiver.next.prev = receiver.prev;
    else this.tail = receiver.prev;
    receiver.queued = false;
    this.count--;
    receiver.cleanup();
    return true;
  }
}
