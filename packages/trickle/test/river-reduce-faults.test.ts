/**
 * forkWork with `reduce` on real `trickle vm` processes (loopback) under faults and changes:
 * VMs of different speeds, SIGKILL while counting and while combining, SIGTERM (drain), a VM
 * joining a live list, abort, and a session of another initiator trying to hand these sessions
 * an accumulator. Every result must equal the sequential reference: a chunk counted twice or
 * not at all changes the counts.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startVm, startVms, type VmProcess } from '../../river/test/fixtures/vm-process';
import { countWords, writeWordFiles } from '../../../examples/src/wfreq-data';
import { CancelledError, connect, forkWork, inject, RemoteError, sessionStats, withOptions, type VM } from '../src';
import { clientOf } from '../src/internal';
import { countChunk, slowMerge } from './fixtures/reduce-wordcount';

const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');

let dir: string;
let files: string[];
let reference: Map<string, number>;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trickle-reduce-ft-'));
  files = writeWordFiles(dir, 64, 200);
  reference = countWords(files).counts;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cluster(n: number, chunkMs = 80) {
  const procs = await startVms(n, [], { cli: TRICKLE_CLI });
  try {
    // Untyped handles: the tests read and set session globals (folds, mergeMs) by name.
    const vms: VM[] & AsyncDisposable = await inject(await connect({ peers: procs.map((p) => p.address), mdns: false }), { countChunk, slowMerge, chunkMs });
    const pids = (await Promise.all(vms.map((vm) => vm.process.pid))) as number[];
    const procOf = (vm: VM) => procs.find((p) => p.pid === pids[vms.indexOf(vm)])!;
    return { procs, vms, procOf };
  } catch (error) {
    await procs[Symbol.asyncDispose]();
    throw error;
  }
}

const foldsOn = async (vms: readonly VM[]) => (await Promise.all(vms.map((vm) => vm.folds))) as number[];

describe('forkWork reduce: speeds and SIGKILL', () => {
  test('VMs of different speeds: exact counts, and the fast VMs fold more chunks', async () => {
    const { procs, vms } = await cluster(3, 10);
    await using _procs = procs;
    await using _vms = vms;
    vms[0]!.chunkMs = 150;
    const total = await forkWork(vms, countChunk, files, { chunksize: 2, reduce: slowMerge });
    expect(total).toEqual(reference);
    const folds = await foldsOn(vms);
    expect(folds.reduce((a, b) => a + b, 0)).toBe(32);
    expect(folds[1]!).toBeGreaterThan(folds[0]!);
    expect(folds[2]!).toBeGreaterThan(folds[0]!);
  });

  test('SIGKILL while counting: the lost accumulator is counted again, each chunk once', async () => {
    const { procs, vms, procOf } = await cluster(4);
    await using _procs = procs;
    await using _vms = vms;
    const victim = procOf(vms[1]!);
    const progress: number[] = [];
    const total = await forkWork(vms, countChunk, files, {
      chunksize: 2,
      onProgress: ({ done }) => {
        progress.push(done);
        if (done >= 24 && progress.length < 14 && !victim.child.killed) victim.kill('SIGKILL');
      },
      reduce: slowMerge,
    });
    expect((await victim.exited).signal).toBe('SIGKILL');
    expect(total).toEqual(reference);
    // Progress went back by what the victim had folded, then on to the end.
    const drops = progress.filter((d, i) => i > 0 && d < progress[i - 1]!);
    expect(drops.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toBe(64);
    // The survivors folded the rest and everything the victim had folded: more than their share.
    const folded = (await foldsOn(vms.filter((vm) => vm !== vms[1]))).reduce((a, b) => a + b, 0);
    expect(folded).toBeGreaterThan(32 - 12);
  });

  test('SIGKILL while combining: the receiver dies mid-merge; its givers keep theirs, only its own chunks are counted again', async () => {
    const { procs, vms, procOf } = await cluster(4, 20);
    await using _procs = procs;
    await using _vms = vms;
    let receiver: VM | undefined;
    let foldsAtEnd: number[] = [];
    let killed: Promise<unknown> | undefined;
    const total = await forkWork(vms, countChunk, files, {
      chunksize: 2,
      reduce: slowMerge,
      onProgress: ({ done }) => {
        if (done !== 64 || killed) return;
        // Every chunk is folded: combining starts now. Each merge from here on takes 1.5 s, and
        // the first receiver is the VM holding the most chunks: kill it 400 ms into its merge.
        for (const vm of vms) vm.mergeMs = 1_500;
        killed = foldsOn(vms).then(async (folds) => {
          foldsAtEnd = folds;
          receiver = vms[folds.indexOf(Math.max(...folds))]!;
          await new Promise((resolve) => setTimeout(resolve, 400));
          procOf(receiver).kill('SIGKILL');
        });
      },
    });
    await killed;
    const victim = procOf(receiver!);
    expect((await victim.exited).signal).toBe('SIGKILL');
    expect(total).toEqual(reference);
    // Counted again: exactly the chunks the receiver had folded itself; the givers' snapshots came back.
    const survivors = vms.filter((vm) => vm !== receiver);
    const before = foldsAtEnd.filter((_, i) => vms[i] !== receiver).reduce((a, b) => a + b, 0);
    const after = (await foldsOn(survivors)).reduce((a, b) => a + b, 0);
    expect(after - before).toBe(foldsAtEnd[vms.indexOf(receiver!)]);
  });
  test('SIGKILL of a giver while its accumulator is being merged: nothing is counted again', async () => {
    const { procs, vms, procOf } = await cluster(4, 20);
    await using _procs = procs;
    await using _vms = vms;
    let giver: VM | undefined;
    let foldsAtEnd: number[] = [];
    let killed: Promise<unknown> | undefined;
    const total = await forkWork(vms, countChunk, files, {
      chunksize: 2,
      reduce: slowMerge,
      onProgress: ({ done }) => {
        if (done !== 64 || killed) return;
        // Combining starts now; each merge takes 3 s. The VM holding the fewest chunks gives
        // first: kill it 1.2 s into the merge of what it gave (its accumulator has arrived by then).
        for (const vm of vms) vm.mergeMs = 3_000;
        killed = foldsOn(vms).then(async (folds) => {
          foldsAtEnd = folds;
          // As the library pairs them: by chunks held, most first (a stable sort); the last gives.
          const order = vms.map((_, i) => i).sort((a, b) => folds[b]! - folds[a]!);
          giver = vms[order[order.length - 1]!]!;
          await new Promise((resolve) => setTimeout(resolve, 1_200));
          procOf(giver).kill('SIGKILL');
        });
      },
    });
    await killed;
    expect((await procOf(giver!).exited).signal).toBe('SIGKILL');
    expect(total).toEqual(reference);
    // Its accumulator had reached its receiver: no chunk was counted again.
    const survivors = vms.filter((vm) => vm !== giver);
    const before = foldsAtEnd.filter((_, i) => vms[i] !== giver).reduce((a, b) => a + b, 0);
    expect((await foldsOn(survivors)).reduce((a, b) => a + b, 0)).toBe(before);
  });
});

describe('forkWork reduce: graceful stop, live lists, abort', () => {
  test('SIGTERM: the stopping VM hands its accumulator over before it goes; nothing lost or counted twice', async () => {
    const { procs, vms, procOf } = await cluster(3, 120);
    await using _procs = procs;
    await using _vms = vms;
    const victim = procOf(vms[0]!);
    let terminated = false;
    const total = await forkWork(vms, countChunk, files, {
      chunksize: 2,
      reduce: slowMerge,
      onProgress: ({ done }) => {
        if (done >= 16 && !terminated) {
          terminated = true;
          victim.kill('SIGTERM');
        }
      },
    });
    expect(await victim.exited).toEqual({ code: 0, signal: null });
    expect(total).toEqual(reference);
    // Nothing was counted twice: the survivors folded exactly the chunks the victim did not.
    const survivors = await foldsOn(vms.slice(1));
    expect(survivors.reduce((a, b) => a + b, 0)).toBeLessThan(32);
  });

  test('a VM joining a live list mid-run folds chunks and its accumulator is combined in', async () => {
    await using first = await startVm([], { cli: TRICKLE_CLI });
    await using vms = await inject(await connect({ peers: [first.address], mdns: false, watch: { intervalMs: 200 } }), { countChunk, slowMerge }, { chunkMs: 100 });
    expect(vms).toHaveLength(1);
    let second: Promise<VmProcess> | undefined;
    try {
      const total = await forkWork(vms, countChunk, files, {
        chunksize: 1,
        reduce: slowMerge,
        onProgress: ({ done }) => {
          if (done === 2 && !second) second = startVm(['--join', first.address], { cli: TRICKLE_CLI });
        },
      });
      await second;
      expect(total).toEqual(reference);
      expect(vms).toHaveLength(2);
      const folds = await foldsOn(vms);
      expect(folds[1]!).toBeGreaterThan(3);
      expect(folds[0]! + folds[1]!).toBe(64);
    } finally {
      await (await second?.catch(() => undefined))?.dispose();
    }
  });

  test('abort in the middle: rejects with the reason, hands out nothing more, the sessions forget the run', async () => {
    const { procs, vms } = await cluster(2, 40);
    await using _procs = procs;
    await using _vms = vms;
    const controller = new AbortController();
    const reason = new Error('enough');
    let doneAtAbort = 0;
    const run = forkWork(vms, countChunk, files, {
      chunksize: 1,
      reduce: slowMerge,
      signal: controller.signal,
      onProgress: ({ done }) => {
        if (done === 10) {
          doneAtAbort = done;
          controller.abort(reason);
        }
      },
    });
    await expect(run).rejects.toBe(reason);
    expect(doneAtAbort).toBe(10);
    // What was in flight finishes; nothing more is handed out.
    const folds = await foldsOn(vms);
    expect(folds.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(10 + 2 * 2);
    for (const vm of vms) expect((await sessionStats(vm)).runs).toBe(0);
    // The sessions still work.
    expect(await forkWork(vms, countChunk, files.slice(0, 4), { chunksize: 1, reduce: slowMerge })).toEqual(countWords(files.slice(0, 4)).counts);
  });
});

describe('forkWork reduce: cancellation', () => {
  test('a chunk over its timeout (withOptions) ends its session and rejects the run with CancelledError, as without reduce', async () => {
    const { procs, vms } = await cluster(2, 20);
    await using _procs = procs;
    await using _vms = vms;
    vms[1]!.chunkMs = 3_000;
    const started = Date.now();
    const error = await forkWork(withOptions(vms, { timeoutMs: 800 }), countChunk, files, { chunksize: 2, reduce: slowMerge }).catch((e: unknown) => e);
    expect(CancelledError.isInstance(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    // The other session is untouched and forgot the run.
    expect((await sessionStats(vms[0]!)).runs).toBe(0);
    expect(await forkWork([vms[0]!], countChunk, files.slice(0, 4), { chunksize: 2, reduce: slowMerge })).toEqual(countWords(files.slice(0, 4)).counts);
  });
});

describe('forkWork reduce: only sessions of the same initiator', () => {
  test('a session of another initiator cannot hand these sessions an accumulator: refused, and the run is unaffected', async () => {
    const { procs, vms } = await cluster(2, 30);
    await using _procs = procs;
    await using _vms = vms;
    // A second initiator (its own engine and sessions) on the same VMs.
    await using others = await inject(await connect({ peers: procs.map((p) => p.address), mdns: false }), { countChunk });
    const intruder = clientOf(others[0]!);
    const target = clientOf(vms[1]!).address!;
    expect(typeof target).toBe('string');
    // The intruder's session holds an accumulator of its own…
    const run = randomUUID();
    await intruder.fold(run, 0, { path: ['countChunk'] }, files.slice(0, 2), slowMerge, 'countChunk()');
    // …and tries to give it to a session of the first initiator while that one is counting.
    const counting = forkWork(vms, countChunk, files, { chunksize: 2, reduce: slowMerge });
    const attempt = intruder.combine(run, { op: 'give', to: target, deposit: 1 });
    const error = await attempt.then(() => undefined, (e: unknown) => e);
    expect(RemoteError.isInstance(error)).toBe(true);
    expect((error as RemoteError).failure).toBe('REFUSED');
    expect((error as RemoteError).message).toMatch(/refused the accumulator/);
    expect(await counting).toEqual(reference);
    // The intruder got its own accumulator back on asking (its snapshot was kept).
    await intruder.combine(run, { op: 'restore', deposit: 1, reduce: slowMerge });
    const taken = (await intruder.combine(run, { op: 'take', extras: [], reduce: slowMerge }))!;
    expect(taken.chunks).toEqual([0]);
    expect(taken.value).toEqual(countWords(files.slice(0, 2)).counts);
  });
});
