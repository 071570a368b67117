/**
 * Elasticity with real `trickle vm` processes on loopback: `connect({ watch: true })` lets a VM
 * that starts during a forkWork join it (after the injected code is replayed to it); a live list
 * whose VMs all died waits for one to join; and a VM stopped with SIGTERM leaves a running
 * forkWork without losing anything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startVm, startVms, type VmProcess } from '../../river/test/fixtures/vm-process';
import { countWords, writeWordFiles } from '../../../examples/src/wfreq-data';
import { connect, forkWork, inject, isVM, WorkLostError, VMLostError, type VM } from '../src';
import { clientOf } from '../src/internal';
import { countFiles, merge } from './fixtures/slow-wordcount';

const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');

let dir: string;
let files: string[];
let reference: Map<string, number>;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trickle-elastic-'));
  files = writeWordFiles(dir, 60, 200);
  reference = countWords(files).counts;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('connect({ watch: true }): VMs join a running forkWork', () => {
  test('a VM started during the run (--join) gets a session, the injected code, and chunks', async () => {
    await using first = await startVm([], { cli: TRICKLE_CLI });
    await using vms = await inject(
      await connect({ peers: [first.address], mdns: false, watch: { intervalMs: 200 } }),
      { countFiles },
      { chunkMs: 120 },
    );
    expect(vms).toHaveLength(1);
    let second: Promise<VmProcess> | undefined;
    try {
      const running = forkWork(vms, countFiles, files, {
        chunksize: 1,
        onProgress: ({ done }) => {
          // Start the second VM once the run is under way; it joins the first one's cluster.
          if (done === 2) second = startVm(['--join', first.address], { cli: TRICKLE_CLI });
        },
      });
      const results = await running;
      const joined = await second!;
      expect(results).toHaveLength(60);
      expect(new Set(results.map((r) => r.first)).size).toBe(60);
      expect(merge(results)).toEqual(reference);
      const byPid = (pid: number) => results.filter((r) => r.pid === pid).length;
      expect(byPid(first.pid)).toBeGreaterThan(0);
      expect(byPid(joined.pid)).toBeGreaterThan(5);
      // The live list gained the VM; it works as a plain list of handles too.
      expect(vms).toHaveLength(2);
      expect(vms.every((vm) => isVM(vm))).toBe(true);
      expect(await vms[1]!.process.pid).toBe(joined.pid);
      const both = await inject(vms, { later: 'for both' });
      expect(await Promise.all(both.map((vm) => vm.later))).toEqual(['for both', 'for both']);
    } finally {
      await (await second?.catch(() => undefined))?.dispose();
    }
  });
});

/** A loopback port nothing listens on now (for a VM started later at an address known before). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('connect({ watch: true }): a run whose VMs are all gone waits for one to join', () => {
  test('1-VM live list, its VM killed mid-run: a VM started afterwards joins and the result is complete', async () => {
    // The list polls two static peers: the first VM, and an address where a VM starts only later.
    const laterPort = await freePort();
    await using first = await startVm([], { cli: TRICKLE_CLI });
    await using vms = await inject(
      await connect({ peers: [first.address, `127.0.0.1:${laterPort}`], mdns: false, watch: { intervalMs: 200 } }),
      { countFiles },
      { chunkMs: 60 },
    );
    expect(vms).toHaveLength(1);
    let second: Promise<VmProcess> | undefined;
    try {
      const results = await forkWork(vms, countFiles, files, {
        chunksize: 1,
        onProgress: ({ done }) => {
          if (done === 5 && !second) {
            first.kill('SIGKILL');
            // Once the run has no VM left, a new one starts where the list looks.
            second = first.exited.then(() => startVm(['--port', String(laterPort)], { cli: TRICKLE_CLI }));
          }
        },
      });
      const joined = await second!;
      expect(results).toHaveLength(60);
      expect(new Set(results.map((r) => r.first)).size).toBe(60);
      expect(merge(results)).toEqual(reference);
      const byPid = (pid: number) => results.filter((r) => r.pid === pid).length;
      expect(byPid(first.pid)).toBeGreaterThanOrEqual(5);
      expect(byPid(joined.pid)).toBeGreaterThan(0);
      expect(byPid(first.pid) + byPid(joined.pid)).toBe(60);
      // The dead VM left the list; the new one is in it, with the injected code replayed.
      expect(vms).toHaveLength(1);
      expect(await vms[0]!.process.pid).toBe(joined.pid);
    } finally {
      await (await second?.catch(() => undefined))?.dispose();
    }
  });

  test('no VM joins within waitForVMsMs: WorkLostError naming the lost chunks; stopWatching gives up at once', async () => {
    await using first = await startVm([], { cli: TRICKLE_CLI });
    await using vms = await inject(await connect({ peers: [first.address], mdns: false, watch: { intervalMs: 200 } }), { countFiles }, { chunkMs: 60 });
    let killedAt = 0;
    const error = await forkWork(vms, countFiles, files, {
      chunksize: 1,
      waitForVMsMs: 1_500,
      onProgress: ({ done }) => {
        if (done === 5 && !killedAt) {
          killedAt = Date.now();
          first.kill('SIGKILL');
        }
      },
    }).catch((e: unknown) => e);
    const waited = Date.now() - killedAt;
    expect(WorkLostError.isInstance(error)).toBe(true);
    const lost = error as WorkLostError;
    expect(lost.chunks.length).toBeGreaterThan(0);
    expect(lost.chunks.every((i) => i >= 5 && i < 60)).toBe(true);
    expect(lost.done).toBeGreaterThanOrEqual(5);
    expect(lost.message).toMatch(/none joined the live list within 1500 ms/);
    expect(VMLostError.isInstance(lost.cause)).toBe(true);
    expect(waited).toBeGreaterThanOrEqual(1_400);
    expect(waited).toBeLessThan(15_000);

    // A list that stopped watching has nobody to wait for: it rejects at once.
    await vms.stopWatching();
    expect(vms.watching).toBe(false);
    const started = Date.now();
    await expect(forkWork(vms, countFiles, files, { chunksize: 1 })).rejects.toThrow(/no VMs given/);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('graceful removal: SIGTERM on a VM', () => {
  test('mid-chunk: the VM finishes the chunk in hand, refuses the rest, exits; nothing lost or counted twice', async () => {
    // Chunks of 1.8 s on 2 VMs: longer than River's old fixed stop grace of 1 s.
    const work = files.slice(0, 8);
    const expected = countWords(work).counts;
    await using procs = await startVms(2, [], { cli: TRICKLE_CLI });
    await using vms = await inject(await connect({ peers: procs.map((p) => p.address), mdns: false }), { countFiles, chunkMs: 1_800 });
    const pids = (await Promise.all(vms.map((vm) => vm.process.pid))) as number[];
    const victim = procs.find((p) => p.pid === pids[0])!;
    const victimVM: VM = vms[0]!;
    const sentBefore = clientOf(victimVM).requestsSent;
    let terminatedAt = 0;
    let exitedAt = 0;
    void victim.exited.then(() => (exitedAt = Date.now()));
    const progress: number[] = [];
    const results = await forkWork(vms, countFiles, work, {
      chunksize: 1,
      onProgress: ({ done }) => {
        progress.push(done);
        // The VMs' second chunks start as their first ones return: SIGTERM 300 ms into them.
        if (done === 1 && !terminatedAt) {
          terminatedAt = -1;
          setTimeout(() => {
            terminatedAt = Date.now();
            victim.kill('SIGTERM');
          }, 300);
        }
      },
    });
    const exit = await victim.exited;
    console.log(`SIGTERM to exit: ${exitedAt - terminatedAt} ms`);

    // Complete and correct; each chunk counted once.
    expect(results).toHaveLength(8);
    expect(new Set(results.map((r) => r.first)).size).toBe(8);
    expect(merge(results)).toEqual(expected);
    expect(progress).toEqual(work.map((_, i) => i + 1));

    // The chunk the victim had in hand at SIGTERM was finished by the victim (not re-issued), and
    // it started nothing after it.
    const byVictim = results.filter((r) => r.pid === victim.pid);
    const inHand = byVictim.filter((r) => r.startedAt <= terminatedAt && r.endedAt > terminatedAt);
    expect(inHand).toHaveLength(1);
    expect(byVictim.every((r) => r.startedAt <= terminatedAt)).toBe(true);
    // Its queued chunk was refused, not run: the session got more requests than it ran chunks.
    const sent = clientOf(victimVM).requestsSent - sentBefore;
    expect(sent).toBeGreaterThan(byVictim.length);
    expect(clientOf(victimVM).isDraining).toBe(true);

    // Then it exited by itself, cleanly, once the work in hand was answered (well within the 30 s grace).
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitedAt).toBeGreaterThanOrEqual(inHand[0]!.endedAt);
    expect(exitedAt - terminatedAt).toBeLessThan(15_000);
    expect(victim.lines.join('\n')).toMatch(/SIGTERM, stopping/);
  });
});
