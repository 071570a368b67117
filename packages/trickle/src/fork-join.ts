/**
 * Asynchronous invocation, as in the paper: `fork` sends a call without waiting and returns a
 * handle; `join` waits for handles; `joinAny` waits for the first of several.
 *
 * The four forms of `fork`:
 *
 * ```ts
 * fork(vm, f, ...args)            // one call on one VM                       → ForkHandle
 * fork(vms, f, ...args)           // f(...args) on every VM                   → ForkHandle[]
 * fork(vms, [f, g, …], ...args)   // vms[i] runs fs[i](...args)                → ForkHandle[]
 * fork(vms, f | fs, argList)      // vms[i] runs f(argList[i])                → ForkHandle[]
 * ```
 *
 * The paper's rule decides between the last form and "same arguments everywhere": an argument
 * list is taken per VM when exactly ONE array argument follows the function(s) and its length
 * equals the number of VMs. So `fork(vms, sum, [1, 2])` with two VMs runs `sum(1)` and `sum(2)`,
 * not `sum([1, 2])` twice. A single array argument of any OTHER length throws ArgumentListError:
 * the same line would otherwise change meaning with the number of VMs (with local VMs, the core
 * count). To say which one you mean, use the unambiguous forms:
 *
 * ```ts
 * forkAll(vms, f | fs, ...args)   // always the same arguments on every VM
 * forkEach(vms, f | fs, argLists) // vms[i] runs f(...argLists[i]) — each entry is an argument LIST
 * ```
 *
 * A function is given as the local function (called by its name on the VM: inject it first), as
 * a name string (`'foo'`, or a path `'Math.max'`), or as a remote proxy (`vm.foo`, `stack.push`,
 * which must belong to that VM).
 *
 * `fork` never waits: requests are pipelined on the link, so 100,000 forks on one VM are
 * 100,000 messages in flight, answered in order as the VM gets through them.
 */
import { callOptionsOf } from './call-options';
import { callSite } from './client/call-site';
import { pathLabel, stateOf } from './client/proxy';
import type { PathKey } from './protocol';
import type { RemoteMarker, Returned, VM } from './types';
import { clientOf } from './vm';
import { ArgumentListError } from './errors';

type AnyFunction = (...args: any[]) => any;
/** What `fork` accepts as "the function". */
export type Callee = AnyFunction | string | object;
/**
 * Callees the type checker cannot check arguments against: names, and remote functions (proxies,
 * whose calls return promises). A local function always goes through the typed overloads.
 */
type LooseCallee = string | (((...args: any[]) => Promise<any>) & RemoteMarker);
type ResultOf<F> = F extends AnyFunction ? Returned<Awaited<ReturnType<F>>> : unknown;

/** An outstanding (or finished) forked call. */
export class ForkHandle<R = unknown> {
  /** The VM the call runs on. */
  readonly vm: VM;
  /** What was called, for messages (`foo()`). */
  readonly remoteName: string;
  /** Settles with the call's result. Rejections are marked handled: they surface through join. */
  readonly promise: Promise<R>;
  private outcome: { ok: true; value: R } | { ok: false; error: unknown } | undefined;

  constructor(vm: VM, remoteName: string, promise: Promise<R>) {
    this.vm = vm;
    this.remoteName = remoteName;
    this.promise = promise;
    promise.then(
      (value) => {
        this.outcome = { ok: true, value };
      },
      (error: unknown) => {
        this.outcome = { ok: false, error };
      },
    );
  }

  /** True once the call has finished (either way). */
  get settled(): boolean {
    return this.outcome !== undefined;
  }
}

/** The target path and a label for a callee on `vm`. */
export function resolveCallee(vm: VM, callee: Callee, what: string): { ref?: number; path: readonly PathKey[]; label: string } {
  if (typeof callee === 'string') {
    if (callee === '') throw new TypeError(`${what}: the function name is empty`);
    return { path: callee.split('.'), label: callee };
  }
  const state = stateOf(callee);
  if (state) {
    const client = clientOf(vm);
    if (state.host !== client && (state.host as { client?: unknown }).client !== client) {
      throw new TypeError(`${what}: ${pathLabel(state)} belongs to ${state.host.label}, not to ${client.label}`);
    }
    const label = pathLabel(state);
    return state.root ? { ref: state.root.id, path: state.path, label } : { path: state.path, label };
  }
  if (typeof callee === 'function') {
    const name = callee.name;
    if (!name) throw new TypeError(`${what}: an anonymous function has no name to be called by on the VM; inject it by key and pass the key`);
    return { path: [name], label: name };
  }
  throw new TypeError(`${what}: expected a function, a name, or a remote function, got ${typeof callee}`);
}

function forkOne<R>(vm: VM, callee: Callee, args: unknown[], what: string): ForkHandle<R> {
  const site = callSite(forkOne);
  const client = clientOf(vm, `${what}: vm`);
  let promise: Promise<unknown>;
  let label = String(typeof callee === 'function' ? callee.name : callee);
  try {
    const target = resolveCallee(vm, callee, what);
    label = target.label;
    const at = target.ref === undefined ? { path: target.path } : { ref: target.ref, path: target.path };
    promise = client.callPath(at, args, `${label}()`, site, callOptionsOf(vm));
  } catch (error) {
    promise = Promise.reject(error);
  }
  return new ForkHandle<R>(vm, `${label}()`, promise as Promise<R>);
}

