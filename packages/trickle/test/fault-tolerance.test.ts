/**
 * forkWork/forkGen fault tolerance and elasticity with sessions in local worker threads: a
 * session's worker that exits (process.exit in injected code) is a lost VM, exactly as a killed
 * VM process is over River (see river-fault-tolerance.test.ts for that).
 */
import {
  connectWorkers,
  createVM,
  disconnect,
  fork,
  forkGen,
  forkWork,
  inject,
  join,
  RemoteError,
  VMLostError,
  WorkerLink,
  WorkLostError,
  type LinkListener,
  type LiveVMs,
  type SessionLink,
  type VM,
} from '../src';
import { ChunkLedger } from '../src/scheduling/chunk-ledger';
import { ChunkQueue } from '../src/scheduling/work-queue';
import { LiveSet } from '../src/scheduling/live-vms';

/** Doubles x after a short busy wait; the VM's process.exit()s at its `dieAt`-th call. */
function step(x: number) {
  const g = globalThis as any;
  g.calls = (g.calls ?? 0) + 1;
  if (g.dieAt !== undefined && g.calls >= g.dieAt) process.exit(7);
  const until = Date.now() + (g.busyMs ?? 3);
  while (Date.now() < until);
  return { x, y: x * 2, vm: g.me as number };
}

/** Sums a chunk (and dies like `step`). */
function sumChunk(xs: number[]) {
  const g = globalThis as any;
  g.calls = (g.calls ?? 0) + 1;
  if (g.dieAt !== undefined && g.calls >= g.dieAt) process.exit(7);
  const until = Date.now() + 3;
  while (Date.now() < until);
  return { first: xs[0]!, sum: xs.reduce((a, b) => a + b, 0) };
}

