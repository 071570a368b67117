/**
 * Remote proxies: one kind of Proxy for VM handles, remote objects, and every path under them.
 *
 * A proxy stands for a path rooted at a session namespace (a VM handle is the empty path) or at
 * a remote object. Reading a property gives the proxy one step further (one proxy per path,
 * cached); nothing is sent until the path is used:
 *
 * - called (`vm.table.get(1)`) → one `call` request for the whole path;
 * - awaited (`await vm.names`) → `then` sends a `get` request. `then` is the only key that is
 *   read specially: on a VM handle or a remote object (the empty path) it is `undefined`, so those
 *   are never mistaken for promises (`await new vm.Stack()` resolves to the proxy itself);
 * - constructed (`new vm.Stack()`) → `construct`; assigned to (`vm.names[1] = v`) → `set`.
 *
 * A few keys stay local: `then` as above, `toJSON`, and symbols (`Symbol.toPrimitive`,
 * `util.inspect.custom`, `Symbol.asyncDispose` on a VM handle). A remote name `then` cannot be
 * reached through a proxy.
 */
import { inspect } from 'node:util';
import type { PathKey } from '../protocol';
import { callSite } from './call-site';

/** A remote object as the initiator tracks it (shared by all proxies under it). */
export interface RefEntry {
  readonly id: number;
  readonly type: string;
  /** Times the session sent this reference since the last release (see ReleaseRequest). */
  received: number;
  /** A WeakRef, typed structurally: the declarations must not need lib es2021.weakref. */
  weak: { deref(): object | undefined } | undefined;
  released: boolean;
}

/** What proxies need from the session client they belong to. */
export interface ProxyHost {
  readonly label: string;
  call(state: PathState, args: unknown[], site: Error): Promise<unknown>;
  construct(state: PathState, args: unknown[], site: Error): Promise<unknown>;
  get(state: PathState, site: Error): Promise<unknown>;
  set(state: PathState, key: PathKey, value: unknown, site: Error): void;
  close(): Promise<void>;
}

export interface PathState {
  readonly host: ProxyHost;
  /** The remote object the path starts at; undefined → the session namespace. */
  readonly root: RefEntry | undefined;
  /** The proxy of the root remote object, held so a path under it keeps it alive. */
  readonly rootProxy: object | undefined;
  readonly path: readonly PathKey[];
  /** The proxy for this state (set once it exists). */
  self: object;
  children: Map<PathKey, object> | undefined;
}

const stateOfTarget = new WeakMap<object, PathState>();
const stateOfProxy = new WeakMap<object, PathState>();

/** The path state behind a proxy, or undefined when `value` is not a remote proxy. */
export function stateOf(value: unknown): PathState | undefined {
  return (typeof value === 'function' || typeof value === 'object') && value !== null ? stateOfProxy.get(value) : undefined;
}

/** `foo`, `table.get`, `names[1]`, `Stack#3.push`. */
export function pathLabel(state: Pick<PathState, 'root' | 'path'>, extra?: PathKey): string {
  let text = state.root ? `${state.root.type}#${state.root.id}` : '';
  const keys = extra === undefined ? state.path : [...state.path, extra];
  for (const key of keys) {
    if (typeof key === 'number' || /^\d+$/.test(key)) text += `[${key}]`;
    else text += text === '' ? key : `.${key}`;
  }
  return text;
}

function describe(state: PathState): string {
  const path = pathLabel(state);
  return `[Remote ${path || 'VM'} on ${state.host.label}]`;
}

const handler: ProxyHandler<object> = {
  get(target, key) {
    const state = stateOfTarget.get(target)!;
    if (typeof key === 'symbol') {
      if (key === Symbol.toPrimitive) return () => describe(state);
      if (key === inspect.custom) return () => describe(state);
      if (key === Symbol.toStringTag) return 'Remote';
      if (key === Symbol.asyncDispose && state.root === undefined && state.path.length === 0) return () => state.host.close();
      return undefined;
    }
    if (key === 'then') {
      if (state.path.length === 0) return undefined;
      // `await proxy` reads `then` synchronously in the awaiting code, and calls it a tick later.
      const site = siteOf(handler.get!);
      return (onFulfilled?: (value: unknown) => unknown, onRejected?: (reason: unknown) => unknown) =>
        state.host.get(state, site).then(onFulfilled, onRejected);
    }
    if (key === 'toJSON') return () => describe(state);
    return child(state, key);
  },
  apply(target, _thisArg, args) {
    const state = stateOfTarget.get(target)!;
    return state.host.call(state, args, siteOf(handler.apply!));
  },
  construct(target, args) {
    const state = stateOfTarget.get(target)!;
    return state.host.construct(state, args, siteOf(handler.construct!));
  },
  set(target, key, value) {
    const state = stateOfTarget.get(target)!;
    if (typeof key === 'symbol') throw new TypeError(`cannot set a symbol-keyed property (${String(key)}) on a remote ${describe(state)}`);
    state.host.set(state, key, value, siteOf(handler.set!));
    return true;
  },
  deleteProperty(target, key) {
    const state = stateOfTarget.get(target)!;
    throw new TypeError(`cannot delete ${String(key)} of ${describe(state)}: deleting remote properties is not supported`);
  },
};

const siteOf = callSite;

/** `console.log(remoteObject)` → `[Remote Stack#3 on VM 'lab-3']`. */
function inspectTarget(this: object): string {
  // Called with the proxy as `this`.
  const state = stateOfProxy.get(this) ?? stateOfTarget.get(this);
  return state ? describe(state) : '[Remote]';
}

/** A new proxy for `state`. The target is a bound function: callable and constructible, with no own `prototype` (which would pin `proxy.prototype`). */
export function makeProxy(init: Omit<PathState, 'self' | 'children'>): object {
  const target = function remote() {}.bind(null);
  // util.inspect (console.log) looks at a proxy's target, not through the proxy: it finds this.
  Object.defineProperty(target, inspect.custom, { value: inspectTarget });
  const state = init as PathState;
  state.children = undefined;
  const proxy = new Proxy(target, handler);
  state.self = proxy;
  stateOfTarget.set(target, state);
  stateOfProxy.set(proxy, state);
  return proxy;
}

function child(state: PathState, key: PathKey): object {
  let proxy = state.children?.get(key);
  if (!proxy) {
    proxy = makeProxy({
      host: state.host,
      root: state.root,
      rootProxy: state.root ? (state.rootProxy ?? state.self) : undefined,
      path: [...state.path, key],
    });
    (state.children ??= new Map()).set(key, proxy);
  }
  return proxy;
}
