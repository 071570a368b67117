import { connectWorkers, DynamicBalancer, forkGen, forkWork, inject, vmInfo, type Balancer, type VM, type WorkerSlot } from '../src';

function square(x: number) {
  return x * x;
}
function sumChunk(xs: number[]) {
  return xs.reduce((a, b) => a + b, 0);
}
/** Sleeps `ms` (a VM's "speed"), counts its calls, and says who did the work. */
async function work(item: number) {
  const g = globalThis as any;
  g.calls = (g.calls ?? 0) + 1;
  await new Promise((resolve) => setTimeout(resolve, g.delay ?? 0));
  return { item, vm: g.me as number };
}
async function slowEcho(xs: number[]) {
  await new Promise((resolve) => setTimeout(resolve, 5 * (xs[0]! % 4)));
  return xs;
}

/** The session's worker exits at its third call: a lost VM. */
function dieAtThird(x: number) {
  const g = globalThis as any;
  g.calls = (g.calls ?? 0) + 1;
  if (g.calls >= 3) process.exit(7);
  return x;
}

let vms: VM[] & AsyncDisposable;
beforeAll(async () => {
  vms = await connectWorkers(3);
  await inject(vms, square, sumChunk, work, slowEcho);
  await Promise.all(vms.map((vm, i) => inject(vm, { me: i, delay: 2, calls: 0 })));
});
afterAll(() => vms[Symbol.asyncDispose]());

