/**
 * Dynamic scheduling: `forkGen` hands a list of work out to VMs chunk by chunk and yields results
 * as they come back; `forkWork` collects them.
 *
 * A run is a queue (where chunks come from), a balancer (which VM gets the next one) and the set
 * of VMs taking part. Each time a chunk returns, its VM becomes eligible again and the run
 * dispatches, so faster VMs do more chunks.
 *
 * Fault tolerance: when a VM dies or its connection is lost, its chunks in flight fail with
 * VMLostError; the run takes that VM out (it gets no more work) and hands those chunks out again
 * to the VMs that remain (ChunkLedger). A chunk counts once: a second reply for it is ignored.
 * Only when no VM is left does the run reject, with a WorkLostError naming the lost chunks.
 * Errors of the user's function (RemoteError) are not retried: they fail the run.
 *
 * Elasticity: the VM set may change during a run (a `LiveVMs` source, e.g. `connect({ watch:
 * true })`): VMs that appear join, VMs that go away or say they are stopping (graceful removal)
 * get no more work, and what they already have is either answered or, if they are lost, re-issued.
 * A call a stopping VM refused (VMStoppingError: it had not started it) goes to another VM. When
 * every VM of a live set that is still watching is gone, the run waits up to `waitForVMsMs` for
 * one to join before it gives up.
 */
import { defaultProgress } from './progress';
import { callOptionsOf } from '../call-options';
import { resolveCallee, type Callee } from '../fork-join';
import { RemoteError, TrickleError, VMLostError, VMStoppingError, WorkLostError } from '../errors';
import { callSite } from '../client/call-site';
import type { PathKey } from '../protocol';
import type { VMRef } from '../session-link';
import type { Returned, VM } from '../types';
import { clientOf } from '../vm';
import { DynamicBalancer, type Balancer, type WorkerSlot } from './balancer';
import { ChunkLedger } from './chunk-ledger';
import { isLiveVMs, type LiveVMs } from './live-vms';
import { Reduction, type Reducer, type ReductionHost } from './reduction';
import { ChunkQueue, IterableChunkQueue, type Chunk, type WorkQueue } from './work-queue';

/** forkGen's default `buffer`: results that may wait for a slow consumer. */
const DEFAULT_BUFFER = 64;
/** How long a run on a live set whose VMs are all gone waits for one to join, by default. */
export const DEFAULT_WAIT_FOR_VMS_MS = 30_000;

export type { LiveVMs } from './live-vms';

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
  /** Called after each chunk completes (once per chunk, also when a chunk was re-issued). */
  onProgress?: (progress: Progress) => void;
  /**
   * Aborting stops handing out chunks and rejects with the signal's reason. Calls already running
   * are left to finish; to cancel them too, run on `withOptions(vms, { signal })`.
   */
  signal?: AbortSignal;
  /**
   * forkGen: results that may wait for the consumer before the run stops handing out chunks
   * (default 64). A slow `for await` loop so holds back the VMs instead of piling up results.
   * (Chunks to re-issue after a lost VM go out regardless.)
   */
  buffer?: number;
  /** Chunks in flight per VM for the default balancer (default 2). */
  inFlightPerVM?: number;
  /** Replaces the default balancer. */
  balancer?: Balancer;
  /** Replaces the default queue (then `work` may be empty and `chunksize` is ignored). */
  queue?: WorkQueue<W>;
  /**
   * On a live set that is still watching (`connect({ watch: true })`): when every VM is gone and
   * work remains, how long to wait for a VM to join before rejecting with WorkLostError (default
   * 30 000 ms; 0 rejects at once). The chunks that were lost go to the VM that joins. A plain
   * list has nobody to wait for: it rejects at once.
   */
  waitForVMsMs?: number;
  /** See {@link ReduceOptions}: with `reduce`, forkWork resolves with one value, not a list. */
  reduce?: undefined;
  initial?: undefined;
}

/**
 * forkWork with `reduce`: the VMs fold the results and forkWork resolves with ONE value.
 * `R` is what the function returns (awaited): the accumulator has the same type.
 */
