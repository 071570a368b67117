/**
 * Dynamic scheduling: `forkGen` hands a list of work out to VMs chunk by chunk and yields results
 * as they come back; `forkWork` collects them.
 *
 * A run is a queue (where chunks come from), a balancer (which VM gets the next one) and the set
 * of VMs taking part. Each time a chunk returns, its VM becomes eligible again and the run
 * dispatches, so faster VMs do more chunks. The VM set may change during a run (a `LiveVMs`
 * source): VMs that appear join, VMs that go away get no more work. Re-issuing the outstanding
 * chunks of a VM that died is not done yet: its failure fails the run.
 */
import { defaultProgress } from './progress';
import { resolveCallee, type Callee } from '../fork-join';
import type { PathKey } from '../protocol';
import type { Returned, VM } from '../types';
import { clientOf } from '../vm';
import { DynamicBalancer, type Balancer, type WorkerSlot } from './balancer';
import { ChunkQueue, type Chunk, type WorkQueue } from './work-queue';

export interface Progress {
  /** Work items completed so far. */
  done: number;
  /** All work items (undefined when the queue does not know). */
  total: number | undefined;
}

export interface ForkWorkOptions<W = unknown> {
  /** Items per call; the function then receives an array. Without it, one item per call. */
  chunksize?: number;
  /** Results in work order instead of completion order. */
  ordered?: boolean;
  /** Called after each chunk completes. */
  onProgress?: (progress: Progress) => void;
  /** Aborting stops handing out chunks and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Chunks in flight per VM for the default balancer (default 2). */
  inFlightPerVM?: number;
  /** Replaces the default balancer. */
  balancer?: Balancer;
  /** Replaces the default queue (then `work` may be empty and `chunksize` is ignored). */
  queue?: WorkQueue<W>;
}

/** A set of VMs that can change while a run goes on. */
export interface LiveVMs {
  current(): readonly VM[];
  /** Calls `listener` when a VM joins or leaves; returns the unsubscribe function. */
  subscribe(listener: (change: { added?: VM; removed?: VM }) => void): () => void;
}

type AnyFunction = (arg: any) => any;
type ResultOf<F> = F extends AnyFunction ? Returned<Awaited<ReturnType<F>>> : unknown;

interface Slot extends WorkerSlot {
  readonly target: { ref?: number; path: readonly PathKey[]; label: string };
}

/** One forkGen run: dispatch, collect, and wake the consumer. */
class WorkRun<W> {
  private readonly slots: Slot[] = [];
  private readonly completed: Array<{ index: number; value: unknown }> = [];
  private readonly byIndex = new Map<number, unknown>();
  private nextIndex = 0;
  private inFlight = 0;
  private exhausted = false;
  private failure: { error: unknown } | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private done = 0;
  private readonly onProgress: ((progress: Progress) => void) | undefined;

  constructor(
    private readonly fn: Callee,
    private readonly queue: WorkQueue<W>,
    private readonly balancer: Balancer,
    private readonly options: ForkWorkOptions<W>,
  ) {
    this.onProgress = options.onProgress ?? defaultProgress();
  }

  addVM(vm: VM): void {
    if (this.slots.some((slot) => slot.vm === vm)) return;
    clientOf(vm, 'forkWork: a VM');
    this.slots.push({ vm, inFlight: 0, completed: 0, active: true, target: resolveCallee(vm, this.fn, 'forkWork') });
    this.dispatch();
  }

  removeVM(vm: VM): void {
    const slot = this.slots.find((s) => s.vm === vm);
    if (slot) slot.active = false;
  }

  fail(error: unknown): void {
    if (this.failure) return;
    this.failure = { error };
    this.stop();
  }

  stop(): void {
    this.stopped = true;
    this.notify();
  }

  dispatch(): void {
    while (!this.stopped && !this.exhausted) {
      const slot = this.balancer.pick(this.slots) as Slot | undefined;
      if (!slot) return;
      const chunk = this.queue.next();
      if (!chunk) {
        this.exhausted = true;
        this.notify();
        return;
      }
      this.send(slot as Slot, chunk);
    }
  }

