/**
 * Live VM sets. `connect({ watch: true })` returns a *live list*: an ordinary array of VM handles
 * (so `inject`, `fork`, `join`, `disconnect` and `await using` work on it as on any list) that
 * also implements `LiveVMs`. VMs found later are appended to the array once the code and data
 * injected into the list so far have been replayed to them; VMs that are lost or stopping are
 * taken out. `forkWork`/`forkGen` see the `LiveVMs` side and let VMs join and leave a running
 * call.
 *
 * What is replayed: every `inject(list, ...)` on the list itself, in order, with the items as
 * they are when replayed (the functions' source, the data objects' current contents). Values set
 * on one VM (`vms[0].x = 1`) or injected into a single handle are not.
 */
import type { VM } from '../types';
import { clientOf, type VMList } from '../vm';

/** A set of VMs that can change while a run goes on. */
export interface LiveVMs {
  /** The VMs in the set now (a snapshot). */
  current(): readonly VM[];
  /** Calls `listener` when a VM joins or leaves; returns the unsubscribe function. */
  subscribe(listener: (change: { added?: VM; removed?: VM }) => void): () => void;
  /**
   * Whether VMs may still join (the set is looking for them). A run whose VMs are all gone waits
   * for one to join only while this is true; left out, the set is taken to be watching.
   */
  readonly watching?: boolean;
}

/** What a live list adds to control its watching (kept through `inject`). */
export interface LiveControls {
  /** True until `stopWatching()` or `disconnect`: VMs found meanwhile join the list. */
  readonly watching: boolean;
  /** Stops looking for new VMs; the list keeps the VMs it has. `disconnect` does this too. */
  stopWatching(): Promise<void>;
}

/** What `connect({ watch: true })` returns: an array of the VMs in the set now, and `LiveVMs`. */
export type LiveVMList<V = VM> = VMList<V> & LiveVMs & LiveControls;

/** True for a `LiveVMs` source (a live list is also an array: check this first). */
export function isLiveVMs(value: unknown): value is LiveVMs {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as LiveVMs).current === 'function' &&
    typeof (value as LiveVMs).subscribe === 'function'
  );
}

type Change = { added?: VM; removed?: VM };

/**
 * Lifecycle of a live set: watching for VMs; fixed (stopWatching: it keeps its VMs, none join);
 * or closed (disconnected; nothing joins any more).
 */
type LiveState = { readonly kind: 'watching' } | { readonly kind: 'fixed' } | { readonly kind: 'closed' };

const controllers = new WeakMap<object, LiveSet>();

/**
 * The state behind one live list: its members, the injections to replay, and the listeners.
 * `connect` drives it (`admit` when a VM is found, `drop` when one goes).
 */
export class LiveSet {
  readonly list: LiveVMList;
  private readonly listeners = new Set<(change: Change) => void>();
  /** Argument lists of `inject(list, ...items)`, in order. */
  private readonly journal: unknown[][] = [];
  private readonly unwatch = new Map<VM, () => void>();
  /** Every VM that was ever a member (disconnect ends them all, also those dropped since). */
  private readonly everyone = new Set<VM>();
  private state: LiveState = { kind: 'watching' };

  constructor(
    vms: VM[],
    private readonly hooks: { dispose: (list: LiveVMList) => Promise<void>; stopWatching: () => Promise<void> },
  ) {
    const list = vms as LiveVMList;
    const methods: Record<string | symbol, unknown> = {
      current: () => [...list],
      subscribe: (listener: (change: Change) => void) => {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
      },
      stopWatching: () => this.stopWatching(),
      [Symbol.asyncDispose]: () => hooks.dispose(list),
    };
    for (const key of Reflect.ownKeys(methods)) {
      Object.defineProperty(list, key, { value: methods[key], enumerable: false, configurable: true, writable: true });
    }
    Object.defineProperty(list, 'watching', { get: () => this.state.kind === 'watching', enumerable: false, configurable: true });
    this.list = list;
    controllers.set(list, this);
    for (const vm of vms) this.follow(vm);
  }

  get closed(): boolean {
    return this.state.kind === 'closed';
  }

  /** Stops looking for VMs; the list keeps those it has. */
  async stopWatching(): Promise<void> {
    if (this.state.kind === 'watching') this.state = { kind: 'fixed' };
    await this.hooks.stopWatching();
  }

  /** No VM joins after this (disconnect): stops watching for VMs. */
  async close(): Promise<void> {
    if (this.state.kind === 'closed') return;
    this.state = { kind: 'closed' };
    for (const stop of this.unwatch.values()) stop();
    this.unwatch.clear();
    await this.hooks.stopWatching();
  }

  /** Every VM that was ever in the list. */
  all(): VM[] {
    return [...this.everyone];
  }

  /** Records an `inject(list, ...items)`, to replay on VMs that join later; returns its undo. */
  recordInjection(items: unknown[]): () => void {
    this.journal.push(items);
    return () => {
      const at = this.journal.indexOf(items);
      if (at >= 0) this.journal.splice(at, 1);
    };
  }

  /**
   * Brings `vm` up to date with what the list has been given (`replay` injects one entry) and
   * appends it. Resolves false when the list was closed meanwhile (the caller disposes of `vm`).
   */
  async admit(vm: VM, replay: (vm: VM, items: unknown[]) => Promise<unknown>): Promise<boolean> {
    let replayed = 0;
    // Injections made while replaying are replayed too; between the last check and the push
    // nothing awaits, so an inject after that finds `vm` in the list.
    while (replayed < this.journal.length) {
      await replay(vm, this.journal[replayed++]!);
      if (this.closed) return false;
    }
    if (this.closed) return false;
    if (!clientOf(vm).isOpen || clientOf(vm).isDraining) return false;
    this.list.push(vm);
    this.follow(vm);
    this.emit({ added: vm });
    return true;
  }

  /** Takes `vm` out of the list (lost, stopping, or no longer discovered). */
  drop(vm: VM): void {
    const at = this.list.indexOf(vm);
    if (at < 0) return;
    this.list.splice(at, 1);
    this.unwatch.get(vm)?.();
    this.unwatch.delete(vm);
    this.emit({ removed: vm });
  }

  private follow(vm: VM): void {
    this.everyone.add(vm);
    this.unwatch.set(
      vm,
      clientOf(vm).watch(() => this.drop(vm)),
    );
  }

  private emit(change: Change): void {
    for (const listener of [...this.listeners]) listener(change);
  }
}

/** The live set behind `list`, if it is a live list. */
export function liveSetOf(list: unknown): LiveSet | undefined {
  return typeof list === 'object' && list !== null ? controllers.get(list) : undefined;
}

/**
 * Called by `inject`: an injection into a live list is replayed on VMs that join it later.
 * Returns the undo, for an injection that failed.
 */
export function recordInjection(target: unknown, items: unknown[]): () => void {
  return liveSetOf(target)?.recordInjection(items) ?? (() => undefined);
}