/** Sums a chunk; item 13 is bad input (a user error, never retried). */
function strict(xs: number[]) {
  const g = globalThis as any;
  if (xs.includes(13)) {
    g.bad = (g.bad ?? 0) + 1;
    throw new RangeError('13 is unlucky');
  }
  return xs.reduce((a, b) => a + b, 0);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function workers(n: number, perVM: (i: number) => Record<string, unknown> = () => ({})) {
  const vms = await connectWorkers(n);
  await inject(vms, step, strict, sumChunk);
  await Promise.all(vms.map((vm, i) => inject(vm, { me: i, calls: 0, ...perVM(i) })));
  return vms;
}

/** A WorkerLink whose VM can be made to announce that it is stopping (graceful removal). */
class DrainableLink implements SessionLink {
  private readonly inner = new WorkerLink();
  private listener: LinkListener | undefined;
  readonly vm = this.inner.vm;
  send(bytes: Uint8Array): void {
    this.inner.send(bytes);
  }
  listen(listener: LinkListener): void {
    this.listener = listener;
    this.inner.listen(listener);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  drain(): void {
    this.listener?.draining?.();
  }
}

describe('forkWork when VMs are lost', () => {
  test('a VM lost mid-run: its chunks go to the others, each counted once, and it gets no more', async () => {
    await using vms = await workers(3, (i) => (i === 0 ? { dieAt: 5 } : {}));
    const items = range(120);
    const progress: number[] = [];
    const results = await forkWork(vms, step, items, { onProgress: ({ done }) => progress.push(done) });
    expect(results.map((r) => r.x).sort((a, b) => a - b)).toEqual(items);
    for (const r of results) expect(r.y).toBe(r.x * 2);
    // Four chunks completed on vms[0]; its fifth call killed it, with a second chunk in flight.
    expect(results.filter((r) => r.vm === 0)).toHaveLength(4);
    expect(progress).toEqual(range(120).map((i) => i + 1));
    // The survivors did the rest, once each.
    const calls = await Promise.all(vms.slice(1).map((vm) => vm.calls));
    expect(calls.reduce((a: number, b: number) => a + b, 0)).toBe(116);
    await expect(Promise.resolve(vms[0]!.calls)).rejects.toThrow(VMLostError);
  });

  test('ordered results stay in work order under re-issue; forkGen too', async () => {
    await using vms = await workers(3, (i) => (i === 1 ? { dieAt: 3 } : {}));
    const items = range(60);
    const results = await forkWork(vms, step, items, { ordered: true });
    expect(results.map((r) => r.x)).toEqual(items);
    await using more = await workers(2, (i) => (i === 0 ? { dieAt: 2 } : {}));
    const got: number[] = [];
    for await (const r of forkGen(more, step, range(30), { ordered: true })) got.push(r.x);
    expect(got).toEqual(range(30));
  });

  test('with chunksize, two of four VMs lost: every item once, onProgress counts items', async () => {
    await using vms = await workers(4, (i) => (i >= 2 ? { dieAt: 2 + i } : {}));
    const items = range(200);
    const progress: number[] = [];
    const results = await forkWork(vms, sumChunk, items, {
      chunksize: 7,
      onProgress: ({ done, total }) => {
        expect(total).toBe(200);
        progress.push(done);
      },
    });
    expect(results).toHaveLength(29);
    expect(results.map((r) => r.first).sort((a, b) => a - b)).toEqual(range(29).map((i) => i * 7));
    expect(results.reduce((a, r) => a + r.sum, 0)).toBe((199 * 200) / 2);
    expect(progress).toHaveLength(29);
    expect(progress.at(-1)).toBe(200);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  });

  test('a user error (RemoteError) is not retried: it fails the run after one attempt', async () => {
    await using vms = await workers(3, () => ({ bad: 0 }));
    const error = await forkWork(vms, strict, range(40), { chunksize: 4 }).catch((e: unknown) => e);
    expect(RemoteError.isInstance(error)).toBe(true);
    expect((error as RemoteError).name).toBe('RangeError');
    await new Promise((r) => setTimeout(r, 50));
    const bad = await Promise.all(vms.map((vm) => vm.bad));
    expect(bad.reduce((a: number, b: number) => a + b, 0)).toBe(1);
  });

  test('every VM lost: rejects with WorkLostError naming the lost chunks and why', async () => {
    await using vms = await workers(2, (i) => ({ dieAt: 3 + i }));
    // By name: step takes one number, and here it gets chunks of 2 (it only has to die on time).
    const error = await forkWork(vms, 'step', range(50), { chunksize: 2 }).catch((e: unknown) => e);
    expect(WorkLostError.isInstance(error)).toBe(true);
    const lost = error as WorkLostError;
    expect(lost.code).toBe('TRICKLE_WORK_LOST');
    expect(lost.chunks.length).toBeGreaterThan(0);
    expect(lost.chunks.every((i) => Number.isInteger(i) && i >= 0 && i < 25)).toBe(true);
    expect(lost.vms).toHaveLength(2);
    expect(lost.total).toBe(50);
    expect(VMLostError.isInstance(lost.cause)).toBe(true);
    expect(lost.message).toMatch(/no VM left to run on \(2 lost\); lost chunks? \d/);
  });

  test('a VM already dead when the run starts is skipped; with no other VM the run rejects at once', async () => {
    await using vms = await workers(2);
    await inject(vms[0]!, { dieAt: 1 });
    await expect(Promise.resolve(vms[0]!.step(0))).rejects.toThrow(VMLostError);
    const results = await forkWork(vms, step, range(20), { ordered: true });
    expect(results.map((r) => r.vm)).toEqual(range(20).map(() => 1));
    const error = await forkWork([vms[0]!], step, range(20)).catch((e: unknown) => e);
    expect(WorkLostError.isInstance(error)).toBe(true);
    expect((error as WorkLostError).chunks).toEqual([]);
    expect((error as WorkLostError).message).toMatch(/no chunk was in flight/);
  });

  test('a call or join on a dead VM rejects with VMLostError promptly, also one made afterwards', async () => {
    await using vms = await workers(1);
    const dying = inject(vms[0]!, { dieAt: 1 }).then(() => vms[0]!.step(1));
    await expect(dying).rejects.toThrow(VMLostError);
    const started = Date.now();
    await expect(Promise.resolve(vms[0]!.step(2))).rejects.toThrow(VMLostError);
    await expect(join(fork(vms[0]!, step, 3))).rejects.toThrow(VMLostError);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('the chunk ledger', () => {
  test('a chunk counts once: a second reply for it is ignored; lost chunks are re-issued first', () => {
    const ledger = new ChunkLedger(new ChunkQueue(range(5), 1));
    const c0 = ledger.take()!;
    const c1 = ledger.take()!;
    expect([c0.index, c1.index]).toEqual([0, 1]);
    expect(ledger.lost(c1)).toBe(true);
    expect(ledger.lost(c0)).toBe(true);
    expect(ledger.lostChunks()).toEqual([0, 1]);
    // Lost chunks come back lowest index first, before new ones.
    const again0 = ledger.take()!;
    expect(again0.index).toBe(0);
    expect(ledger.complete(again0)).toBe(true);
    expect(ledger.complete(c0)).toBe(false); // the straggler of the first attempt
    expect(ledger.take()!.index).toBe(1);
    expect(ledger.lostChunks()).toEqual([1]);
    expect(ledger.complete(c1)).toBe(true);
    expect(ledger.lostChunks()).toEqual([]);
    for (let i = 2; i < 5; i++) expect(ledger.complete(ledger.take()!)).toBe(true);
    expect(ledger.take()).toBeUndefined();
    expect(ledger.finished).toBe(true);
  });

  test('a chunk refused by a stopping VM is handed out again, and is not counted as lost', () => {
    const ledger = new ChunkLedger(new ChunkQueue(range(3), 1));
    const c0 = ledger.take()!;
    const c1 = ledger.take()!;
    expect(ledger.refused(c1)).toBe(true);
    expect(ledger.lostChunks()).toEqual([]);
    expect(ledger.take()!.index).toBe(1);
    expect(ledger.refused(c1)).toBe(true); // refused again elsewhere: back in line again
    expect(ledger.complete(c0)).toBe(true);
    const again = ledger.take()!;
    expect(again.index).toBe(1);
    expect(ledger.complete(again)).toBe(true);
    expect(ledger.complete(ledger.take()!)).toBe(true);
    expect(ledger.take()).toBeUndefined();
    expect(ledger.finished).toBe(true);
  });
});

describe('forkWork on a changing VM set', () => {
  test('a VM that says it is stopping gets no new chunks; what it has completes', async () => {
    const links = [new DrainableLink(), new DrainableLink()];
    const vms = links.map((link) => createVM(link));
    try {
      await inject(vms, step);
      await Promise.all(vms.map((vm, i) => inject(vm, { me: i, calls: 0, busyMs: 5 })));
      const results = await forkWork(vms, step, range(80), {
        onProgress: ({ done }) => {
          if (done === 10) links[0]!.drain();
        },
      });
      expect(results.map((r) => r.x).sort((a, b) => a - b)).toEqual(range(80));
      const calls = (await Promise.all(vms.map((vm) => vm.calls))) as number[];
      // vms[0] completed everything it was sent (nothing re-issued), and got nothing after draining.
      expect(calls[0]! + calls[1]!).toBe(80);
      expect(results.filter((r) => r.vm === 0)).toHaveLength(calls[0]!);
      expect(calls[0]).toBeLessThanOrEqual(12);
    } finally {
      await disconnect(vms);
    }
  });

  test('LiveVMs: a VM that joins during the run takes chunks; one that leaves gets no more', async () => {
    await using vms = await workers(3, () => ({ busyMs: 4 }));
    const listeners = new Set<(change: { added?: VM; removed?: VM }) => void>();
    const members: VM[] = [vms[0]!, vms[1]!];
    const live: LiveVMs = {
      current: () => [...members],
      subscribe: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const emit = (change: { added?: VM; removed?: VM }) => listeners.forEach((l) => l(change));
    let removedAt = -1;
    const results = await forkWork(live, step, range(90), {
      onProgress: ({ done }) => {
        if (done === 10) {
          members.push(vms[2]!);
          emit({ added: vms[2]! });
        }
        if (done === 40) {
          removedAt = done;
          emit({ removed: vms[0]! });
        }
      },
    });
    expect(removedAt).toBe(40);
    expect(results.map((r) => r.x).sort((a, b) => a - b)).toEqual(range(90));
    const per = [0, 1, 2].map((i) => results.filter((r) => r.vm === i).length);
    expect(per[2]).toBeGreaterThan(10);
    expect(per[0]).toBeLessThanOrEqual(40 + 2);
    expect(listeners.size).toBe(0); // unsubscribed at the end
  });

  test('a live list replays what was injected into it to a VM that joins, then appends it', async () => {
    await using pool = await connectWorkers(2);
    const [first, later] = [pool[0]!, pool[1]!];
    const live = new LiveSet([first], { dispose: async () => undefined, stopWatching: async () => undefined });
    const list = live.list;
    await inject(list, step, { me: 5, busyMs: 1 });
    await expect(inject(list, { bad: 1 }, function () {})).rejects.toThrow(); // rejected: not replayed
    const seen: string[] = [];
    const unsubscribe = list.subscribe(({ added, removed }) => seen.push(added ? 'added' : removed ? 'removed' : '?'));
    expect(await live.admit(later, (vm, items) => inject(vm, ...(items as [])))).toBe(true);
    expect(list).toHaveLength(2);
    expect(list.current()).toEqual([first, later]);
    expect(await list[1]!.step(4)).toEqual({ x: 4, y: 8, vm: 5 });
    await expect(Promise.resolve(list[1]!.bad)).rejects.toThrow(/bad/);
    // A lost member leaves the list.
    await inject(first, { dieAt: 1 });
    await expect(Promise.resolve(first.step(1))).rejects.toThrow(VMLostError);
    expect(list.current()).toEqual([later]);
    expect(seen).toEqual(['added', 'removed']);
    expect(live.all()).toEqual([first, later]);
    unsubscribe();
  });
});
