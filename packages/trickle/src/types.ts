/**
 * The types of remote access. `Remote<T>` is what a namespace holding `T` looks like through a
 * VM handle: every function becomes async, every value awaitable, every constructor returns a
 * promise of a remote object.
 *
 * By value or by reference (at run time: see values/walk.ts) is approximated here by shape:
 * primitives, arrays, Map, Set, Date, typed arrays, Error and objects without methods come back
 * as values; functions and objects with methods come back as remote objects. What `new` returns
 * is a remote object whatever its shape (it is an instance of a class).
 */

type Primitive = string | number | bigint | boolean | symbol | null | undefined;
type AnyFunction = (...args: any[]) => any;
type AnyConstructor = abstract new (...args: any[]) => any;
/** Objects the codec carries as values without looking inside. */
type Atom = Date | Error | ArrayBuffer | ArrayBufferView | RegExp;

type MethodKeys<T> = { [K in keyof T]-?: T[K] extends AnyFunction ? K : never }[keyof T];

/** True when a value of type T crosses by reference. */
export type IsByReference<T> = [T] extends [Primitive]
  ? false
  : [T] extends [AnyFunction | AnyConstructor]
    ? true
    : [T] extends [Atom | ReadonlyMap<any, any> | ReadonlySet<any> | readonly any[]]
      ? false
      : [MethodKeys<T>] extends [never]
        ? false
        : true;

/** What the initiator receives for a remote value of type T. */
export type Returned<T> = IsByReference<T> extends true
  ? RemoteObject<T>
  : T extends readonly (infer E)[]
    ? T extends E[] ? Returned<E>[] : readonly Returned<E>[]
    : T extends Primitive | Atom | ReadonlyMap<any, any> | ReadonlySet<any>
      ? T
      : { [K in keyof T]: Returned<T[K]> };

/** What a caller may pass where the remote function expects P: the value, or a remote object standing for it. */
export type Arg<P> = IsByReference<P> extends true ? P | RemoteObject<P> : P;
export type Args<A extends readonly unknown[]> = { [I in keyof A]: Arg<A[I]> };

declare const remoteFunction: unique symbol;

/** Tells a remote function's type from a local async function's (type level only). */
export interface RemoteMarker {
  readonly [remoteFunction]: true;
}

/** A remote function: same parameters, the result awaited and returned as a promise. */
export type RemoteFunction<F> = F extends (...args: infer A) => infer R
  ? ((...args: Args<A>) => Promise<Returned<Awaited<R>>>) & RemoteMarker
  : never;

/** A remote constructor: `new` resolves to a remote object of the instance. */
export type RemoteConstructor<C> = C extends abstract new (...args: infer A) => infer I
  ? new (...args: Args<A>) => Promise<Constructed<I>>
  : never;

type Constructed<I> = I extends Atom | ReadonlyMap<any, any> | ReadonlySet<any> | readonly any[] ? I : RemoteObject<I>;

/** The members of a remote T, each reachable as a path (`obj.a.b(1)` is one request). */
export type RemoteMembers<T> = { [K in keyof T as K extends 'then' ? never : K]: RemoteSlot<T[K]> };

/**
 * A property of a remote namespace or object, of type V:
 * - a function → RemoteFunction (`await vm.foo(10)`);
 * - a class → RemoteConstructor plus its statics (`await new vm.Stack()`);
 * - data → awaitable (`await vm.names`), its members reachable (`vm.names.length`,
 *   `vm.table.get(1)`), and its primitive members assignable (`vm.names[1] = '*NONE*'`);
 * - a primitive → `V | PromiseLike<V>`: awaitable, and assignable (`vm.count = 5`).
 */
export type RemoteSlot<V> = [V] extends [Primitive]
  ? V | PromiseLike<V>
  : [V] extends [AnyConstructor]
    ? RemoteConstructor<V> & RemoteMembers<V>
    : [V] extends [AnyFunction]
      ? RemoteFunction<V>
      : IsByReference<V> extends true
        ? RemoteMembers<V> & PromiseLike<RemoteObject<V>>
        : RemoteMembers<V> & PromiseLike<Returned<V>>;

/** A remote object: its methods async, its fields awaitable; callable when it is a function. */
export type RemoteObject<T> = RemoteMembers<T> &
  ([T] extends [AnyConstructor] ? RemoteConstructor<T> : {}) &
  ([T] extends [AnyFunction] ? RemoteFunction<T> : {});

/** A session namespace holding T, seen through a VM handle. */
export type Remote<T> = RemoteMembers<T>;

/** Globals of every VM (the paper's "built-in functions are available for remote invocation"). */
export interface VMGlobals {
  Math: Math;
  JSON: JSON;
  Object: ObjectConstructor;
  Array: ArrayConstructor;
  Number: NumberConstructor;
  String: StringConstructor;
  Boolean: BooleanConstructor;
  Date: DateConstructor;
  Map: MapConstructor;
  Set: SetConstructor;
  Error: ErrorConstructor;
  parseInt: typeof parseInt;
  parseFloat: typeof parseFloat;
  isNaN: typeof isNaN;
  isFinite: typeof isFinite;
  structuredClone: typeof structuredClone;
  require: NodeJS.Require;
  process: NodeJS.Process;
  console: Console;
}

declare const injectedTypes: unique symbol;

/** Carries, at the type level only, what was injected into a typed VM handle. */
export interface VMBrand<T> {
  readonly [injectedTypes]?: T;
}

/** A VM handle that knows nothing about its namespace: any path, any call, typed `any`. */
export interface UntypedVM {
  readonly [injectedTypes]?: unknown;
  [name: string]: any;
}

/** A VM handle whose namespace holds T (plus the VM's globals). */
export type TypedVM<T> = Remote<T & VMGlobals> & VMBrand<T>;

/**
 * A VM handle. `VM` (no argument) is untyped: every path is `any`. `VM<{ foo: typeof foo }>`
 * knows `foo` (and the VM's globals) and nothing else — `inject` returns such handles.
 */
export type VM<T = unknown> = unknown extends T ? UntypedVM : TypedVM<T>;

/** What a VM handle of type V knows is in its namespace (`unknown` for an untyped handle). */
export type NamespaceOf<V> = V extends VMBrand<infer T> ? (unknown extends T ? {} : T) : {};

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** An argument of `inject`: a named function or class, or an object of data (and code) by key. */
export type Injectable = AnyFunction | AnyConstructor | Record<string, unknown>;

/**
 * What a list of inject arguments adds to the type of a namespace: the keys of object
 * arguments. (A function or class given by itself is injected under its name, which the type
 * system cannot see: use `{ foo }` to get types.)
 */
export type Injected<I extends readonly unknown[]> = UnionToIntersection<
  { [K in keyof I]: I[K] extends AnyFunction | AnyConstructor ? {} : I[K] extends object ? I[K] : {} }[number]
>;

/** The handle type `inject(vm: V, ...items: I)` returns. */
export type WithInjected<V, I extends readonly unknown[]> = [keyof Injected<I>] extends [never]
  ? V
  : VM<Flatten<NamespaceOf<V> & Injected<I>>>;

type Flatten<T> = { [K in keyof T]: T[K] };