  private send(slot: Slot, chunk: Chunk<W>): void {
    slot.inFlight++;
    this.inFlight++;
    const client = clientOf(slot.vm);
    const { target } = slot;
    client
      .callPath(target.ref === undefined ? { path: target.path } : { ref: target.ref, path: target.path }, [chunk.arg], `${target.label}() [forkWork chunk ${chunk.index}]`)
      .then(
        (value) => {
          slot.inFlight--;
          slot.completed++;
          this.inFlight--;
          if (this.stopped) return;
          this.done += chunk.items.length;
          if (this.options.ordered) this.byIndex.set(chunk.index, value);
          else this.completed.push({ index: chunk.index, value });
          try {
            this.onProgress?.({ done: this.done, total: this.queue.total });
          } catch (error) {
            this.fail(error);
            return;
          }
          this.dispatch();
          this.notify();
        },
        (error: unknown) => {
          slot.inFlight--;
          this.inFlight--;
          this.fail(error);
        },
      );
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The next result, or `done` when all work has come back. */
  async next(): Promise<{ done: true } | { done: false; value: unknown }> {
    for (;;) {
      if (this.failure) throw this.failure.error;
      if (this.options.ordered) {
        if (this.byIndex.has(this.nextIndex)) {
          const value = this.byIndex.get(this.nextIndex);
          this.byIndex.delete(this.nextIndex++);
          return { done: false, value };
        }
      } else if (this.completed.length > 0) {
        return { done: false, value: this.completed.shift()!.value };
      }
      if (this.exhausted && this.inFlight === 0) return { done: true };
      if (this.stopped) return { done: true };
      if (this.slots.every((slot) => !slot.active) && !this.exhausted) {
        throw new Error('forkWork: no VMs to run on');
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}

/**
 * Hands `work` out to `vms` dynamically and yields each result as it comes back (completion
 * order, or work order with `ordered`). Breaking out of the loop stops handing out work.
 *
 * `fn` is the local function (called by its name: inject it first), or its name. Without
 * `chunksize` it is called with one item; with `chunksize: n`, with an array of up to n items,
 * and each result is what it returned for that chunk.
 */
export function forkGen<F extends AnyFunction, W = unknown>(
  vms: readonly VM[] | LiveVMs,
  fn: F | string,
  work: Iterable<W>,
  options?: ForkWorkOptions<W>,
): AsyncIterable<ResultOf<F>>;
export function forkGen(vms: readonly VM[] | LiveVMs, fn: Callee, work: Iterable<unknown>, options: ForkWorkOptions = {}): AsyncIterable<unknown> {
  return {
    [Symbol.asyncIterator]: () => iterate(vms, fn, work, options),
  };
}

async function* iterate(vms: readonly VM[] | LiveVMs, fn: Callee, work: Iterable<unknown>, options: ForkWorkOptions): AsyncGenerator<unknown> {
  const { signal } = options;
  signal?.throwIfAborted();
  const queue = options.queue ?? new ChunkQueue(Array.isArray(work) ? work : [...work], options.chunksize);
  const balancer = options.balancer ?? new DynamicBalancer(options.inFlightPerVM);
  const run = new WorkRun(fn, queue, balancer, options);
  const onAbort = () => run.fail(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  let unsubscribe: (() => void) | undefined;
  try {
    const list = Array.isArray(vms) ? (vms as readonly VM[]) : (vms as LiveVMs).current();
    if (list.length === 0) throw new RangeError('forkWork: no VMs given');
    if (!Array.isArray(vms)) {
      unsubscribe = (vms as LiveVMs).subscribe(({ added, removed }) => {
        if (added) run.addVM(added);
        if (removed) run.removeVM(removed);
      });
    }
    for (const vm of list) run.addVM(vm);
    for (;;) {
      const step = await run.next();
      if (step.done) return;
      yield step.value;
    }
  } finally {
    run.stop();
    unsubscribe?.();
    signal?.removeEventListener('abort', onAbort);
  }
}

/** `forkGen`, collected: resolves with every result (completion order, or work order with `ordered`). */
export async function forkWork<F extends AnyFunction, W = unknown>(
  vms: readonly VM[] | LiveVMs,
  fn: F | string,
  work: Iterable<W>,
  options?: ForkWorkOptions<W>,
): Promise<ResultOf<F>[]>;
export async function forkWork(vms: readonly VM[] | LiveVMs, fn: Callee, work: Iterable<unknown>, options: ForkWorkOptions = {}): Promise<unknown[]> {
  const results: unknown[] = [];
  for await (const result of forkGen(vms, fn as string, work, options)) results.push(result);
  return results;
}
