/**
 * Elasticity with real `trickle vm` processes on loopback: `connect({ watch: true })` lets a VM
 * that starts during a forkWork join it (after the injected code is replayed to it), and a VM
 * stopped with SIGTERM leaves a running forkWork without losing anything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startVm, startVms, type VmProcess } from '../../river/test/fixtures/vm-process';
import { countWords, writeWordFiles } from '../../../examples/src/wfreq-data';
import { connect, forkWork, inject, isVM, type VM } from '../src';
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

describe('graceful removal: SIGTERM on a VM', () => {
  test('finishes the chunks in hand, takes no new ones, exits; forkWork loses nothing', async () => {
    await using procs = await startVms(2, [], { cli: TRICKLE_CLI });
    await using vms = await inject(await connect({ peers: procs.map((p) => p.address), mdns: false }), { countFiles, chunkMs: 100 });
    const pids = (await Promise.all(vms.map((vm) => vm.process.pid))) as number[];
    const victim = procs.find((p) => p.pid === pids[0])!;
    const victimVM: VM = vms[0]!;
    const sentBefore = clientOf(victimVM).requestsSent;
    let terminatedAt = 0;
    let exitedAt = 0;
    void victim.exited.then(() => (exitedAt = Date.now()));
    const results = await forkWork(vms, countFiles, files, {
      chunksize: 1,
      onProgress: ({ done }) => {
        if (done === 8 && !terminatedAt) {
          terminatedAt = Date.now();
          victim.kill('SIGTERM');
        }
      },
    });
    const exit = await victim.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(clientOf(victimVM).isDraining).toBe(true);
    // The session ended by itself once its work was done, before River's stop grace (1 s) ran out.
    console.log(`SIGTERM to exit: ${exitedAt - terminatedAt} ms`);
    expect(exitedAt - terminatedAt).toBeLessThan(1000);
    expect(results).toHaveLength(60);
    expect(merge(results)).toEqual(reference);
    // Every chunk sent to the stopping VM came back from it: nothing was in flight when it left,
    // so nothing had to be re-issued. And it got no chunk after it said it was stopping.
    const sent = clientOf(victimVM).requestsSent - sentBefore;
    const done = results.filter((r) => r.pid === victim.pid).length;
    expect(done).toBe(sent);
    expect(done).toBeLessThan(12);
    expect(victim.lines.join('\n')).toMatch(/SIGTERM, stopping/);
  });
});
