import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { connectWorkers, inject, release, sessionStats, type VM } from '../src';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

class Box {
  constructor(public value: number) {}
  get() {
    return this.value;
  }
  async slowGet(ms: number) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.value;
  }
}

async function collectUntil(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
    if (await check()) return true;
  }
  return false;
}

let vms: VM[] & AsyncDisposable;
beforeAll(async () => {
  vms = await connectWorkers(1);
  await inject(vms, Box, { keep: [] as unknown[], same: { obj: new Map() } });
});
afterAll(() => vms[Symbol.asyncDispose]());

describe('releasing remote objects', () => {
  test('release(proxy) reaches the VM: its object count drops', async () => {
    const vm = vms[0]!;
    const base = (await sessionStats(vm)).objects;
    const a = await new vm.Box(1);
    const b = await new vm.Box(2);
    expect((await sessionStats(vm)).objects).toBe(base + 2);
    await release(a);
    expect((await sessionStats(vm)).objects).toBe(base + 1);
    expect(await b.get()).toBe(2);
    await release(b);
    expect((await sessionStats(vm)).objects).toBe(base);
    await release(b); // twice is harmless
    await expect(release({})).rejects.toThrow(/takes a remote object/);
  });

  test('a garbage-collected proxy is released on the VM (FinalizationRegistry)', async () => {
    const vm = vms[0]!;
    const base = (await sessionStats(vm)).objects;
    await (async () => {
      const boxes = await Promise.all([1, 2, 3].map((i) => new vm.Box(i)));
      expect(await boxes[2].get()).toBe(3);
    })();
    expect((await sessionStats(vm)).objects).toBe(base + 3);
    const dropped = await collectUntil(async () => (await sessionStats(vm)).objects === base);
    expect(dropped).toBe(true);
  });

  test('release is ordered after calls still in flight on the object', async () => {
    const vm = vms[0]!;
    const base = (await sessionStats(vm)).objects;
    const box = await new vm.Box(7);
    const slow = box.slowGet(50); // in flight on the VM
    const quick = box.get(); // sent, not yet answered
    const released = release(box);
    expect(await quick).toBe(7);
    expect(await slow).toBe(7);
    await released;
    expect((await sessionStats(vm)).objects).toBe(base);
  });

  test('the same object sent twice is one remote object, kept until every copy is released', async () => {
    const vm = vms[0]!;
    const base = (await sessionStats(vm)).objects;
    await vm.eval('globalThis.shared = new Box(5); undefined');
    const first = await vm.shared;
    const second = await vm.shared;
    expect(second).toBe(first); // one proxy per remote object while it is alive
    expect(await sessionStats(vm)).toEqual({ objects: base + 1, references: expect.any(Number), runs: 0 });
    const refs = (await sessionStats(vm)).references;
    await release(first);
    expect((await sessionStats(vm)).objects).toBe(base);
    expect((await sessionStats(vm)).references).toBe(refs - 2);
  });

  test('a path under a remote object keeps it alive', async () => {
    const vm = vms[0]!;
    const base = (await sessionStats(vm)).objects;
    // (Wrapped: a path proxy is awaitable, so returning it bare from an async function would read it.)
    const { get } = await (async () => ({ get: (await new vm.Box(9)).get }))();
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await sessionStats(vm)).objects).toBe(base + 1);
    expect(await get()).toBe(9);
  });
});