export interface ReduceOptions<W, R> extends Omit<ForkWorkOptions<W>, 'ordered' | 'buffer' | 'reduce' | 'initial'> {
  /**
   * `reduce(acc, result) => acc`, associative and commutative (the order in which results meet
   * is not defined). It runs on the VMs (its source travels, like any function argument): each
   * VM folds the results of its own chunks as they finish — the first result is the VM's
   * accumulator, each later one is folded in with `acc = reduce(acc, result)` — then the VMs
   * combine their accumulators with the same function, and the initiator receives one value. It
   * may update `acc` in place and return it. Synchronous; what it uses must be in the session
   * (inject it, or `require` inside).
   */
  reduce: Reducer<R>;
  /**
   * Folded in once, like one more result (with no work at all, it is the answer). Without it,
   * forkWork resolves with `undefined` when there was no work.
   */
  initial?: R;
}

/** What a run is given: the options of either form. */
type RunOptions<W> = Omit<ForkWorkOptions<W>, 'reduce' | 'initial'> & { reduce?: Reducer<unknown>; initial?: unknown };

type AnyFunction = (arg: any) => any;
type ResultOf<F> = F extends AnyFunction ? Returned<Awaited<ReturnType<F>>> : unknown;
/** What `fn` returns on the VM (awaited): what a reducer folds. */
type RawResultOf<F> = F extends AnyFunction ? Awaited<ReturnType<F>> : any;
/** What a function called with one work item takes: its first parameter. */
type ItemOf<F> = F extends (item: infer A, ...rest: any[]) => any ? A : never;
/**
 * What one work item is for a function called with a chunk (`chunksize`): the element of its
 * array parameter. A function that takes no array gets a type no item matches, whose name is
 * the compile error's explanation.
 */
type ChunkItemOf<F> = F extends (items: infer A, ...rest: any[]) => any
  ? A extends readonly (infer T)[]
    ? T
    : 'forkWork/forkGen: with chunksize the function is called with an ARRAY of work items'
  : never;
/** Options with `chunksize`: the function takes an array of items. */
export type ChunkedForkWorkOptions<W = unknown> = ForkWorkOptions<W> & { chunksize: number };
/** Options with a custom `queue`: it decides what the function gets (not checked). */
export type QueueForkWorkOptions = ForkWorkOptions<any> & { queue: WorkQueue<any> };
/** Options without `chunksize`: the function takes one item. */
export type ItemForkWorkOptions<W = unknown> = ForkWorkOptions<W> & { chunksize?: undefined };

/** Where a VM stands in a run: only `in` gets chunks. */
type Membership =
  | { readonly kind: 'in' }
  /** Removed from the live set, or stopping (graceful removal): answers what it has, gets no more. */
  | { readonly kind: 'leaving' }
  | { readonly kind: 'lost'; readonly error: unknown };

interface Slot extends WorkerSlot {
  readonly target: { ref?: number; path: readonly PathKey[]; label: string };
  membership: Membership;
  /** Stops listening to the VM's session (draining, lost). */
  unwatch: () => void;
}

/** One forkGen run: dispatch, collect, re-issue, and wake the consumer. */
class WorkRun<W> implements ReductionHost<W> {
  private readonly slots: Slot[] = [];
  private readonly completed: Array<{ index: number; value: unknown }> = [];
  private readonly byIndex = new Map<number, unknown>();
  private readonly ledger: ChunkLedger<W>;
  private readonly lostVMs: VMRef[] = [];
  private lastLoss: unknown;
  private nextIndex = 0;
  private failure: { error: unknown } | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private done = 0;
  /** Chunks whose reply has arrived and waits to be decoded (their VMs already have new work). */
  private decoding = 0;
  private readonly onProgress: ((progress: Progress) => void) | undefined;
  /** Tells the default reporter (a progress bar) that the run is over, however it ended. */
  private readonly endProgress: (() => void) | undefined;
  private readonly bufferLimit: number;
  private readonly waitForVMsMs: number;
  /** Set while the run has no VM and waits for one to join (a live set): until when, and its timer. */
  private waitingForVMs: { until: number; timer: NodeJS.Timeout } | undefined;
  /** forkWork `reduce`: results stay on the VMs, folded (undefined: results come back). */
  readonly reduction: Reduction<W> | undefined;
  /** Rejects when the run fails (a reduction waiting on the VMs races it). */
  readonly failed: Promise<never>;
  private rejectFailed!: (error: unknown) => void;