describe('forkWork / forkGen (dynamic scheduling)', () => {
  test('one item per call by default; every item is done once', async () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const results = await forkWork(vms, square, items);
    expect(results).toHaveLength(50);
    expect([...results].sort((a, b) => a - b)).toEqual(items.map((x) => x * x).sort((a, b) => a - b));
  });

  test('with chunksize the function receives arrays of items', async () => {
    const items = Array.from({ length: 95 }, (_, i) => i + 1);
    const results = await forkWork(vms, sumChunk, items, { chunksize: 10, ordered: true });
    expect(results).toHaveLength(10);
    expect(results[9]).toBe(91 + 92 + 93 + 94 + 95);
    expect(results.reduce((a, b) => a + b, 0)).toBe((95 * 96) / 2);
    // By name works too.
    expect(await forkWork(vms, 'sumChunk', [1, 2, 3], { chunksize: 2, ordered: true })).toEqual([3, 3]);
  });

  test('ordered gives work order; otherwise completion order', async () => {
    // Chunks whose first item is 0 mod 4 are fastest, 3 mod 4 slowest.
    const items = Array.from({ length: 24 }, (_, i) => i);
    const ordered = await forkWork(vms, slowEcho, items, { chunksize: 1, ordered: true });
    expect(ordered.flat()).toEqual(items);
    const completion = await forkWork(vms, slowEcho, items, { chunksize: 1 });
    expect(completion.flat().sort((a, b) => a - b)).toEqual(items);
    expect(completion.flat()).not.toEqual(items);
  });

  test('a slow VM gets fewer chunks than fast ones', async () => {
    await using three = await connectWorkers(3, (i) => ({ name: `speed-${i}`, replyDelayMs: i === 0 ? 40 : 0 }));
    await inject(three, work);
    await Promise.all(three.map((vm, i) => inject(vm, { me: i, delay: 2 })));
    const results = await forkWork(three, work, Array.from({ length: 90 }, (_, i) => i));
    expect(results).toHaveLength(90);
    const per = [0, 1, 2].map((i) => results.filter((r) => r.vm === i).length);
    const calls = await Promise.all(three.map((vm) => vm.calls));
    expect(calls).toEqual(per);
    expect(per[0]).toBeLessThan(per[1]!);
    expect(per[0]).toBeLessThan(per[2]!);
    expect(per[0]! * 3).toBeLessThan(per[1]! + per[2]!);
  });

  test('onProgress reports items done and total after each chunk', async () => {
    const seen: Array<{ done: number; total: number | undefined }> = [];
    await forkWork(vms, sumChunk, Array.from({ length: 25 }, (_, i) => i), {
      chunksize: 10,
      onProgress: (p) => seen.push({ ...p }),
    });
    expect(seen).toHaveLength(3);
    expect(seen.map((p) => p.total)).toEqual([25, 25, 25]);
    expect(seen.at(-1)!.done).toBe(25);
    expect(seen.map((p) => p.done).sort((a, b) => a - b)).toEqual(seen.map((p) => p.done));
  });

  test('abort in the middle rejects with the signal reason and stops handing out chunks', async () => {
    const controller = new AbortController();
    const reason = new Error('enough');
    let progressed = 0;
    const items = Array.from({ length: 300 }, (_, i) => i);
    const before = (await Promise.all(vms.map((vm) => vm.calls))).reduce((a: number, b: number) => a + b, 0);
    const run = forkWork(vms, work, items, {
      signal: controller.signal,
      onProgress: ({ done }) => {
        progressed = done;
        if (done === 10) controller.abort(reason);
      },
    });
    await expect(run).rejects.toBe(reason);
    await new Promise((resolve) => setTimeout(resolve, 50)); // let in-flight chunks land
    const after = (await Promise.all(vms.map((vm) => vm.calls))).reduce((a: number, b: number) => a + b, 0);
    expect(progressed).toBe(10);
    // At most the chunks in flight when it was aborted (3 VMs × 2) were still sent.
    expect(after - before).toBeLessThanOrEqual(10 + 3 * 2);
    // An already aborted signal rejects at once.
    await expect(forkWork(vms, work, items, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  test('forkGen yields results as they come; breaking out stops the run', async () => {
    const got: number[] = [];
    for await (const r of forkGen(vms, square, [1, 2, 3, 4, 5, 6], { ordered: true })) got.push(r);
    expect(got).toEqual([1, 4, 9, 16, 25, 36]);
    let taken = 0;
    for await (const r of forkGen(vms, work, Array.from({ length: 1000 }, (_, i) => i))) {
      expect(typeof r.item).toBe('number');
      if (++taken === 5) break;
    }
    expect(taken).toBe(5);
  });

  test('keeps inFlightPerVM chunks in flight per VM, and a balancer can be plugged in', async () => {
    const observed: number[] = [];
    const recording: Balancer = {
      pick(slots: readonly WorkerSlot[]) {
        const slot = new DynamicBalancer(3).pick(slots);
        if (slot) observed.push(slot.inFlight);
        return slot;
      },
    };
    await forkWork(vms, work, Array.from({ length: 30 }, (_, i) => i), { balancer: recording });
    expect(Math.max(...observed)).toBe(2); // in flight before this one: 0, 1, 2 → 3 at most
    // Only one VM: every chunk goes to it.
    const one = await forkWork([vms[1]!], work, [1, 2, 3], { inFlightPerVM: 1 });
    expect(one.map((r) => r.vm)).toEqual([1, 1, 1]);
    void vmInfo;
  });

  test('errors carry the local call site: a chunk that throws, a bad option, no VMs, every VM lost', async () => {
    const here = /fork-work\.test\.ts:\d+/;
    const remote = await forkWork(vms, 'nope', [1, 2, 3]).then(() => undefined, (e: unknown) => e as Error);
    expect(remote!.stack).toMatch(here);
    const option = await forkWork(vms, sumChunk, [1], { chunksize: 0 }).then(() => undefined, (e: unknown) => e as Error);
    expect(option).toBeInstanceOf(RangeError);
    expect(option!.stack!.split('\n')[1]).toMatch(here); // the first frame is the caller's
    const none = await forkWork([], square, [1]).then(() => undefined, (e: unknown) => e as Error);
    expect(none!.stack!.split('\n')[1]).toMatch(here);
    // forkGen: where it was called, also when the error comes out of a later step of the loop.
    const gen = forkGen(vms, square, [1, 2], { buffer: 0 });
    const loop = (async () => {
      for await (const _ of gen) void _;
    })();
    const bad = await loop.then(() => undefined, (e: unknown) => e as Error);
    expect(bad).toBeInstanceOf(RangeError);
    expect(bad!.stack!.split('\n')[1]).toMatch(here);
    // Every VM lost (each session's worker exits at its third call): a WorkLostError that points here.
    await using doomed = await inject(await connectWorkers(2), { dieAtThird });
    const lost = await forkWork(doomed, dieAtThird, Array.from({ length: 20 }, (_, i) => i)).then(() => undefined, (e: unknown) => e as Error);
    expect(lost!.name).toBe('WorkLostError');
    expect(lost!.stack!.split('\n')[1]).toMatch(here);
    expect(lost!.stack).toContain('--- inside Trickle ---');
  });

  test('a failing chunk rejects the run with its error', async () => {
    await expect(forkWork(vms, 'nope', [1, 2, 3])).rejects.toThrow(/'nope' is not defined/);
    await expect(forkWork([], square, [1])).rejects.toThrow(/no VMs/);
    await expect(forkWork(vms, sumChunk, [1], { chunksize: 0 })).rejects.toThrow(/chunksize must be a positive integer/);
  });
});

describe('forkWork with reduce on sessions that cannot address each other (worker threads)', () => {
  function add(a: number, b: number) {
    return a + b;
  }
  test('the accumulators are combined on the initiator: the same single value', async () => {
    const items = Array.from({ length: 200 }, (_, i) => i);
    expect(await forkWork(vms, sumChunk, items, { chunksize: 9, reduce: add })).toBe((199 * 200) / 2);
    expect(await forkWork(vms, sumChunk, [], { reduce: add, initial: 7 })).toBe(7);
  });

  test('forkGen refuses reduce; a reducer that is not a function is refused', async () => {
    await expect(forkGen(vms, sumChunk, [1], { reduce: add } as never)[Symbol.asyncIterator]().next()).rejects.toThrow(/use forkWork/);
    await expect(forkWork(vms, sumChunk, [1], { reduce: 'add' } as never)).rejects.toThrow(/reduce must be a function/);
  });
});
