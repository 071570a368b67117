import { inspect } from 'node:util';

import { clientOf } from '../src/internal';
import { connectWorkers, inject, release, RemoteError, SerializationError, CancelledError, sessionStats, vmInfo } from '../src';

class Stack {
  items: string[] = [];
  push(x: string) {
    this.items.push(x);
    return this.items.length;
  }
  pop() {
    return this.items.pop();
  }
  toString() {
    return `[${this.items.join(', ')}]`;
  }
}

function makeCounter() {
  let n = 0;
  return () => ++n;
}

const requests = (vm: unknown) => clientOf(vm).requestsSent;

describe('remote access through proxies', () => {
  test('getattr reads a remote value; a remote function call returns its value', async () => {
    await using vms = await connectWorkers(1);
    const vm = (await inject(vms[0]!, { names: ['Alex', 'Sami'], foo: (x: number) => x + 10 }));
    expect(await vm.names).toEqual(['Alex', 'Sami']);
    expect(await vm.foo(10)).toBe(20);
    expect(await vm.names.length).toBe(2);
    expect(await vm.names[1]).toBe('Sami');
  });

  test('setattr is ordered after earlier requests and seen by later ones (paper Example 3)', async () => {
    await using vms = await connectWorkers(4);
    const names = ['Alex', 'Sami', 'Greg', 'Peter'];
    const typed = await inject(vms, { names });
    const seen: string[][] = [];
    for (const [i, vm] of typed.entries()) {
      vm.names[i] = '*NONE*';
      seen.push(await vm.names);
    }
    expect(seen).toEqual([
      ['*NONE*', 'Sami', 'Greg', 'Peter'],
      ['Alex', '*NONE*', 'Greg', 'Peter'],
      ['Alex', 'Sami', '*NONE*', 'Peter'],
      ['Alex', 'Sami', 'Greg', '*NONE*'],
    ]);
  });

  test('many sets in a row are applied in order, before the next await', async () => {
    await using vms = await connectWorkers(1);
    const vm = vms[0]!;
    await inject(vm, { log: [] as number[], counter: { n: 0 } });
    for (let i = 0; i < 500; i++) vm.log[i] = i;
    vm.counter.n = 41;
    vm.counter.n = 42;
    expect(await vm.log.length).toBe(500);
    expect((await vm.log)[499]).toBe(499);
    expect(await vm.counter.n).toBe(42);
  });

  test('a failed set surfaces at the next await on that VM, not on other VMs', async () => {
    await using vms = await connectWorkers(2);
    const [a, b] = [vms[0]!, vms[1]!];
    await inject(vms, { ok: () => 'ok' });
    a.Math.PI = 3; // read-only: fails on the VM, nobody waits for it
    a.missing.y = 3; // a second failure: only the first is reported
    expect(await b.ok()).toBe('ok');
    const error = await a.ok().catch((e: unknown) => e);
    expect(RemoteError.isInstance(error)).toBe(true);
    expect(error.name).toBe('TypeError');
    expect(error.remoteName).toBe('Math.PI = …');
    expect(error.message).toMatch(/read-only/);
    // Reported once: the VM works normally afterwards.
    expect(await a.ok()).toBe('ok');
    expect(await a.Math.PI).toBe(Math.PI);
  });

  test('construct returns a remote object; its methods and fields are remote (paper Example 5)', async () => {
    await using vms = await connectWorkers(1);
    const vm = await inject(vms[0]!, { Stack });
    const s = await new vm.Stack();
    expect(await s.push('A')).toBe(1);
    await s.push('B');
    await s.push('C');
    expect(await s.pop()).toBe('C');
    expect(await s.toString()).toBe('[A, B]');
    expect(await s.items).toEqual(['A', 'B']);
    // Awaiting the remote object itself is not a request: it is not a thenable.
    const before = requests(vm);
    expect(await s).toBe(s);
    expect(requests(vm)).toBe(before);
    expect(String(s)).toMatch(/^\[Remote Stack#\d+ on VM 'worker-\d+'\]$/);
  });

  test('console.log of a handle, a remote object or a path says what it is', async () => {
    await using vms = await connectWorkers(1);
    const vm = await inject(vms[0]!, Stack);
    const s = await new vm.Stack();
    const name = vmInfo(vm).name;
    expect(inspect(s)).toBe(`[Remote Stack#1 on VM '${name}']`);
    expect(inspect(vm)).toBe(`[Remote VM on VM '${name}']`);
    expect(inspect(vm.Stack)).toBe(`[Remote Stack on VM '${name}']`);
    expect(inspect({ s })).toBe(`{ s: [Remote Stack#1 on VM '${name}'] }`);
  });

  test("builtins of the VM's global scope", async () => {
    await using vms = await connectWorkers(1);
    const vm = vms[0]!;
    expect(await vm.Math.max(1, 2)).toBe(2);
    expect(await vm.JSON.stringify({ a: 1 })).toBe('{"a":1}');
    expect(await vm.parseInt('42')).toBe(42);
    expect(await vm.Array.from({ length: 3 }, (_: unknown, i: number) => i * i)).toEqual([0, 1, 4]);
    expect(await vm.process.pid).toBe(process.pid); // a worker thread of this process
    // A module is an object with functions: by reference.
    const threads = await vm.require('node:worker_threads');
    expect(await threads.isMainThread).toBe(false);
    expect(await threads.threadId).toBeGreaterThan(0);
  });

  test('require and dynamic import() are available to injected code', async () => {
    await using vms = await connectWorkers(1);
    const vm = await inject(vms[0]!, {
      joinPath: (a: string, b: string) => require('node:path').join(a, b),
      async importBase(p: string) {
        const path = await import('node:path');
        return path.basename(p);
      },
    });
    expect(await vm.joinPath('a', 'b')).toBe('a/b');
    expect(await vm.importBase('/x/y.txt')).toBe('y.txt');
  });

  test('a chained path is one round trip', async () => {
    await using vms = await connectWorkers(1);
    const vm = await inject(vms[0]!, { table: new Map([[1, 'a'], [2, 'b']]), deep: { a: { b: { c: (x: number) => x * 2 } } } });
    const before = requests(vm);
    expect(await vm.table.get(1)).toBe('a');
    expect(requests(vm) - before).toBe(1);
    expect(await vm.deep.a.b.c(21)).toBe(42);
    expect(requests(vm) - before).toBe(2);
    // Building a path sends nothing, and the same path is the same proxy.
    const p = vm.deep.a.b;
    expect(vm.deep.a.b).toBe(p);
    expect(requests(vm) - before).toBe(2);
  });

  test('plain data comes back by value, class instances and functions by reference', async () => {
    await using vms = await connectWorkers(1);
    const vm = vms[0]!;
    await inject(vm, {
      data() {
        return {
          n: 1, s: 'x', big: 10n, nil: null, undef: undefined, arr: [1, [2]], map: new Map([['k', 1]]), set: new Set([1, 2]),
          date: new Date(0), bytes: new Uint8Array([1, 2]), error: new RangeError('r'),
        };
      },
      mixed() {
        class Point { constructor(public x: number) {} norm() { return Math.abs(this.x); } }
        return { point: new Point(-3), fn: (y: number) => y + 1, list: [new Point(4)], plain: { ok: true } };
      },
      counter: makeCounter,
    });
    const data = await vm.data();
    expect(data).toEqual({
      n: 1, s: 'x', big: 10n, nil: null, undef: undefined, arr: [1, [2]], map: new Map([['k', 1]]), set: new Set([1, 2]),
      date: new Date(0), bytes: new Uint8Array([1, 2]), error: expect.any(RangeError),
    });
    expect(data.map).toBeInstanceOf(Map);
    // An object with a function among its values is an object, not data: it comes back by reference.
    const mixed = await vm.mixed();
    expect(typeof mixed).toBe('function'); // a proxy
    expect(await mixed.plain).toEqual({ ok: true });
    expect(await mixed.point.x).toBe(-3);
    expect(await mixed.point.norm()).toBe(3);
    expect(await mixed.fn(1)).toBe(2); // a remote function, called remotely
    expect(await mixed.list[0].norm()).toBe(4);
    // A closure created on the VM keeps its state there.
    const next = await vm.counter();
    expect([await next(), await next(), await next()]).toEqual([1, 2, 3]);
  });

  test('a big Map comes back by value quickly (no slow walk)', async () => {
    await using vms = await connectWorkers(1);
    const vm = await inject(vms[0]!, {
      wordMap(n: number) {
        const m = new Map<string, number>();
        for (let i = 0; i < n; i++) m.set(`word${i}`, i);
        return m;
      },
    });
    await vm.wordMap(10); // warm up
    const start = performance.now();
    const m = await vm.wordMap(10_000);
    const elapsed = performance.now() - start;
    expect(m.size).toBe(10_000);
    expect(m.get('word9999')).toBe(9999);
    expect(elapsed).toBeLessThan(500);
  });

  test('a function passed as an argument runs on the VM', async () => {
    await using vms = await connectWorkers(1);
    const vm = await inject(vms[0]!, {
      apply: (f: (x: number) => number, x: number) => f(x),
      where: () => require('node:worker_threads').isMainThread,
    });
    const isMainHere = require('node:worker_threads').isMainThread;
    expect(isMainHere).toBe(true);
    expect(await vm.apply((x: number) => x * 3, 5)).toBe(15);
    // The function runs in the worker: it sees the VM's thread, not ours.
    expect(await vm.apply(function onVM() { return require('node:worker_threads').isMainThread ? 1 : 0; } as any, 0)).toBe(0);
    // Results are promises like any other.
    const untyped = vms[0]!;
    expect(await untyped.Array.from([1, 2, 3]).then((a: number[]) => a.length)).toBe(3);
    expect(await vm.JSON.parse('[3,1,2]').then((a: number[]) => a.sort())).toEqual([1, 2, 3]);
  });

  test('remote objects can be passed back as arguments, only to their own VM', async () => {
    await using vms = await connectWorkers(2);
    const [a, b] = (await inject(vms, { Stack, size: (s: Stack) => s.items.length })) as any[];
    const s = await new a.Stack();
    await s.push('x');
    expect(await a.size(s)).toBe(1);
    // A path proxy as an argument names the object on the VM.
    expect(await a.size(s)).toBe(1);
    const error = await b.size(s).catch((e: unknown) => e);
    expect(SerializationError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/can only be used on its own VM/);
  });

  test('a remote object used after release() fails locally with CancelledError', async () => {
    await using vms = await connectWorkers(1);
    const vm = await inject(vms[0]!, { Stack });
    const s = await new vm.Stack();
    await release(s);
    const before = requests(vm);
    await expect(s.push('x')).rejects.toThrow(CancelledError);
    expect(requests(vm)).toBe(before);
  });

  test('VM handles are not thenables and print their VM', async () => {
    await using vms = await connectWorkers(1);
    const vm = vms[0]!;
    expect(await Promise.resolve(vm)).toBe(vm);
    expect(vmInfo(vm).name).toMatch(/^worker-\d+$/);
    expect(`${vm}`).toBe(`[Remote VM on VM '${vmInfo(vm).name}']`);
    expect(JSON.stringify({ vm })).toBe(`{"vm":"[Remote VM on VM '${vmInfo(vm).name}']"}`);
    expect((await sessionStats(vm)).objects).toBe(0);
  });
});
