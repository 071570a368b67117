// Compile-time type tests: checked by `pnpm typecheck` (tsc -p tsconfig.json --noEmit), never run.
// Each `@ts-expect-error` marks something that must NOT compile; tsc fails if it does.
import {
  connectWorkers,
  fork,
  forkEach,
  forkGen,
  forkWork,
  inject,
  join,
  joinAny,
  type ForkHandle,
  type Remote,
  type RemoteObject,
  type VM,
  withOptions,
} from '../src';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

function foo(x: number) {
  return x + 10;
}
function sumAll(xs: number[]) {
  return xs.reduce((a, b) => a + b, 0);
}
async function later(s: string) {
  return s.length;
}
class Stack {
  items: string[] = [];
  push(x: string) {
    this.items.push(x);
    return this.items.length;
  }
  pop() {
    return this.items.pop();
  }
}
class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
}
function makeStack() {
  return new Stack();
}
function data() {
  return { n: 1, list: [1, 2], map: new Map<string, number>() };
}

export async function typeChecks(): Promise<void> {
  await using vms = await connectWorkers(4);

  // The example: inject returns the handles typed with what was injected.
  const results = (await inject(vms, { foo })).map((vm) => vm.foo(10));
  expectType<Equal<typeof results, Promise<number>[]>>();
  const typed = await inject(vms, { foo, later });
  // @ts-expect-error a wrong argument type is a compile error
  void typed[0]!.foo('x');
  // @ts-expect-error too many arguments
  void typed[0]!.foo(1, 2);
  // @ts-expect-error a name that was not injected is unknown on a typed handle
  void typed[0]!.bar(1);
  expectType<Equal<ReturnType<(typeof typed)[0]['later']>, Promise<number>>>();

  // One VM in, one VM out; positional functions keep the handle's type.
  const one = await inject(vms[0]!, { Stack, names: ['a', 'b'], table: new Map<number, string>(), count: 1, makeStack, data, Point });
  const same = await inject(vms[0]!, foo);
  expectType<Equal<typeof same, (typeof vms)[0]>>();
  // Untyped handles accept anything (typed `any`).
  const anything = await vms[0]!.whatever.deep.path(1, 'x');
  expectType<Equal<typeof anything, any>>();

  // Constructors → Promise<remote object>; methods async; fields awaitable.
  const s = await new one.Stack();
  expectType<Equal<ReturnType<typeof s.push>, Promise<number>>>();
  expectType<Equal<Awaited<ReturnType<typeof s.pop>>, string | undefined>>();
  const items: string[] = await s.items;
  // @ts-expect-error push takes a string
  void s.push(1);
  // A class without methods is still a remote object when constructed.
  const p = await new one.Point(1, 2);
  const px: number = await p.x;
  // A function returning a class instance returns a remote object; plain data comes back as data.
  const made = await one.makeStack();
  expectType<Equal<ReturnType<typeof made.push>, Promise<number>>>();
  const d = await one.data();
  expectType<Equal<typeof d, { n: number; list: number[]; map: Map<string, number> }>>();

  // Data: awaitable, members reachable, primitives assignable (setattr/setitem).
  const names: string[] = await one.names;
  one.names[1] = '*NONE*';
  // @ts-expect-error names holds strings
  one.names[1] = 5;
  const length: number = await one.names.length;
  const got = await one.table.get(1);
  expectType<Equal<typeof got, string | undefined>>();
  one.count = 5;
  const count: number = await one.count;
  // Builtins of the VM.
  const max: number = await one.Math.max(1, 2);
  const json: string = await one.JSON.stringify({ a: 1 });

  // fork / join / joinAny.
  const h = fork(typed[0]!, foo, 1);
  expectType<Equal<typeof h, ForkHandle<number>>>();
  // @ts-expect-error foo takes a number
  fork(typed[0]!, foo, 'x');
  const hs = fork(typed, foo, [0, 1, 2, 3]);
  expectType<Equal<typeof hs, ForkHandle<number>[]>>();
  const all: number[] = await join(hs);
  const r0: number = await join(h);
  const [done, value] = await joinAny(hs);
  expectType<Equal<typeof value, number>>();
  const vmOfDone: VM = done.vm;
  const each = forkEach(vms, later, [['a'], ['bb'], ['c'], ['dd']]);
  expectType<Equal<typeof each, ForkHandle<number>[]>>();
  // @ts-expect-error each entry is an argument list of later(s: string)
  forkEach(vms, later, [[1], [2], [3], [4]]);
  const byName = fork(vms[0]!, 'foo', 1);
  expectType<Equal<typeof byName, ForkHandle<unknown>>>();

  // forkWork / forkGen: the work items are checked against the function's parameter.
  const squares = await forkWork(vms, foo, [1, 2, 3], { ordered: true, onProgress: ({ done: n, total }) => void [n, total] });
  expectType<Equal<typeof squares, number[]>>();
  for await (const r of forkGen(vms, later, ['a', 'b'])) {
    expectType<Equal<typeof r, number>>();
  }
  // @ts-expect-error foo takes a number, the items are strings
  void forkWork(vms, foo, ['a', 'b']);
  // @ts-expect-error later takes a string
  void forkGen(vms, later, [1, 2]);
  // With chunksize the function takes an array of items.
  const sums = await forkWork(vms, sumAll, [1, 2, 3], { chunksize: 2 });
  expectType<Equal<typeof sums, number[]>>();
  for await (const s of forkGen(vms, sumAll, new Set([1, 2]), { chunksize: 1 })) expectType<Equal<typeof s, number>>();
  // @ts-expect-error with chunksize, foo (which takes one number) would get arrays
  void forkWork(vms, foo, [1, 2, 3], { chunksize: 2 });
  // @ts-expect-error sumAll's chunks hold numbers, not strings
  void forkWork(vms, sumAll, ['a'], { chunksize: 2 });
  // @ts-expect-error without chunksize, sumAll would get one number
  void forkWork(vms, sumAll, [1, 2, 3]);
  // Each item an array, one per call: fine without chunksize.
  const perItem = await forkWork(vms, sumAll, [[1, 2], [3]]);
  expectType<Equal<typeof perItem, number[]>>();
  // By name: unchecked, untyped results.
  const named = await forkWork(vms, 'foo', ['anything'], { chunksize: 2 });
  expectType<Equal<typeof named, unknown[]>>();

  // Typing a handle by hand with Remote<T>.
  const manual = vms[0] as unknown as Remote<{ foo: typeof foo; Stack: typeof Stack }>;
  const m: number = await manual.foo(1);
  const ms: RemoteObject<Stack> = await new manual.Stack();
  // @ts-expect-error Remote<T> keeps parameter types
  void manual.foo('1');
  void [items, px, names, length, count, max, json, all, r0, vmOfDone, m, ms];
}

// withOptions keeps the handle's type (a VM, a list of VMs, a remote object).
async function optionsKeepTypes() {
  const vms = await inject(await connectWorkers(1), { foo });
  const vm = vms[0]!;
  const wrapped = withOptions(vm, { timeoutMs: 100 });
  expectType<Equal<typeof wrapped, typeof vm>>();
  const r: number = await wrapped.foo(1);
  void r;
  const list = withOptions(vms, { signal: AbortSignal.timeout(1000) });
  expectType<Equal<typeof list, typeof vms>>();
  // @ts-expect-error timeoutMs is a number
  withOptions(vm, { timeoutMs: '100' });
}
void optionsKeepTypes;