  constructor(
    private readonly fn: Callee,
    queue: WorkQueue<W>,
    private readonly balancer: Balancer,
    private readonly options: RunOptions<W>,
    /** The live set the VMs come from (undefined for a plain list). */
    private readonly live: LiveVMs | undefined,
    /** Where the user called forkWork/forkGen: the local half of a chunk's RemoteError stack. */
    private readonly site?: Error,
  ) {
    this.ledger = new ChunkLedger(queue);
    const reporter = options.onProgress ? undefined : defaultProgress();
    this.onProgress = options.onProgress ?? reporter;
    this.endProgress = reporter?.end;
    const buffer = options.buffer ?? DEFAULT_BUFFER;
    if (!(Number.isInteger(buffer) && buffer >= 1)) throw new RangeError(`forkWork: buffer must be a positive integer, got ${String(buffer)}`);
    this.bufferLimit = buffer;
    const wait = options.waitForVMsMs ?? DEFAULT_WAIT_FOR_VMS_MS;
    if (!(typeof wait === 'number' && wait >= 0)) throw new RangeError(`forkWork: waitForVMsMs must be a number >= 0, got ${String(wait)}`);
    this.waitForVMsMs = wait;
    this.failed = new Promise<never>((_, reject) => {
      this.rejectFailed = reject;
    });
    this.failed.catch(() => undefined);
    const { reduce } = options;
    this.reduction = reduce === undefined ? undefined : new Reduction(reduce, options.initial !== undefined ? { value: options.initial } : undefined, this);
  }

  // ---- ReductionHost ---------------------------------------------------------------------

  reopen(chunks: Chunk<W>[]): void {
    for (const chunk of chunks) {
      this.ledger.reopen(chunk);
      this.done -= chunk.items.length;
    }
    this.progress();
  }

  changed(): void {
    this.dispatch();
    this.notify();
  }

  hasWork(): boolean {
    return !this.ledger.finished;
  }

  /** The VMs of the run (a reduction combines the accumulators of those that hold any). */
  get participants(): readonly Slot[] {
    return this.slots;
  }

  private progress(): void {
    try {
      this.onProgress?.({ done: this.done, total: this.ledger.total });
    } catch (error) {
      this.fail(error);
    }
  }

  /** Whether VMs may still join this run: a live set that is watching, and waiting is allowed. */
  get mayWaitForVMs(): boolean {
    return this.live !== undefined && this.live.watching !== false && this.waitForVMsMs > 0;
  }

  /** Results that came back and wait for the consumer. */
  private get buffered(): number {
    return this.options.ordered ? this.byIndex.size : this.completed.length;
  }

  addVM(vm: VM): void {
    if (this.stopped || this.slots.some((slot) => slot.vm === vm)) return;
    const client = clientOf(vm, 'forkWork: a VM');
    const slot: Slot = {
      vm,
      inFlight: 0,
      completed: 0,
      active: true,
      membership: { kind: 'in' },
      target: resolveCallee(vm, this.fn, 'forkWork'),
      unwatch: () => undefined,
    };
    this.slots.push(slot);
    if (!client.isOpen) {
      this.vmLost(slot, new VMLostError(client.vm, { during: 'forkWork' }));
      return;
    }
    slot.unwatch = client.watch((event) => {
      if (event.kind === 'lost') this.vmLost(slot, new VMLostError(client.vm, { cause: event.reason, during: 'forkWork' }));
      else this.drain(slot);
    });
    if (client.isDraining) this.drain(slot);
    this.dispatch();
    this.notify();
  }

  /** The VM left the live set: it finishes what it has and gets nothing more. */
  removeVM(vm: VM): void {
    const slot = this.slots.find((s) => s.vm === vm);
    if (slot) this.leave(slot);
  }

  fail(error: unknown): void {
    if (this.failure) return;
    this.failure = { error };
    this.rejectFailed(error);
    this.stop();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.endProgress?.();
    this.stopWaitingForVMs();
    for (const slot of this.slots) slot.unwatch();
    this.notify();
  }

