/**
 * A session's side of forkWork with `reduce`: one accumulator per run, folded as chunks finish,
 * and the snapshots it gave away while the accumulators are combined.
 *
 * An accumulator knows which chunks it holds (their indexes), so the initiator always knows what
 * a lost session took with it. Giving an accumulator away keeps it here as a snapshot until the
 * run ends: if the receiver is lost, the initiator asks for it back (`restore`) instead of
 * counting those chunks again. Nothing here knows about the transport: moving an accumulator to
 * another session goes through a `PeerExchange` (River's is river/peer-exchange.ts).
 */
import { MAX_RUNS } from '../protocol';
import { RaiFailure } from './error-info';

/** An accumulator and the chunks folded into it. */
export interface Accumulated {
  value: unknown;
  chunks: number[];
}

/** How a session reaches the other sessions of its initiator (absent: it cannot). */
export interface PeerExchange {
  /** This session's address (its River VR UUID). */
  readonly address: string;
  /** From now on, accept deposit `deposit` of `run` from `from` (anything else is refused). */
  expect(run: string, from: string, deposit: number): void;
  /** The deposit announced with `expect`, once it arrives; rejects when `from` is gone. */
  receive(run: string, from: string, deposit: number, signal: AbortSignal): Promise<Accumulated>;
  /** Sends `acc` to `to`; resolves once `to` has it, rejects (REFUSED, PEER_LOST…) otherwise. */
  send(run: string, to: string, deposit: number, acc: Accumulated, signal: AbortSignal): Promise<void>;
  /** The run ended: drop what it was expecting. */
  forget(run: string): void;
}

/** A reducer threw: the error, and what to call it in the reply. */
export class ReducerFailure extends Error {
  constructor(
    readonly error: unknown,
    readonly during: string,
  ) {
    super(during);
  }
}

type Reducer = (acc: unknown, result: unknown) => unknown;

class RunState {
  live: Accumulated | undefined;
  readonly snapshots = new Map<number, Accumulated>();
  readonly ended = new AbortController();
}

export class Accumulators {
  private readonly runs = new Map<string, RunState>();

  get size(): number {
    return this.runs.size;
  }

  /** Folds a chunk's result into run `run`'s accumulator. */
  fold(run: string, chunk: number, result: unknown, reduce: unknown, label: string): void {
    const state = this.state(run, true)!;
    this.foldInto(state, { value: result, chunks: [chunk] }, reduce, `folding the result of ${label}`);
  }

  /** Folds `incoming` (a deposit, a snapshot, an extra) into the accumulator. */
  private foldInto(state: RunState, incoming: Accumulated, reduce: unknown, what: string): void {
    if (!state.live) {
      state.live = { value: incoming.value, chunks: incoming.chunks.slice() };
      return;
    }
    const fn = reducerOf(reduce);
    let value: unknown;
    try {
      value = fn(state.live.value, incoming.value);
    } catch (error) {
      throw new ReducerFailure(error, `${fn.name || 'reduce'}() (the forkWork reducer, ${what})`);
    }
    if (isThenable(value)) {
      throw new ReducerFailure(
        new TypeError(`the reducer ${fn.name || ''} returned a promise; a forkWork reducer must be synchronous and return the accumulator`),
        `${fn.name || 'reduce'}() (the forkWork reducer, ${what})`,
      );
    }
    state.live.value = value;
    for (const chunk of incoming.chunks) state.live.chunks.push(chunk);
  }

  /** Takes the accumulator out to send it elsewhere; it stays here as snapshot `deposit`. */
  give(run: string, deposit: number, check: (value: unknown) => void): Accumulated {
    const state = this.state(run, false);
    if (!state?.live) throw new RaiFailure('BAD_REQUEST', `no accumulator of this run to give`);
    if (state.snapshots.has(deposit)) throw new RaiFailure('BAD_REQUEST', `deposit ${deposit} was already given`);
    check(state.live.value);
    const acc = state.live;
    state.live = undefined;
    state.snapshots.set(deposit, acc);
    return acc;
  }

  /** Folds a deposit received from another session. */
  absorb(run: string, incoming: Accumulated, reduce: unknown): number[] {
    const state = this.state(run, true)!;
    this.foldInto(state, incoming, reduce, 'combining accumulators');
    return incoming.chunks;
  }

  /** Folds snapshot `deposit` back (its receiver was lost). No snapshot, nothing to do. */
  restore(run: string, deposit: number, reduce: unknown): void {
    const state = this.state(run, false);
    const snapshot = state?.snapshots.get(deposit);
    if (!state || !snapshot) return;
    state.snapshots.delete(deposit);
    this.foldInto(state, snapshot, reduce, 'restoring an accumulator');
  }

  /** The accumulator, with `extras` folded in; the run starts a fresh one. */
  take(run: string, extras: unknown[], reduce: unknown, check: (value: unknown) => void): Accumulated | undefined {
    const state = this.state(run, extras.length > 0);
    if (state) for (const extra of extras) this.foldInto(state, { value: extra, chunks: [] }, reduce, 'folding in a value from the initiator');
    if (state?.live) check(state.live.value);
    const acc = state?.live;
    if (state) state.live = undefined;
    return acc;
  }

  /** Aborts when the run ends (deposits still waited for give up). */
  signalOf(run: string): AbortSignal {
    return this.state(run, true)!.ended.signal;
  }

  end(run: string): void {
    const state = this.runs.get(run);
    if (!state) return;
    this.runs.delete(run);
    state.ended.abort(new RaiFailure('BAD_REQUEST', 'the run ended'));
  }

  clear(): void {
    for (const run of [...this.runs.keys()]) this.end(run);
  }

  private state(run: string, create: boolean): RunState | undefined {
    let state = this.runs.get(run);
    if (!state && create) {
      if (this.runs.size >= MAX_RUNS) {
        throw new RaiFailure('BAD_REQUEST', `too many forkWork reduce runs at once in this session (at most ${MAX_RUNS}); runs that ended were not ended`, { name: 'RangeError' });
      }
      state = new RunState();
      this.runs.set(run, state);
    }
    return state;
  }
}

function reducerOf(reduce: unknown): Reducer {
  if (typeof reduce !== 'function') throw new RaiFailure('BAD_REQUEST', `the forkWork reducer is not a function (it is ${typeof reduce})`, { name: 'TypeError' });
  return reduce as Reducer;
}

function isThenable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
