/**
 * forkWork with `reduce`, on the initiator: where every chunk's result is, and how the VMs'
 * accumulators become one value.
 *
 * Counting: each chunk goes out as a `fold` request; the session folds the result into its
 * accumulator of this run and acknowledges. The initiator records which VM's accumulator holds
 * which chunks (its *custody*).
 *
 * Combining (when every chunk is folded): a tree. In each round the holders are paired, the
 * one holding fewer chunks gives its accumulator to the other (`expect` to the receiver, then
 * `give` to the giver: the receiver accepts nothing it was not told to expect), until one holder
 * is left; the initiator `take`s its accumulator: the one value it decodes.
 *
 * Each chunk counts exactly once, whatever is lost:
 * - a VM lost while counting takes its accumulator along: every chunk folded into it is handed
 *   out again (ChunkLedger.reopen);
 * - a giver keeps what it gave as a snapshot until the run ends. When a receiver is lost, each
 *   snapshot given to it comes back on its (live) giver (`restore`), and only what the receiver
 *   counted itself is handed out again; a giver lost too hands its share of it out again,
 *   recursively (`rescue`);
 * - losses are applied only while no deposit is in flight (a deposit settles when both ends have
 *   answered or are known lost), so custody never changes under a pending move;
 * - a VM that stops gracefully (drain) hands its accumulator to the initiator (`take`) before it
 *   goes; such values are folded in by the last holder at the end.
 */
import { randomUUID } from 'node:crypto';
import { VMLostError, RemoteError } from '../errors';
import type { CallOptions } from '../call-options';
import type { CombineReply } from '../protocol';
import type { VM } from '../types';
import { clientOf } from '../vm';
import type { Chunk } from './work-queue';

/** `reduce(acc, result) => acc`: associative and commutative. */
export type Reducer<R> = (acc: R, result: R) => R;

/** A VM taking part in the run, as the reduction sees it. */
export interface Participant {
  readonly vm: VM;
  readonly membership: { readonly kind: 'in' | 'leaving' | 'lost' };
}

/** What the reduction needs from its run. */
export interface ReductionHost<W> {
  /** Hands these chunks out again (their results were lost with an accumulator). */
  reopen(chunks: Chunk<W>[]): void;
  /** Fails the run. */
  fail(error: unknown): void;
  /** Something changed (chunks reopened, a loss applied): dispatch and wake the run. */
  changed(): void;
  /** True while chunks wait to be handed out or are out. */
  hasWork(): boolean;
}

interface Snapshot {
  readonly deposit: number;
  readonly holder: Participant;
  readonly to: Participant;
  readonly chunks: readonly number[];
}

const isLoss = (error: unknown) =>
  VMLostError.isInstance(error) || (RemoteError.isInstance(error) && error.failure === 'PEER_LOST');

export class Reduction<W> {
  /** The run's id: also the capability its sessions check (a random UUID). */
  readonly run = randomUUID();
  /** Every chunk folded somewhere (and not handed out again since), by index. */
  private readonly folded = new Map<number, Chunk<W>>();
  /** Chunk indexes in each VM's live accumulator. */
  private readonly custody = new Map<Participant, Set<number>>();
  private snapshots: Snapshot[] = [];
  /** Accumulators taken from VMs that stopped (drain), folded in at the end. */
  private readonly held: Array<{ value: unknown; chunks: readonly number[] }> = [];
  /** Lost VMs whose custody is not applied yet (it is, once no deposit is in flight). */
  private readonly losses: Participant[] = [];
  /** Requests whose answer changes custody, in flight. */
  private pending = 0;
  private nextDeposit = 1;
  private readonly touched = new Set<Participant>();
  private wake: (() => void) | undefined;

  constructor(
    readonly reduce: Reducer<unknown>,
    private readonly initial: { value: unknown } | undefined,
    private readonly host: ReductionHost<W>,
  ) {}

  /** Sends `chunk` to `slot` as a fold. */
  fold(slot: Participant, chunk: Chunk<W>, target: { ref?: number; path: readonly (string | number)[] }, remoteName: string, cancel: CallOptions | undefined): Promise<unknown> {
    this.touched.add(slot);
    return clientOf(slot.vm).fold(this.run, chunk.index, target, chunk.arg, this.reduce, remoteName, cancel);
  }

  /** `chunk`'s result is now in `slot`'s accumulator. */
  record(slot: Participant, chunk: Chunk<W>): void {
    this.folded.set(chunk.index, chunk);
    this.custodyOf(slot).add(chunk.index);
  }

  /** `slot` is lost: its accumulator with it (applied once no deposit is in flight). */
  lost(slot: Participant): void {
    this.losses.push(slot);
    this.settle();
  }

