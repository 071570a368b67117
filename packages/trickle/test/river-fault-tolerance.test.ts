/**
 * Fault tolerance with real `trickle vm` processes on loopback: wfreq (word counts over files)
 * with forkWork on 4 VMs while VMs are killed with SIGKILL in the middle of the run. The counts
 * must equal the sequential reference; each chunk is counted once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startVms, type VmProcess } from '../../river/test/fixtures/vm-process';
import { countWords, writeWordFiles } from '../../../examples/src/wfreq-data';
import {
  connect,
  DynamicBalancer,
  fork,
  forkGen,
  forkWork,
  inject,
  join as joinAll,
  VMLostError,
  WorkLostError,
  type Balancer,
  type VM,
  type WorkerSlot,
} from '../src';
import { countFiles, merge } from './fixtures/slow-wordcount';

const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');
const peersOf = (procs: VmProcess[]) => procs.map((p) => p.address);

/** The default balancer, remembering the run's slots so a test can see what is in flight where. */
function watchingBalancer(): Balancer & { slots: readonly WorkerSlot[] } {
  const inner = new DynamicBalancer();
  const self = {
    slots: [] as readonly WorkerSlot[],
    pick(slots: readonly WorkerSlot[]) {
      self.slots = slots;
      return inner.pick(slots);
    },
  };
  return self;
}

let dir: string;
let files: string[];
let reference: Map<string, number>;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trickle-ft-'));
  files = writeWordFiles(dir, 96, 240);
  reference = countWords(files).counts;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cluster(n: number) {
  const procs = await startVms(n, [], { cli: TRICKLE_CLI });
  try {
    const vms = await inject(await connect({ peers: peersOf(procs), mdns: false }), { countFiles, chunkMs: 120 });
    const pids = (await Promise.all(vms.map((vm) => vm.process.pid))) as number[];
    const vmOfPid = new Map(pids.map((pid, i) => [pid, vms[i]!] as const));
    return { procs, vms, vmOfPid };
  } catch (error) {
    await procs[Symbol.asyncDispose]();
    throw error;
  }
}

