/**
 * Cancellation of remote calls: `withOptions(vm, { signal, timeoutMs })` is the same session seen
 * through a handle whose requests can be cancelled.
 *
 * ```ts
 * const r = await withOptions(vm, { timeoutMs: 5_000 }).crunch(data);   // CancelledError after 5 s
 * const ac = new AbortController();
 * const h = fork(withOptions(vm, { signal: ac.signal }), crunch, data);
 * ac.abort();                                                          // join(h) → CancelledError
 * ```
 *
 * JavaScript cannot interrupt a function that is running (a loop never yields), so cancelling a
 * call ends its whole session: the session's worker on the VM is terminated (River terminates
 * the RAI VR), the cancelled call rejects with `CancelledError` at once, every other request
 * outstanding on that session rejects with `CancelledError` too, and the handle is closed —
 * later requests on it reject with `CancelledError` saying which call ended the session. The VM,
 * and every other session on it, carry on. A signal that is already aborted rejects the request
 * without sending it (nothing is ended then).
 *
 * What goes through the handle `withOptions` returns is cancellable: calls, reads (`await
 * h.names`), `new h.Stack()`, and `fork`/`forkWork` on it. Assignments are sent without waiting
 * and are not. Remote objects that come back are ordinary proxies: wrap them too
 * (`withOptions(stack, { timeoutMs })`). `timeoutMs` applies to each request separately, from
 * when it is sent; `signal` to all of them.
 */
import type { CallOptions } from './client/cancellation';
import type { SessionClient } from './client/session-client';
import { makeProxy, stateOf, type PathState, type ProxyHost } from './client/proxy';
import type { PathKey } from './protocol';
import { adoptHandle, clientOf, isVM } from './vm';

export type { CallOptions } from './client/cancellation';

/** Options of the handles `withOptions` made (VM handles; other proxies carry them in their host). */
const optionsOfHandle = new WeakMap<object, CallOptions>();

/**
 * The call options a VM handle carries (from `withOptions`), or undefined for a plain handle.
 * fork, forkWork and forkGen use it for the calls they make on that handle.
 */
export function callOptionsOf(vm: unknown): CallOptions | undefined {
  return (typeof vm === 'object' || typeof vm === 'function') && vm !== null ? optionsOfHandle.get(vm) : undefined;
}

/** Checks and normalises call options; throws TypeError / RangeError on bad ones. */
export function checkCallOptions(options: CallOptions | undefined, what = 'withOptions'): CallOptions {
  if (options === null || typeof options !== 'object') throw new TypeError(`${what}: options must be an object { signal?, timeoutMs? }`);
  const { signal, timeoutMs } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`${what}: signal must be an AbortSignal`);
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0 && timeoutMs <= 2 ** 31 - 1)) {
    throw new RangeError(`${what}: timeoutMs must be a positive number of milliseconds (at most 2^31 - 1), got ${String(timeoutMs)}`);
  }
  const out: CallOptions = {};
  if (signal !== undefined) out.signal = signal;
  if (timeoutMs !== undefined) out.timeoutMs = timeoutMs;
  return out;
}

/** `inner` options narrowed by `outer`: either signal cancels, the shorter timeout counts. */
function combine(inner: CallOptions | undefined, outer: CallOptions): CallOptions {
  if (!inner) return outer;
  const signals = [inner.signal, outer.signal].filter((s): s is AbortSignal => s !== undefined);
  const timeouts = [inner.timeoutMs, outer.timeoutMs].filter((t): t is number => t !== undefined);
  const out: CallOptions = {};
  if (signals.length > 0) out.signal = signals.length === 1 ? signals[0] : AbortSignal.any(signals);
  if (timeouts.length > 0) out.timeoutMs = Math.min(...timeouts);
  return out;
}

/** A proxy host that forwards to a session client, with call options on every awaited request. */
class OptionsHost implements ProxyHost {
  constructor(
    readonly client: SessionClient,
    readonly options: CallOptions,
  ) {}

  get label(): string {
    return this.client.label;
  }

  call(state: PathState, args: unknown[], site: Error): Promise<unknown> {
    return this.client.call(state, args, site, this.options);
  }

  construct(state: PathState, args: unknown[], site: Error): Promise<unknown> {
    return this.client.construct(state, args, site, this.options);
  }

  get(state: PathState, site: Error): Promise<unknown> {
    return this.client.get(state, site, this.options);
  }

  set(state: PathState, key: PathKey, value: unknown, site: Error): void {
    this.client.set(state, key, value, site);
  }

  release(state: PathState): Promise<void> {
    return this.client.release(state);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/**
 * The same session (or remote object, or path), seen through a handle whose requests can be
 * cancelled with `signal` or `timeoutMs` (see the top of this file). Given a list of VM handles,
 * returns the list of their wrapped handles. Wrapping a wrapped handle combines the options.
 */
export function withOptions<T>(target: T, options: CallOptions): T;
export function withOptions(target: unknown, options: CallOptions): unknown {
  const checked = checkCallOptions(options);
  if (Array.isArray(target)) return target.map((item) => withOptions(item, checked));
  const state = stateOf(target);
  if (!state) throw new TypeError('withOptions: expected a VM handle (from connect()), a remote object or a remote path');
  const host = state.host as ProxyHost & Partial<Pick<OptionsHost, 'client' | 'options'>>;
  const client = host.client ?? (host as unknown as SessionClient);
  const combined = combine(host.options, checked);
  const view = makeProxy({
    host: new OptionsHost(client, combined),
    root: state.root,
    rootProxy: state.root ? (state.rootProxy ?? state.self) : undefined,
    path: state.path,
  });
  if (isVM(target)) {
    adoptHandle(view, clientOf(target));
    optionsOfHandle.set(view, combined);
  }
  return view;
}
