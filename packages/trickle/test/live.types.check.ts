// Compile-time type tests for live VM lists (connect({ watch: true })): checked by
// `pnpm typecheck`, never run.
import { connect, forkWork, inject, type LiveVMList, type LiveVMs, type VM, type VMList } from '../src';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

function double(x: number) {
  return x * 2;
}

export async function liveLists() {
  // watch: true gives a live list; without it, a plain disposable list.
  const live = await connect({ watch: true, peers: 'localhost:7000' });
  expectType<Equal<typeof live, LiveVMList<VM>>>();
  const plain = await connect({ peers: 'localhost:7000' });
  expectType<Equal<typeof plain, VMList<VM>>>();
  // A live list is an array of handles, LiveVMs, and disposable.
  const first: VM | undefined = live[0];
  const source: LiveVMs = live;
  const disposable: AsyncDisposable = live;
  await live.stopWatching();
  // inject keeps it live and typed.
  const injected = await inject(live, { double });
  const stillLive: LiveVMs = injected;
  const watching: boolean = injected.watching;
  await injected.stopWatching();
  const doubled: Promise<number> = injected[0]!.double(2);
  const results: number[] = await forkWork(injected, double, [1, 2, 3]);
  // @ts-expect-error a plain list is not LiveVMs
  const notLive: LiveVMs = plain;
  void [first, source, disposable, stillLive, watching, doubled, results, notLive];
}
