import { ArgumentListError, connectWorkers, fork, forkAll, forkEach, inject, join, joinAny, vmInfo, ForkHandle, RemoteError, type VM } from '../src';

function foo(x: number) {
  return x + 10;
}
function bar(x: number) {
  return x + 20;
}
function add(a: number, b: number) {
  return a + b;
}
function len(xs: unknown[]) {
  return xs.length;
}
function sleepThen(ms: number, value: unknown) {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
}
function whoami() {
  return (globalThis as any).me;
}

let vms: VM[] & AsyncDisposable;
beforeAll(async () => {
  vms = await connectWorkers(4);
  await inject(vms, foo, bar, add, len, sleepThen, whoami);
  await Promise.all(vms.map((vm, i) => inject(vm, { me: i })));
});
afterAll(() => vms[Symbol.asyncDispose]());

describe('fork and join (paper Example 6)', () => {
  test('fork(vm, f, ...args) → one handle; join(h) → its value', async () => {
    const h0 = fork(vms[0]!, foo, 1);
    const h1 = fork(vms[1]!, bar, 2);
    expect(h0).toBeInstanceOf(ForkHandle);
    expect(h0.vm).toBe(vms[0]);
    expect([await join(h0), await join(h1)]).toEqual([11, 22]);
  });

  test('fork(vms, f, ...args) → the same call on every VM', async () => {
    const hs = fork(vms, add, 1, 2);
    expect(hs.map((h) => h.vm)).toEqual(vms);
    expect(await join(hs)).toEqual([3, 3, 3, 3]);
    expect(await join(fork(vms, whoami))).toEqual([0, 1, 2, 3]);
  });

  test('fork(vms, [f, g], ...args) → vms[i] runs fs[i]', async () => {
    const hs = fork(vms.slice(0, 2), [foo, bar], 5);
    expect(await join(hs)).toEqual([15, 25]);
  });

  test('fork(vms, [f, g], argList) → function list and argument list', async () => {
    const hs = fork(vms.slice(0, 2), [foo, bar], [1, 2]);
    expect(await join(hs)).toEqual([11, 22]);
  });

  test('fork(vms, f, argList) → one argument per VM (the paper\'s rule)', async () => {
    const hs = fork(vms, foo, [0, 1, 2, 3]);
    expect(await join(hs)).toEqual([10, 11, 12, 13]);
    // The rule: exactly one array argument whose length is the number of VMs.
    expect(await join(fork(vms, len, [[1], [1, 2], [], [1, 2, 3]]))).toEqual([1, 2, 0, 3]);
  });

  test('fork(vms, f, array) with an array of another length is refused: it would change meaning with the VM count', async () => {
    // Guide Example 6's `fork(vms, foo, [0, 1, 2, 3])` on 2 VMs used to run foo([0, 1, 2, 3]) twice.
    const two = vms.slice(0, 2);
    let thrown: unknown;
    try {
      fork(two, foo, [0, 1, 2, 3]);
    } catch (error) {
      thrown = error;
    }
    expect(ArgumentListError.isInstance(thrown)).toBe(true);
    expect(thrown).toMatchObject({ code: 'TRICKLE_ARGUMENT_LIST', length: 4, vms: 2 });
    expect((thrown as Error).message).toMatch(/length 4 for 2 VMs/);
    expect((thrown as Error).message).toMatch(/forkEach\(vms, f, argLists\)/);
    expect((thrown as Error).message).toMatch(/forkAll\(vms, f, array\)/);
    // Function lists follow the same rule; nothing was sent.
    expect(() => fork(two, [foo, bar], [1, 2, 3])).toThrow(ArgumentListError);
    expect(() => fork(vms, len, [])).toThrow(/length 0 for 4 VMs/);
    // The explicit forms say it either way, on any number of VMs.
    expect(await join(forkAll(two, len, [1, 2, 3]))).toEqual([3, 3]);
    expect(await join(forkEach(two, foo, [[0], [1]]))).toEqual([10, 11]);
    // Per VM, whatever the count: build the list from the VMs.
    expect(await join(fork(two, foo, two.map((_, i) => i)))).toEqual([10, 11]);
    expect(await join(fork(vms, foo, vms.map((_, i) => i)))).toEqual([10, 11, 12, 13]);
  });

  test('the unambiguous forms: forkAll never splits, forkEach takes argument lists', async () => {
    expect(await join(forkAll(vms, len, [1, 2, 3, 4]))).toEqual([4, 4, 4, 4]);
    expect(await join(forkEach(vms, add, [[1, 1], [2, 2], [3, 3], [4, 4]]))).toEqual([2, 4, 6, 8]);
    expect(await join(forkEach(vms.slice(0, 2), [foo, bar], [[1], [1]]))).toEqual([11, 21]);
    expect(() => forkEach(vms, add, [[1, 2]])).toThrow(/one argument list per VM \(4\), got 1/);
    expect(() => fork(vms, [foo, bar], 1)).toThrow(/2 functions for 4 VMs/);
  });

  test('a function may be given by name, by path, or as a remote function', async () => {
    expect(await join(fork(vms[0]!, 'foo', 1))).toBe(11);
    expect(await join(fork(vms[0]!, 'Math.max', 1, 7, 3))).toBe(7);
    expect(await join(fork(vms[1]!, vms[1]!.bar, 1))).toBe(21);
    await inject(vms[2]!, { Bag: class Bag { items: string[] = []; put(x: string) { this.items.push(x); } } });
    const bag = await new vms[2]!.Bag();
    await join(fork(vms[2]!, bag.put, 'x')); // a method of a remote object
    expect(await bag.items).toEqual(['x']);
    expect(() => fork(vms[0]!, vms[1]!.bar, 1)).not.toThrow(); // reported through the handle
    await expect(join(fork(vms[0]!, vms[1]!.bar, 1))).rejects.toThrow(/belongs to VM/);
  });

  test('a failing fork rejects at join with a RemoteError; the others are unaffected', async () => {
    const hs = fork(vms.slice(0, 2), ['foo', 'nope'], 1);
    await expect(join(hs[1]!)).rejects.toThrow(RemoteError);
    expect(await join(hs[0]!)).toBe(11);
    await expect(join(hs)).rejects.toThrow(/'nope' is not defined/);
  });

  test('joinAny returns [handle, value] in completion order and removes the handle, until empty', async () => {
    const delays = [80, 10, 40, 20];
    const hs = forkEach(vms, sleepThen, delays.map((ms, i) => [ms, i]));
    const order: number[] = [];
    const seenVMs = new Set<VM>();
    while (hs.length > 0) {
      const before = hs.length;
      const [h, value] = await joinAny(hs);
      expect(hs.length).toBe(before - 1);
      expect(hs).not.toContain(h);
      expect(h.vm).toBe(vms[value as number]);
      seenVMs.add(h.vm);
      order.push(value as number);
    }
    expect(order).toEqual([1, 3, 2, 0]);
    expect(seenVMs.size).toBe(4);
    await expect(joinAny(hs)).rejects.toThrow(/no handles/);
  });

  test('joinAny with a failed call removes it and throws its error', async () => {
    const hs = [fork(vms[0]!, 'nope'), fork(vms[1]!, sleepThen, 50, 'late')];
    await expect(joinAny(hs)).rejects.toThrow(/'nope' is not defined on|'nope' is not defined in the session namespace/);
    expect(hs).toHaveLength(1);
    const [h, value] = await joinAny(hs);
    expect(vmInfo(h.vm)).toEqual(vmInfo(vms[1]!));
    expect(value).toBe('late');
  });

  test('100,000 forks on one VM are pipelined', async () => {
    const vm = vms[3]!;
    const start = performance.now();
    const hs = [];
    for (let i = 0; i < 100_000; i++) hs.push(fork(vm, foo, i));
    const results = await join(hs);
    const elapsed = performance.now() - start;
    expect(results).toHaveLength(100_000);
    expect(results[99_999]).toBe(100_009);
    expect(results.every((r, i) => r === i + 10)).toBe(true);
    // Informational: calls per second on this machine.
    console.log(`100,000 pipelined forks on one VM: ${Math.round(elapsed)} ms (${Math.round(100_000 / (elapsed / 1000))} calls/s)`);
  }, 60_000);
});