  dispatch(): void {
    while (!this.stopped) {
      // Backpressure: enough results wait for the consumer; hand out more when it takes them.
      if (this.buffered + this.decoding >= this.bufferLimit && this.ledger.waiting === 0) return;
      const slot = this.balancer.pick(this.slots) as Slot | undefined;
      // None free, or a custom balancer picked a VM that has left: wait for the next return.
      if (!slot || slot.membership.kind !== 'in') return;
      if (!clientOf(slot.vm).isOpen) {
        this.vmLost(slot, new VMLostError(clientOf(slot.vm).vm, { during: 'forkWork' }));
        continue;
      }
      const chunk = this.ledger.take();
      if (!chunk) {
        this.notify();
        return;
      }
      this.send(slot, chunk);
    }
  }

  /** The VM is stopping: it leaves, and with `reduce` its accumulator comes here before it goes. */
  private drain(slot: Slot): void {
    const wasIn = slot.membership.kind === 'in';
    this.leave(slot);
    if (wasIn && this.reduction && !this.stopped) this.reduction.draining(slot);
  }

  private leave(slot: Slot): void {
    if (slot.membership.kind !== 'in') return;
    slot.membership = { kind: 'leaving' };
    slot.active = false;
    this.notify();
  }

  private vmLost(slot: Slot, error: unknown): void {
    if (slot.membership.kind === 'lost') return;
    slot.membership = { kind: 'lost', error };
    slot.active = false;
    slot.unwatch();
    this.lostVMs.push(clientOf(slot.vm).vm);
    this.lastLoss = error;
    this.reduction?.lost(slot);
    this.notify();
  }

