import type { Message } from './message';

interface Node {
  readonly msg: Message;
  next: Node | undefined;
}

/**
 * The messages of a mailbox in arrival order: a singly linked list, so taking the head is O(1)
 * and taking a match from the middle is one scan with no array shifting.
 */
export class MessageQueue {
  private head: Node | undefined;
  private tail: Node | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(msg: Message): void {
    const node: Node = { msg, next: undefined };
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.count++;
  }

  /** The oldest message that satisfies `predicate`, or undefined; it stays queued. */
  find(predicate: (msg: Message) => boolean): Message | undefined {
    for (let node = this.head; node; node = node.next) {
      if (predicate(node.msg)) return node.msg;
    }
    return undefined;
  }

  /** Removes and returns the oldest message that satisfies `predicate`, or undefined. */
  take(predicate: (msg: Message) => boolean): Message | undefined {
    let prev: Node | undefined;
    for (let node = this.head; node; prev = node, node = node.next) {
      if (!predicate(node.msg)) continue;
      if (prev) prev.next = node.next;
      else this.head = node.next;
      if (this.tail === node) this.tail = prev;
      this.count--;
      return node.msg;
    }
    return undefined;
  }

  /** Empties the queue and returns what it held, oldest first. */
  drain(): Message[] {
    const all: Message[] = [];
    for (let node = this.head; node; node = node.next) all.push(node.msg);
    this.head = this.tail = undefined;
    this.count = 0;
    return all;
  }
}
