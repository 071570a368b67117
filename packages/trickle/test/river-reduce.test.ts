/**
 * forkWork with `reduce` on real `trickle vm` processes (loopback): each VM folds its chunks'
 * results, the VMs combine their accumulators among themselves, and the initiator gets one
 * value. The answers must equal what the plain forkWork gives, each chunk counted once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startVms, type VmProcess } from '../../river/test/fixtures/vm-process';
import { countWords, writeWordFiles } from '../../../examples/src/wfreq-data';
import { connect, forkWork, inject, RemoteError, sessionStats, vmInfo, type VM } from '../src';

const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');

/** Counts the words of a chunk of files (injected: runs on the VMs). */
function wordcount(files: string[]): Map<string, number> {
  const fs = require('node:fs');
  const m = new Map<string, number>();
  for (const f of files) for (const t of fs.readFileSync(f, 'utf8').split(/\s+/)) if (t) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}
/** The reducer for word counts: adds `d` into `acc` (in place) and returns it. */
function mergeInto(acc: Map<string, number>, d: Map<string, number>): Map<string, number> {
  for (const [w, c] of d) acc.set(w, (acc.get(w) ?? 0) + c);
  return acc;
}
function sumChunk(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
function add(a: number, b: number): number {
  return a + b;
}
/** The chunk's items, tagged with the process that saw them. */
function tagChunk(xs: number[]): Array<[number, number]> {
  return xs.map((x) => [x, process.pid as number]);
}
function concat(a: Array<[number, number]>, b: Array<[number, number]>): Array<[number, number]> {
  for (const x of b) a.push(x);
  return a;
}
function mergeIntoThrowing(acc: Map<string, number>, d: Map<string, number>): Map<string, number> {
  if (acc.size + d.size > 0) throw new RangeError('the reducer does not like this');
  return acc;
}

let dir: string;
let files: string[];
let reference: Map<string, number>;
let procs: VmProcess[] & AsyncDisposable;
let vms: VM[] & AsyncDisposable;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trickle-reduce-'));
  files = writeWordFiles(dir, 60, 200);
  reference = countWords(files).counts;
  procs = await startVms(3, [], { cli: TRICKLE_CLI });
  vms = await inject(await connect({ peers: procs.map((p) => p.address), mdns: false }), { wordcount, sumChunk, tagChunk, mergeInto });
});
afterAll(async () => {
  await vms?.[Symbol.asyncDispose]();
  await procs?.[Symbol.asyncDispose]();
  rmSync(dir, { recursive: true, force: true });
});

describe('forkWork with reduce over River', () => {
  test('Maps: the word counts equal the sequential reference, and only one Map comes back', async () => {
    const progress: number[] = [];
    const total = await forkWork(vms, wordcount, files, { chunksize: 4, reduce: mergeInto, onProgress: ({ done }) => progress.push(done) });
    expect(total).toEqual(reference);
    expect(progress.at(-1)).toBe(files.length);
    expect(progress).toHaveLength(15);
  });

  test('numbers: a sum', async () => {
    const items = Array.from({ length: 1000 }, (_, i) => i);
    expect(await forkWork(vms, sumChunk, items, { chunksize: 7, reduce: add })).toBe((999 * 1000) / 2);
  });

  test('arrays: every item once, from every VM', async () => {
    const items = Array.from({ length: 300 }, (_, i) => i);
    const tagged = await forkWork(vms, tagChunk, items, { chunksize: 5, reduce: concat });
    expect(tagged!.map(([x]) => x).sort((a, b) => a - b)).toEqual(items);
    const pids = new Set(tagged!.map(([, pid]) => pid));
    expect(pids.size).toBe(3);
  });

  test('no work: undefined, or `initial` when given; initial is folded in once', async () => {
    expect(await forkWork(vms, sumChunk, [], { chunksize: 3, reduce: add })).toBeUndefined();
    expect(await forkWork(vms, sumChunk, [], { chunksize: 3, reduce: add, initial: 0 })).toBe(0);
    expect(await forkWork(vms, sumChunk, [1, 2, 3, 4, 5], { chunksize: 2, reduce: add, initial: 100 })).toBe(115);
  });

  test('a reducer that throws: a RemoteError naming the reducer and the VM', async () => {
    await inject(vms, { mergeIntoThrowing });
    let error: unknown;
    try {
      await forkWork(vms, wordcount, files, { chunksize: 2, reduce: mergeIntoThrowing });
    } catch (e) {
      error = e;
    }
    expect(RemoteError.isInstance(error)).toBe(true);
    const remote = error as RemoteError;
    expect(remote.name).toBe('RangeError');
    expect(remote.remoteMessage).toBe('the reducer does not like this');
    expect(remote.remoteName).toContain('mergeIntoThrowing()');
    expect(remote.message).toContain('mergeIntoThrowing()');
    expect(remote.message).toContain(`VM '${remote.vm.name}'`);
    expect(vms.map((vm) => vmInfo(vm).name)).toContain(remote.vm.name);
  });

  test('the sessions forget a run once it is over', async () => {
    expect(await forkWork(vms, sumChunk, [1, 2, 3, 4, 5, 6], { chunksize: 1, reduce: add })).toBe(21);
    // The end of the run is sent after the value came back: the next request on each VM sees it.
    for (const vm of vms) expect(await sessionStats(vm)).toEqual({ objects: 0, references: 0, runs: 0 });
  });
});