  private send(slot: Slot, chunk: Chunk<W>): void {
    slot.inFlight++;
    const client = clientOf(slot.vm);
    const { target } = slot;
    const at = target.ref === undefined ? { path: target.path } : { ref: target.ref, path: target.path };
    const remoteName = `${target.label}() [forkWork chunk ${chunk.index}]`;
    const reduction = this.reduction;
    // The VM is done with the chunk once its reply arrives: its slot takes the next chunk then,
    // before the reply's value is decoded (the session client decodes large replies later).
    let returned = false;
    let arrived = false;
    const slotReturned = (completed: boolean) => {
      if (returned) return;
      returned = true;
      slot.inFlight--;
      if (completed) slot.completed++;
    };
    const onArrival = () => {
      slotReturned(true);
      if (this.stopped) return;
      arrived = true;
      this.decoding++;
      try {
        this.dispatch();
      } catch (error) {
        this.fail(error);
      }
    };
    const decoded = () => {
      if (!arrived) return;
      arrived = false;
      this.decoding--;
    };
    (reduction
      ? reduction.fold(slot, chunk, at, remoteName, callOptionsOf(slot.vm))
      : client.callPath(at, [chunk.arg], remoteName, this.site, callOptionsOf(slot.vm), true, onArrival)
    ).then(
        (value) => {
          decoded();
          slotReturned(true);
          if (this.stopped) return;
          // A chunk counts once: a reply for one already completed elsewhere is dropped.
          if (!this.ledger.complete(chunk)) {
            this.dispatch();
            this.notify();
            return;
          }
          this.done += chunk.items.length;
          if (reduction) reduction.record(slot, chunk);
          else if (this.options.ordered) this.byIndex.set(chunk.index, value);
          else this.completed.push({ index: chunk.index, value });
          this.progress();
          if (this.stopped) return;
          this.dispatch();
          this.notify();
        },
        (error: unknown) => {
          decoded();
          slotReturned(false);
          if (this.stopped) return;
          if (VMLostError.isInstance(error)) {
            // The VM is gone: it gets no more work and this chunk goes to another VM.
            this.vmLost(slot, error);
            this.ledger.lost(chunk);
            this.dispatch();
            this.notify();
            return;
          }
          if (VMStoppingError.isInstance(error)) {
            // The VM is stopping and did not start this chunk: it leaves, the chunk goes elsewhere.
            this.leave(slot);
            this.ledger.refused(chunk);
            this.dispatch();
            this.notify();
            return;
          }
          this.ledger.dropped(chunk);
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
          this.dispatch();
          return { done: false, value };
        }
      } else if (this.completed.length > 0) {
        const { value } = this.completed.shift()!;
        this.dispatch();
        return { done: false, value };
      }
      if (this.ledger.finished) return { done: true };
      if (this.stopped) return { done: true };
      // No VM left to give work to, and none still holding some (whose chunks may yet come back,
      // or be lost and counted as such): what is left cannot be done — unless a VM joins.
      const stuck = this.slots.every((slot) => !slot.active && slot.inFlight === 0);
      if (stuck && this.ledger.hasWork()) {
        if (!this.waitForVMs()) {
          this.fail(this.noVMLeft());
          continue;
        }
      } else {
        this.stopWaitingForVMs();
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /**
   * The run has no VM: on a watching live set, starts (or goes on) waiting for one to join, and
   * says whether it may wait; false once the wait is over (or not allowed).
   */
  private waitForVMs(): boolean {
    if (!this.mayWaitForVMs) return false;
    if (!this.waitingForVMs) {
      const until = Date.now() + this.waitForVMsMs;
      this.waitingForVMs = { until, timer: setTimeout(() => this.notify(), this.waitForVMsMs) };
    }
    return Date.now() < this.waitingForVMs.until;
  }

  private stopWaitingForVMs(): void {
    if (!this.waitingForVMs) return;
    clearTimeout(this.waitingForVMs.timer);
    this.waitingForVMs = undefined;
  }

  private noVMLeft(): Error {
    const waited = this.waitingForVMs ? this.waitForVMsMs : undefined;
    this.stopWaitingForVMs();
    if (this.lostVMs.length === 0 && this.slots.length === 0) {
      return new RangeError(`forkWork: no VMs to run on${waited === undefined ? '' : ` (none joined the live list within ${waited} ms)`}`);
    }
    return new WorkLostError({
      chunks: this.ledger.lostChunks(),
      vms: this.lostVMs,
      done: this.done,
      total: this.ledger.total,
      waitedMs: waited,
      cause: this.lastLoss ?? new Error('every VM of the run left it'),
    });
  }
}

/**
 * Hands `work` out to `vms` dynamically and yields each result as it comes back (completion
 * order, or work order with `ordered`). Breaking out of the loop stops handing out work.
 *
 * `fn` is the local function (called by its name: inject it first), or its name. Without
 * `chunksize` it is called with one item; with `chunksize: n`, with an array of up to n items,
 * and each result is what it returned for that chunk.
 *
 * Backpressure: at most `buffer` (default 64) results wait for a slow consumer; until it takes
 * one, no further chunk is handed out. Work that is a generator (any iterable but an array or a
 * Set) is read lazily, a chunk at a time, so it may be endless.
 */
export function forkGen<F extends AnyFunction>(
  vms: readonly VM[] | LiveVMs,
  fn: F,
  work: Iterable<unknown>,
  options: QueueForkWorkOptions,
): AsyncIterable<ResultOf<F>>;
export function forkGen<F extends AnyFunction>(
  vms: readonly VM[] | LiveVMs,
  fn: F,
  work: Iterable<ChunkItemOf<F>>,
  options: ChunkedForkWorkOptions<ChunkItemOf<F>>,
): AsyncIterable<ResultOf<F>>;
export function forkGen<F extends AnyFunction>(
  vms: readonly VM[] | LiveVMs,
  fn: F,
  work: Iterable<ItemOf<F>>,
  options?: ItemForkWorkOptions<ItemOf<F>>,
): AsyncIterable<ResultOf<F>>;
export function forkGen(vms: readonly VM[] | LiveVMs, fn: string, work: Iterable<unknown>, options?: ForkWorkOptions): AsyncIterable<unknown>;
export function forkGen(vms: readonly VM[] | LiveVMs, fn: Callee, work: Iterable<unknown>, options: ForkWorkOptions = {}): AsyncIterable<unknown> {
  const site = callSite(forkGen);
  return {
    [Symbol.asyncIterator]: () => iterate(vms, fn, work, options, site),
  };
}

async function* iterate(vms: readonly VM[] | LiveVMs, fn: Callee, work: Iterable<unknown>, options: ForkWorkOptions, site: Error): AsyncGenerator<unknown> {
  if ((options as { reduce?: unknown }).reduce !== undefined) throw new TypeError('forkGen: `reduce` gives one value, not a stream of results: use forkWork');
  let run: ReturnType<typeof startRun> | undefined;
  try {
    run = startRun(vms, fn, work, options, site);
    for (;;) {
      const step = await run.run.next();
      if (step.done) return;
      yield step.value;
    }
  } catch (error) {
    throw withCallSite(error, site);
  } finally {
    run?.close();
  }
}

/**
 * Errors Trickle raises in a run (WorkLostError, VMLostError, a bad option) are created deep in
 * the scheduler: their stack gets the user's forkWork/forkGen call first. A chunk's RemoteError
 * has it already (the site goes with each call); the user's own errors (an abort reason, a
 * throwing onProgress) are left as they are.
 */
function withCallSite(error: unknown, site: Error): unknown {
  if (!(error instanceof Error) || RemoteError.isInstance(error) || !site.stack) return error;
  const ours = TrickleError.isInstance(error) || ((error instanceof RangeError || error instanceof TypeError) && OPTION_ERROR.test(error.message));
  if (!ours || WITH_SITE.has(error)) return error;
  WITH_SITE.add(error);
  const frames = (stack: string) => stack.split('\n').filter((line) => /^\s+at /.test(line));
  const head = `${error.name}: ${error.message}`;
  const inner = frames(error.stack ?? '');
  error.stack = [head, ...frames(site.stack), ...(inner.length > 0 ? ['    --- inside Trickle ---', ...inner] : [])].join('\n');
  return error;
}

const WITH_SITE = new WeakSet<Error>();
/** Messages of the RangeErrors/TypeErrors the scheduler itself throws (bad options, no VMs). */
const OPTION_ERROR = /^(forkWork\b|(chunksize|inFlightPerVM) must be)/;

/** Sets up a run over `vms` (a live set is followed) and its abort signal. */
function startRun(vms: readonly VM[] | LiveVMs, fn: Callee, work: Iterable<unknown>, options: RunOptions<unknown>, site?: Error): { run: WorkRun<unknown>; close: () => void } {
  const { signal } = options;
  signal?.throwIfAborted();
  // Arrays (and Sets, whose size is known) are handed out by position; any other iterable — a
  // generator — is read lazily, as chunks go out.
  const queue =
    options.queue ??
    (Array.isArray(work) || work instanceof Set ? new ChunkQueue(Array.isArray(work) ? work : [...work], options.chunksize) : new IterableChunkQueue(work, options.chunksize));
  const balancer = options.balancer ?? new DynamicBalancer(options.inFlightPerVM);
  // A live list (connect({ watch: true })) is an array too: ask for LiveVMs first.
  const live = isLiveVMs(vms) ? vms : undefined;
  const run = new WorkRun(fn, queue, balancer, options, live, site);
  const onAbort = () => run.fail(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  let unsubscribe: (() => void) | undefined;
  const close = () => {
    run.stop();
    unsubscribe?.();
    signal?.removeEventListener('abort', onAbort);
  };
  try {
    const list = live ? live.current() : (vms as readonly VM[]);
    // An empty live set that is watching may yet get a VM (see waitForVMsMs).
    if (list.length === 0 && !run.mayWaitForVMs) throw new RangeError('forkWork: no VMs given');
    if (live) {
      unsubscribe = live.subscribe(({ added, removed }) => {
        if (added) run.addVM(added);
        if (removed) run.removeVM(removed);
      });
    }
    for (const vm of list) run.addVM(vm);
  } catch (error) {
    close();
    throw error;
  }
  return { run, close };
}

/**
 * forkWork with `reduce`: the chunks are folded on the VMs; once all are, the accumulators are
 * combined VM to VM (scheduling/reduction.ts) and the one value comes back. A loss while
 * combining sends the run back to counting what was lost, then combining again.
 */
async function reduceWork(vms: readonly VM[] | LiveVMs, fn: Callee, work: Iterable<unknown>, options: ReduceOptions<unknown, unknown>, site: Error): Promise<unknown> {
  try {
    return await reduceRun(vms, fn, work, options, site);
  } catch (error) {
    throw withCallSite(error, site);
  }
}

async function reduceRun(vms: readonly VM[] | LiveVMs, fn: Callee, work: Iterable<unknown>, options: ReduceOptions<unknown, unknown>, site: Error): Promise<unknown> {
  if (typeof options.reduce !== 'function') throw new TypeError(`forkWork: reduce must be a function (acc, result) => acc, got ${typeof options.reduce}`);
  const { run, close } = startRun(vms, fn, work, options, site);
  const reduction = run.reduction!;
  try {
    for (;;) {
      const step = await run.next();
      if (!step.done) continue;
      const result = await Promise.race([reduction.combine(run.participants), run.failed]);
      if (result) return result.value;
    }
  } finally {
    close();
    reduction.end(run.participants);
  }
}

/**
 * `forkGen`, collected: resolves with every result (completion order, or work order with
 * `ordered`). With `reduce`, resolves with ONE value instead: the results folded on the VMs and
 * combined VM to VM (see {@link ReduceOptions}).
 */
// With reduce: the work items are checked as without it (an array of them with chunksize); a
// custom queue or a function given by name is not checked.
export async function forkWork<F extends AnyFunction>(
  vms: readonly VM[] | LiveVMs,
  fn: F,
  work: Iterable<unknown>,
  options: ReduceOptions<any, RawResultOf<F>> & { queue: WorkQueue<any>; initial: RawResultOf<F> },
): Promise<Returned<RawResultOf<F>>>;
export async function forkWork<F extends AnyFunction>(
  vms: readonly VM[] | LiveVMs,
  fn: F,
  work: Iterable<unknown>,
  options: ReduceOptions<any, RawResultOf<F>> & { queue: WorkQueue<any> },
): Promise<Returned<RawResultOf<F>> | undefined>;
export async function forkWork<F extends AnyFunction>(
  vms: readonly VM[] | LiveVMs,
  fn: F,
  work: Iterable<ChunkItemOf<F>>,
  options: ReduceOptions<ChunkItemOf<F>, RawResultOf<F>> & { chunksize: number; initial: RawResultOf<F> },
): Promise<Returned<RawResultOf<F>>>;
export async function forkWork<F extends AnyFunction>(
  vms: readonly VM[] | LiveVMs,
  fn: F,
  work: Iterable<ChunkItemOf<F>>,
  options: ReduceOptions<ChunkItemOf<F>, RawResultOf<F>> & { chunksize: number },
): Promise<Returned<RawResultOf<F>> | undefined>;
export async function forkWork<F extends AnyFunction>(
  vms: readonly VM[] | LiveVMs,
  fn: F,
  work: Iterable<ItemOf<F>>,
  options: ReduceOptions<ItemOf<F>, RawResultOf<F>> & { chunksize?: undefined; initial: RawResultOf<F> },
): Promise<Returned<RawResultOf<F>>>;
export async function forkWork<F extends AnyFunction>(
  vms: readonly VM[] | LiveVMs,
  fn: F,
  work: Iterable<ItemOf<F>>,
  options: ReduceOptions<ItemOf<F>, RawResultOf<F>> & { chunksize?: undefined },
): Promise<Returned<RawResultOf<F>> | undefined>;
export async function forkWork(vms: readonly VM[] | LiveVMs, fn: string, work: Iterable<unknown>, options: ReduceOptions<unknown, any>): Promise<any>;
export async function forkWork<F extends AnyFunction>(
  vms: readonly VM[] | LiveVMs,
  fn: F,
  work: Iterable<unknown>,
  options: QueueForkWorkOptions,
): Promise<ResultOf<F>[]>;
export async function forkWork<F extends AnyFunction>(
  vms: readonly VM[] | LiveVMs,
  fn: F,
  work: Iterable<ChunkItemOf<F>>,
  options: ChunkedForkWorkOptions<ChunkItemOf<F>>,
): Promise<ResultOf<F>[]>;
export async function forkWork<F extends AnyFunction>(
  vms: readonly VM[] | LiveVMs,
  fn: F,
  work: Iterable<ItemOf<F>>,
  options?: ItemForkWorkOptions<ItemOf<F>>,
): Promise<ResultOf<F>[]>;
export async function forkWork(vms: readonly VM[] | LiveVMs, fn: string, work: Iterable<unknown>, options?: ForkWorkOptions): Promise<unknown[]>;
export async function forkWork(vms: readonly VM[] | LiveVMs, fn: Callee, work: Iterable<unknown>, options: ForkWorkOptions | ReduceOptions<unknown, unknown> = {}): Promise<unknown> {
  const site = callSite(forkWork);
  if ((options as { reduce?: unknown }).reduce !== undefined) return reduceWork(vms, fn, work, options as ReduceOptions<unknown, unknown>, site);
  const results: unknown[] = [];
  for await (const result of { [Symbol.asyncIterator]: () => iterate(vms, fn, work, options as ForkWorkOptions, site) }) results.push(result);
  return results;
}
