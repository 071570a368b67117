// Compile-time type tests for forkWork with `reduce`: checked by `pnpm typecheck`, never run.
import { forkGen, forkWork, type VM } from '../src';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

function wordcount(files: string[]): Map<string, number> {
  return new Map(files.map((f) => [f, 1]));
}
async function asyncCount(files: string[]): Promise<Map<string, number>> {
  return wordcount(files);
}
function mergeInto(acc: Map<string, number>, d: Map<string, number>): Map<string, number> {
  for (const [w, c] of d) acc.set(w, (acc.get(w) ?? 0) + c);
  return acc;
}
function square(x: number): number {
  return x * x;
}
function pairs(xs: number[]): Array<{ x: number; s: string }> {
  return xs.map((x) => ({ x, s: String(x) }));
}

export async function reduceTypes(vms: VM[]) {
  // The result is the accumulator (the function's result type), not a list of results.
  const total = await forkWork(vms, wordcount, ['a'], { chunksize: 100, reduce: mergeInto });
  expectType<Equal<typeof total, Map<string, number> | undefined>>();
  // With `initial`, there is always a value.
  const sure = await forkWork(vms, wordcount, ['a'], { chunksize: 100, reduce: mergeInto, initial: new Map() });
  expectType<Equal<typeof sure, Map<string, number>>>();
  // An async function folds what it resolves to.
  const fromAsync = await forkWork(vms, asyncCount, ['a'], { chunksize: 10, reduce: mergeInto, initial: new Map<string, number>() });
  expectType<Equal<typeof fromAsync, Map<string, number>>>();
  const sum = await forkWork(vms, square, [1, 2, 3], { reduce: (a, b) => a + b, initial: 0 });
  expectType<Equal<typeof sum, number>>();
  const all = await forkWork(vms, pairs, [1, 2, 3], { chunksize: 2, reduce: (a, b) => a.concat(b), initial: [] });
  expectType<Equal<typeof all, Array<{ x: number; s: string }>>>();
  // Without reduce: the list of results, as before.
  const list = await forkWork(vms, wordcount, ['a'], { chunksize: 100 });
  expectType<Equal<typeof list, Map<string, number>[]>>();

  // A reducer of the wrong type is a compile error.
  // @ts-expect-error numbers do not fold Maps
  await forkWork(vms, wordcount, ['a'], { reduce: (a: number, b: number) => a + b });
  // @ts-expect-error a reducer must return the accumulator
  await forkWork(vms, wordcount, ['a'], { reduce: (acc: Map<string, number>, d: Map<string, number>) => void d });
  // @ts-expect-error `initial` has the accumulator's type
  await forkWork(vms, square, [1, 2], { reduce: (a, b) => a + b, initial: 'zero' });
  // @ts-expect-error reduce gives one value: `ordered` means nothing there
  await forkWork(vms, square, [1, 2], { reduce: (a, b) => a + b, ordered: true });
  // An options object in a variable is checked too: a list type is never given to a reducing call.
  const options = { reduce: (a: number, b: number) => a + b };
  const viaVariable = await forkWork(vms, square, [1, 2], options);
  expectType<Equal<typeof viaVariable, number | undefined>>();
  // The work items are checked as without reduce: with chunksize the function takes an array.
  // @ts-expect-error square takes one number, not a chunk of them
  await forkWork(vms, square, [1, 2], { chunksize: 2, reduce: (a, b) => a + b });
  // @ts-expect-error wordcount takes file names
  await forkWork(vms, wordcount, [1, 2], { chunksize: 2, reduce: mergeInto });
  // @ts-expect-error without chunksize, asyncCount would get one string
  await forkWork(vms, asyncCount, ['a'], { reduce: mergeInto });
  // By name: not checked, the value is untyped.
  const byName = await forkWork(vms, 'wordcount', ['a'], { chunksize: 2, reduce: mergeInto });
  expectType<Equal<typeof byName, any>>();
  const wrong = { reduce: (a: string, b: string) => a + b };
  // @ts-expect-error a reducer of strings does not fold numbers, in a variable too
  await forkWork(vms, square, [1, 2], wrong);
  // @ts-expect-error forkGen streams results: no reduce
  forkGen(vms, square, [1, 2], { reduce: (a: number, b: number) => a + b });
}
