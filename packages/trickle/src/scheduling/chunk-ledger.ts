/**
 * Which chunks of a forkWork run are out, which came back, and which must be handed out again
 * because the VM they were on was lost (or, stopping, refused them). It sits in front of the run's WorkQueue: chunks to re-issue
 * come before new ones (lowest index first, so `ordered` consumers are unblocked soonest).
 *
 * The rule that makes re-issue safe: a chunk counts once. The first reply for a chunk completes
 * it; any later reply for the same index (a duplicate attempt, a straggler) is ignored.
 */
import type { Chunk, WorkQueue } from './work-queue';

interface OpenChunk<W> {
  readonly chunk: Chunk<W>;
  /** Attempts in flight (normally 1; 0 while it waits to be re-issued). */
  attempts: number;
  /** An attempt of it was lost with its VM. */
  lost: boolean;
}

export class ChunkLedger<W> {
  /** Handed out (or waiting to be re-issued) and not completed, by index. Completed ones leave. */
  private readonly open = new Map<number, OpenChunk<W>>();
  /** Chunks waiting for another VM, lowest index first. */
  private readonly again: OpenChunk<W>[] = [];
  private exhausted = false;

  constructor(private readonly queue: WorkQueue<W>) {}

  /** All items, when the queue knows. */
  get total(): number | undefined {
    return this.queue.total;
  }

  /** True once the queue is empty, nothing waits for re-issue and nothing is out. */
  get finished(): boolean {
    return this.exhausted && this.open.size === 0;
  }

  /** Chunks waiting for a VM (re-issues, or one taken from the queue by `hasWork`). */
  get waiting(): number {
    return this.again.length;
  }

  /** The next chunk to hand out (a re-issue first), counted as one attempt; undefined when none. */
  take(): Chunk<W> | undefined {
    const entry = this.again.shift() ?? this.fromQueue();
    if (!entry) return undefined;
    entry.attempts++;
    return entry.chunk;
  }

  /**
   * Whether work remains that no attempt is carrying: a chunk to re-issue, or more in the queue.
   * Asking may take a chunk from the queue (to know), which then waits for `take`.
   */
  hasWork(): boolean {
    if (this.again.length > 0) return true;
    const entry = this.fromQueue();
    if (!entry) return false;
    this.again.unshift(entry);
    return true;
  }

  /** An attempt of `chunk` returned. True the first time, false for a chunk already completed. */
  complete(chunk: Chunk<W>): boolean {
    const entry = this.open.get(chunk.index);
    if (!entry) return false;
    this.open.delete(chunk.index);
    const waiting = this.again.indexOf(entry);
    if (waiting >= 0) this.again.splice(waiting, 1);
    return true;
  }

  /**
   * An attempt of `chunk` was lost with its VM. When no other attempt is out, the chunk waits to
   * be re-issued. Returns whether it now waits.
   */
  lost(chunk: Chunk<W>): boolean {
    const entry = this.open.get(chunk.index);
    if (!entry) return false;
    entry.attempts = Math.max(0, entry.attempts - 1);
    entry.lost = true;
    return this.requeue(entry);
  }

  /** Puts `entry` back in line (by index) unless another attempt carries it or it already waits. */
  private requeue(entry: OpenChunk<W>): boolean {
    if (entry.attempts > 0 || this.again.includes(entry)) return false;
    let at = this.again.findIndex((e) => e.chunk.index > entry.chunk.index);
    if (at < 0) at = this.again.length;
    this.again.splice(at, 0, entry);
    return true;
  }

  /**
   * An attempt of `chunk` was refused by a VM that is stopping (it never ran there): the chunk
   * waits to be handed out again, like a lost one, but is not counted as lost.
   */
  refused(chunk: Chunk<W>): boolean {
    const entry = this.open.get(chunk.index);
    if (!entry) return false;
    entry.attempts = Math.max(0, entry.attempts - 1);
    return this.requeue(entry);
  }

  /**
   * A completed chunk must be done again: its result was folded into an accumulator that was
   * lost with its VM (forkWork `reduce`). It waits to be re-issued, counted as lost.
   */
  reopen(chunk: Chunk<W>): void {
    if (this.open.has(chunk.index)) return;
    const entry: OpenChunk<W> = { chunk, attempts: 0, lost: true };
    this.open.set(chunk.index, entry);
    this.requeue(entry);
  }

  /** An attempt ended without a result and without losing its VM (the run is failing anyway). */
  dropped(chunk: Chunk<W>): void {
    const entry = this.open.get(chunk.index);
    if (entry) entry.attempts = Math.max(0, entry.attempts - 1);
  }

  /** Indexes of chunks lost with a VM and not completed since. */
  lostChunks(): number[] {
    return [...this.open.values()].filter((e) => e.lost).map((e) => e.chunk.index).sort((a, b) => a - b);
  }

  private fromQueue(): OpenChunk<W> | undefined {
    if (this.exhausted) return undefined;
    const chunk = this.queue.next();
    if (!chunk) {
      this.exhausted = true;
      return undefined;
    }
    const entry: OpenChunk<W> = { chunk, attempts: 0, lost: false };
    this.open.set(chunk.index, entry);
    return entry;
  }
}