  /** `slot`'s VM is stopping: its accumulator comes to the initiator before it goes. */
  draining(slot: Participant): void {
    if (!this.touched.has(slot)) return;
    this.track(clientOf(slot.vm).combine(this.run, { op: 'take', extras: [], reduce: this.reduce }), (reply) => this.holdHere(slot, reply as CombineReply)).catch(
      (error: unknown) => {
        if (!isLoss(error)) this.host.fail(error);
      },
    );
  }

  /** `slot`'s accumulator came here: its chunks are in the initiator's custody now. */
  private holdHere(slot: Participant, reply: CombineReply): void {
    if (reply.chunks.length === 0) return;
    const mine = this.custodyOf(slot);
    for (const c of reply.chunks) mine.delete(c);
    this.held.push({ value: reply.value, chunks: reply.chunks });
  }

  /**
   * One step of combining, once every chunk is folded: a round of deposits, or the final take.
   * Resolves with the value when done, or undefined when the run must go on (counting chunks
   * handed out again, or another round).
   */
  async combine(slots: readonly Participant[]): Promise<{ value: unknown } | undefined> {
    await this.idle();
    if (this.host.hasWork()) return undefined;
    const holders = slots.filter((slot) => (this.custody.get(slot)?.size ?? 0) > 0);
    // A stopping VM is on its way out (its accumulator came here, or it will be lost): wait.
    if (holders.some((slot) => clientOf(slot.vm).isDraining || !clientOf(slot.vm).isOpen)) {
      await this.change();
      return undefined;
    }
    if (holders.length === 0) return { value: this.foldHere() };
    const addressed = holders.every((slot) => clientOf(slot.vm).address !== undefined);
    if (holders.length > 1 && !addressed) {
      // Sessions that cannot reach each other (not on River): their accumulators come here.
      await Promise.all(holders.map((slot) => this.takeHere(slot)));
      return undefined;
    }
    if (holders.length === 1) return this.finish(holders[0]!);
    // Fewer chunks gives to more: the bigger accumulators stay put.
    holders.sort((a, b) => this.custody.get(b)!.size - this.custody.get(a)!.size);
    const deposits: Promise<void>[] = [];
    for (let i = 0; i < Math.floor(holders.length / 2); i++) deposits.push(this.deposit(holders[holders.length - 1 - i]!, holders[i]!));
    await Promise.all(deposits);
    return undefined;
  }

  /** Tells every session that took part that the run is over (drops accumulators and snapshots). */
  end(slots: readonly Participant[]): void {
    for (const slot of slots) {
      const client = clientOf(slot.vm);
      if (this.touched.has(slot) && client.isOpen) client.combine(this.run, { op: 'end' }).catch(() => undefined);
    }
  }

  // ---- combining -------------------------------------------------------------------------

  /** The last holder folds in what the initiator holds (and `initial`) and hands over the value. */
  private async finish(root: Participant): Promise<{ value: unknown } | undefined> {
    const extras = this.held.map((h) => h.value);
    if (this.initial) extras.push(this.initial.value);
    let reply: CombineReply;
    try {
      reply = (await this.track(clientOf(root.vm).combine(this.run, { op: 'take', extras, reduce: this.reduce }), () => undefined)) as CombineReply;
    } catch (error) {
      if (isLoss(error)) return undefined;
      throw error;
    }
    this.checkComplete([reply.chunks, ...this.held.map((h) => h.chunks)]);
    return { value: reply.value };
  }

  /** No VM holds anything: the value is what the initiator holds (drained VMs) and `initial`. */
  private foldHere(): unknown {
    this.checkComplete(this.held.map((h) => h.chunks));
    const values = this.held.map((h) => h.value);
    if (this.initial) values.push(this.initial.value);
    if (values.length === 0) return undefined;
    let acc = values[0];
    for (let i = 1; i < values.length; i++) acc = this.reduce(acc, values[i]);
    return acc;
  }

  private async takeHere(slot: Participant): Promise<void> {
    try {
      await this.track(clientOf(slot.vm).combine(this.run, { op: 'take', extras: [], reduce: this.reduce }), (reply) => this.holdHere(slot, reply as CombineReply));
    } catch (error) {
      if (!isLoss(error)) throw error;
    }
  }