function listOfFunctions(vms: readonly VM[], f: Callee | readonly Callee[], what: string): readonly Callee[] {
  if (!Array.isArray(f)) return vms.map(() => f as Callee);
  if (f.length !== vms.length) {
    throw new TypeError(`${what}: ${f.length} function${f.length === 1 ? '' : 's'} for ${vms.length} VM${vms.length === 1 ? '' : 's'}; a function list maps one function to each VM`);
  }
  return f;
}

// Overloads: lists first, so a VM handle is never taken for a list and vice versa.
export function fork<F extends AnyFunction>(vms: readonly VM[], f: F | readonly F[], argList: readonly Parameters<F>[0][]): ForkHandle<ResultOf<F>>[];
export function fork<F extends AnyFunction>(vms: readonly VM[], f: F | readonly F[], ...args: Parameters<F>): ForkHandle<ResultOf<F>>[];
export function fork(vms: readonly VM[], f: LooseCallee | readonly LooseCallee[], ...args: unknown[]): ForkHandle<unknown>[];
export function fork<F extends AnyFunction>(vm: VM, f: F, ...args: Parameters<F>): ForkHandle<ResultOf<F>>;
export function fork(vm: VM, f: LooseCallee, ...args: unknown[]): ForkHandle<unknown>;
export function fork(target: VM | readonly VM[], f: Callee | readonly Callee[], ...args: unknown[]): ForkHandle | ForkHandle[] {
  if (!Array.isArray(target)) {
    if (Array.isArray(f)) throw new TypeError('fork(vm, …): a function list needs a list of VMs');
    return forkOne(target as VM, f as Callee, args, 'fork');
  }
  const vms = target as readonly VM[];
  const fs = listOfFunctions(vms, f, 'fork');
  // The paper's rule: one array argument of exactly vms.length entries is one argument per VM.
  // Any other length would make the same call mean something else on another number of VMs.
  const perVM = args.length === 1 && Array.isArray(args[0]);
  if (perVM && (args[0] as unknown[]).length !== vms.length) throw new ArgumentListError('fork', (args[0] as unknown[]).length, vms.length);
  return vms.map((vm, i) => forkOne(vm, fs[i]!, perVM ? [(args[0] as unknown[])[i]] : args, 'fork'));
}

/** `fs[i]` (or `f`) with the same arguments on every VM — never splits an array argument. */
export function forkAll<F extends AnyFunction>(vms: readonly VM[], f: F | readonly F[], ...args: Parameters<F>): ForkHandle<ResultOf<F>>[];
export function forkAll(vms: readonly VM[], f: LooseCallee | readonly LooseCallee[], ...args: unknown[]): ForkHandle<unknown>[];
export function forkAll(vms: readonly VM[], f: Callee | readonly Callee[], ...args: unknown[]): ForkHandle[] {
  const fs = listOfFunctions(vms, f, 'forkAll');
  return vms.map((vm, i) => forkOne(vm, fs[i]!, args, 'forkAll'));
}

/** `vms[i]` runs `f(...argLists[i])` (or `fs[i]`): one argument LIST per VM. */
export function forkEach<F extends AnyFunction>(vms: readonly VM[], f: F | readonly F[], argLists: readonly Parameters<F>[]): ForkHandle<ResultOf<F>>[];
export function forkEach(vms: readonly VM[], f: LooseCallee | readonly LooseCallee[], argLists: readonly (readonly unknown[])[]): ForkHandle<unknown>[];
export function forkEach(vms: readonly VM[], f: Callee | readonly Callee[], argLists: readonly (readonly unknown[])[]): ForkHandle[] {
  const fs = listOfFunctions(vms, f, 'forkEach');
  if (!Array.isArray(argLists) || argLists.length !== vms.length) {
    throw new TypeError(`forkEach: expected one argument list per VM (${vms.length}), got ${Array.isArray(argLists) ? argLists.length : typeof argLists}`);
  }
  return vms.map((vm, i) => {
    const args = argLists[i];
    if (!Array.isArray(args)) throw new TypeError(`forkEach: argLists[${i}] is not an array of arguments`);
    return forkOne(vm, fs[i]!, [...args], 'forkEach');
  });
}

/** Waits for one handle (its value) or a list (their values, in list order). */
export function join<R>(handle: ForkHandle<R>): Promise<R>;
export function join<R>(handles: readonly ForkHandle<R>[]): Promise<R[]>;
export function join(handles: ForkHandle | readonly ForkHandle[]): Promise<unknown> {
  if (Array.isArray(handles)) return Promise.all(handles.map((h) => checkHandle(h, 'join').promise));
  return checkHandle(handles as ForkHandle, 'join').promise;
}

/**
 * Waits for the first of `handles` to finish, removes it from the array (in place) and returns
 * `[handle, value]`; `handle.vm` is the VM it ran on. When that call failed, the handle is
 * removed all the same and its error is thrown. Rejects with a TypeError on an empty list.
 */
export async function joinAny<R>(handles: ForkHandle<R>[]): Promise<[ForkHandle<R>, R]> {
  if (!Array.isArray(handles) || handles.length === 0) throw new TypeError('joinAny: no handles to wait for');
  handles.forEach((h) => checkHandle(h, 'joinAny'));
  let done = handles.find((h) => h.settled);
  if (!done) {
    done = await Promise.race(handles.map((h) => h.promise.then(() => h, () => h)));
  }
  const index = handles.indexOf(done);
  if (index >= 0) handles.splice(index, 1);
  const value = await done.promise;
  return [done, value];
}

function checkHandle<H>(handle: H, what: string): H {
  if (!(handle instanceof ForkHandle)) throw new TypeError(`${what}: expected fork handles (from fork()), got ${typeof handle}`);
  return handle;
}