describe('forkWork over River while VMs are killed (SIGKILL)', () => {
  test('wfreq on 4 VMs, one killed mid-run: counts equal the sequential reference', async () => {
    const { procs, vms, vmOfPid } = await cluster(4);
    await using _procs = procs;
    await using _vms = vms;
    const victim = procs[1]!;
    const victimVM = vmOfPid.get(victim.pid)!;
    const balancer = watchingBalancer();
    let inFlightAtKill = -1;
    const results = await forkWork(vms, countFiles, files, {
      chunksize: 2,
      balancer,
      onProgress: ({ done }) => {
        if (done >= 16 && inFlightAtKill < 0) {
          inFlightAtKill = balancer.slots.find((s) => s.vm === victimVM)!.inFlight;
          victim.kill('SIGKILL');
        }
      },
    });
    expect(inFlightAtKill).toBeGreaterThan(0);
    expect((await victim.exited).signal).toBe('SIGKILL');
    // Each chunk once, all of them, and the right counts.
    expect(results).toHaveLength(48);
    expect(new Set(results.map((r) => r.first)).size).toBe(48);
    expect(merge(results)).toEqual(reference);
    // The victim did some work before it died, the others did the rest.
    const byPid = (pid: number) => results.filter((r) => r.pid === pid).length;
    expect(byPid(victim.pid)).toBeGreaterThan(0);
    expect(byPid(victim.pid)).toBeLessThan(12);
    for (const p of procs) if (p !== victim) expect(byPid(p.pid)).toBeGreaterThan(byPid(victim.pid));
    await expect(Promise.resolve(victimVM.countFiles([]))).rejects.toThrow(VMLostError);
  });

  test('wfreq on 4 VMs, two killed at different times, ordered: counts equal the reference', async () => {
    const { procs, vms, vmOfPid } = await cluster(4);
    await using _procs = procs;
    await using _vms = vms;
    const [first, second] = [procs[0]!, procs[3]!];
    const balancer = watchingBalancer();
    const inFlight: number[] = [];
    const kill = (proc: VmProcess) => {
      inFlight.push(balancer.slots.find((s) => s.vm === vmOfPid.get(proc.pid))!.inFlight);
      proc.kill('SIGKILL');
    };
    const progress: number[] = [];
    const results = await forkWork(vms, countFiles, files, {
      chunksize: 2,
      ordered: true,
      balancer,
      onProgress: ({ done }) => {
        progress.push(done);
        if (done >= 12 && inFlight.length === 0) kill(first);
        if (done >= 40 && inFlight.length === 1) kill(second);
      },
    });
    expect(inFlight).toHaveLength(2);
    for (const n of inFlight) expect(n).toBeGreaterThan(0);
    expect(results.map((r) => r.first)).toEqual(files.filter((_, i) => i % 2 === 0));
    expect(merge(results)).toEqual(reference);
    expect(progress).toHaveLength(48);
    expect(progress.at(-1)).toBe(96);
    const survivors = new Set(results.slice(-10).map((r) => r.pid));
    expect(survivors.has(first.pid) || survivors.has(second.pid)).toBe(false);
  });

  test('every VM killed: the run rejects with WorkLostError naming the lost chunks', async () => {
    const { procs, vms } = await cluster(2);
    await using _procs = procs;
    await using _vms = vms;
    const completed = new Set<number>();
    let error: unknown;
    try {
      const run = forkGen(vms, countFiles, files, {
        chunksize: 2,
        onProgress: ({ done }) => {
          if (done === 8) for (const p of procs) p.kill('SIGKILL');
        },
      });
      for await (const r of run) completed.add(files.indexOf(r.first) / 2);
    } catch (e) {
      error = e;
    }
    expect(WorkLostError.isInstance(error)).toBe(true);
    const lost = error as WorkLostError;
    expect(lost.code).toBe('TRICKLE_WORK_LOST');
    expect(lost.chunks.length).toBeGreaterThan(0);
    expect(completed.size).toBeGreaterThanOrEqual(4);
    for (const index of lost.chunks) expect(completed.has(index)).toBe(false);
    expect(lost.vms).toHaveLength(2);
    expect(lost.done).toBeGreaterThanOrEqual(8);
    expect(VMLostError.isInstance(lost.cause)).toBe(true);
    expect(lost.message).toContain(`lost chunk`);
  });

  test('a call, and a fork joined, on a VM that died earlier reject with VMLostError promptly', async () => {
    const { procs, vms, vmOfPid } = await cluster(3);
    await using _procs = procs;
    await using _vms = vms;
    const [early, late, alive] = [procs[0]!, procs[1]!, procs[2]!];
    const dead: VM = vmOfPid.get(early.pid)!;
    early.kill('SIGKILL');
    await early.exited;
    let started = Date.now();
    await expect(Promise.resolve(dead.countFiles([]))).rejects.toThrow(VMLostError);
    await expect(joinAll(fork(dead, countFiles, []))).rejects.toThrow(VMLostError);
    expect(Date.now() - started).toBeLessThan(5_000);
    // Made right after the kill, before the initiator can know: still VMLostError, no hang.
    const dying: VM = vmOfPid.get(late.pid)!;
    late.kill('SIGKILL');
    started = Date.now();
    const call = Promise.resolve(dying.countFiles([]));
    const forked = joinAll(fork(dying, countFiles, []));
    await expect(call).rejects.toThrow(VMLostError);
    await expect(forked).rejects.toThrow(VMLostError);
    expect(Date.now() - started).toBeLessThan(5_000);
    // The remaining VM still works.
    expect((await vmOfPid.get(alive.pid)!.countFiles([])).pid).toBe(alive.pid);
  });
});