  /** `from` gives its accumulator to `to`; custody moves when `to` says it has folded it. */
  private async deposit(from: Participant, to: Participant): Promise<void> {
    const deposit = this.nextDeposit++;
    const giver = clientOf(from.vm);
    const receiver = clientOf(to.vm);
    this.touched.add(to);
    this.pending++;
    try {
      const expect = receiver.combine(this.run, { op: 'expect', from: giver.address!, deposit });
      const absorb = receiver.combine(this.run, { op: 'absorb', from: giver.address!, deposit, reduce: this.reduce });
      absorb.catch(() => undefined);
      try {
        await expect;
      } catch (error) {
        await absorb.catch(() => undefined);
        if (!isLoss(error)) throw error;
        return;
      }
      const given = await settle(giver.combine(this.run, { op: 'give', to: receiver.address!, deposit }));
      if (!given.ok && !isLoss(given.error)) {
        // Refused, or the accumulator cannot travel: the run fails (its end releases the receiver).
        if (giver.isOpen) giver.combine(this.run, { op: 'restore', deposit, reduce: this.reduce }).catch(() => undefined);
        throw given.error;
      }
      const absorbed = await settle(absorb);
      if (absorbed.ok) {
        const chunks = (absorbed.value as CombineReply).chunks;
        const theirs = this.custodyOf(from);
        const mine = this.custodyOf(to);
        for (const c of chunks) {
          theirs.delete(c);
          mine.add(c);
        }
        if (giver.isOpen) this.snapshots.push({ deposit, holder: from, to, chunks });
        return;
      }
      // Not folded: the giver (if alive) takes its snapshot back; its custody never moved.
      if (giver.isOpen) this.restoreOn(from, deposit);
      if (giver.isOpen && receiver.isOpen && !isLoss(absorbed.error)) throw absorbed.error;
    } finally {
      this.pending--;
      this.settle();
    }
  }

  private restoreOn(holder: Participant, deposit: number): void {
    clientOf(holder.vm)
      .combine(this.run, { op: 'restore', deposit, reduce: this.reduce })
      .catch((error: unknown) => {
        if (!isLoss(error)) this.host.fail(error);
      });
  }

  // ---- losses ----------------------------------------------------------------------------

  /** Applies the losses recorded, once no deposit is in flight. */
  private settle(): void {
    if (this.pending > 0) return;
    if (this.losses.length > 0) {
      for (const slot of this.losses.splice(0)) {
        const chunks = this.custody.get(slot) ?? new Set<number>();
        this.custody.delete(slot);
        this.rescue(slot, chunks);
      }
      this.host.changed();
    }
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /**
   * `chunks` were in `lost`'s accumulator: snapshots given to it come back on their givers when
   * those are alive (and not stopping); what remains is handed out again.
   */
  private rescue(lost: Participant, chunks: Set<number>): void {
    for (const snapshot of [...this.snapshots]) {
      if (snapshot.to !== lost || snapshot.chunks.length === 0 || !snapshot.chunks.every((c) => chunks.has(c))) continue;
      this.snapshots.splice(this.snapshots.indexOf(snapshot), 1);
      for (const c of snapshot.chunks) chunks.delete(c);
      const holder = clientOf(snapshot.holder.vm);
      if (snapshot.holder.membership.kind !== 'lost' && holder.isOpen && !holder.isDraining) {
        const theirs = this.custodyOf(snapshot.holder);
        for (const c of snapshot.chunks) theirs.add(c);
        this.restoreOn(snapshot.holder, snapshot.deposit);
      } else {
        this.rescue(snapshot.holder, new Set(snapshot.chunks));
      }
    }
    const again: Chunk<W>[] = [];
    for (const index of chunks) {
      const chunk = this.folded.get(index);
      if (!chunk) continue;
      this.folded.delete(index);
      again.push(chunk);
    }
    if (again.length > 0) this.host.reopen(again);
  }

  // ---- helpers ---------------------------------------------------------------------------

  /** Every folded chunk is in exactly one of `parts` — else this is a bug, and says so. */
  private checkComplete(parts: ReadonlyArray<readonly number[]>): void {
    const seen = new Set<number>();
    let count = 0;
    for (const part of parts) {
      for (const c of part) {
        seen.add(c);
        count++;
      }
    }
    const missing = [...this.folded.keys()].filter((c) => !seen.has(c));
    if (count !== seen.size || seen.size !== this.folded.size || missing.length > 0) {
      throw new Error(`forkWork reduce: internal error: the combined value holds ${count} chunk results (${seen.size} distinct), expected each of ${this.folded.size} once${missing.length ? `; missing ${missing.slice(0, 10).join(', ')}` : ''}`);
    }
  }

  private custodyOf(slot: Participant): Set<number> {
    let set = this.custody.get(slot);
    if (!set) this.custody.set(slot, (set = new Set()));
    return set;
  }

  /** Counts `promise` as in flight; `apply` records its answer before any loss is applied. */
  private track<T>(promise: Promise<T>, apply: (value: T) => void): Promise<T> {
    this.pending++;
    const done = () => {
      this.pending--;
      this.settle();
    };
    return promise.then(
      (value) => {
        try {
          apply(value);
        } finally {
          done();
        }
        return value;
      },
      (error: unknown) => {
        done();
        throw error;
      },
    );
  }

  /** Resolves once no custody-changing request is in flight (losses then applied). */
  private async idle(): Promise<void> {
    while (this.pending > 0) await this.change();
    this.settle();
  }

  /** Resolves at the next settle (a request answered, a loss). */
  private change(): Promise<void> {
    return new Promise((resolve) => {
      const previous = this.wake;
      this.wake = () => {
        previous?.();
        resolve();
      };
    });
  }
}

async function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}
