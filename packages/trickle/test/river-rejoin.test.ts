/**
 * A VM that comes back after a stall rejoins a live list: `trickle vm` frozen with SIGSTOP for
 * 20 s (past the peer timeout) during a forkGen run over `connect({ watch: true })` is lost (its
 * chunks go to the other VM), and after SIGCONT it joins the running call again with a new
 * session, which gets work. Every item is answered exactly once. Real processes over loopback.
 */
import { join } from 'node:path';
import { startVms } from '../../river/test/fixtures/vm-process';
import { connect, forkGen, inject } from '../src';

const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');

jest.setTimeout(120_000);

/** Busy for the session's `chunkMs`; says which process and which session (worker) ran item `x`. */
function where(x: number) {
  const g = globalThis as any;
  const until = Date.now() + g.chunkMs;
  while (Date.now() < until);
  g.sessionMark ??= Math.random().toString(36).slice(2);
  return { x, pid: process.pid as number, session: g.sessionMark as string };
}

test('SIGSTOP 20 s then SIGCONT: the VM rejoins the running forkGen with a new session and gets work', async () => {
  await using procs = await startVms(2, [], { cli: TRICKLE_CLI });
  const [a, b] = [procs[0]!, procs[1]!];
  await using vms = await inject(
    await connect({ peers: [a.address, b.address], mdns: false, watch: { intervalMs: 300 } }),
    { where },
    { chunkMs: 100 },
  );
  expect(vms).toHaveLength(2);

  const results: Array<ReturnType<typeof where>> = [];
  let yielded = 0;
  let stalled: Promise<void> | undefined;
  const sessionsOfB = () => [...new Set(results.filter((r) => r.pid === b.pid).map((r) => r.session))];
  /** Items until B did 3 of them in a second session (bounded: at most 3000). */
  function* items() {
    while (yielded < 3000) {
      const [, second] = sessionsOfB();
      if (second !== undefined && results.filter((r) => r.session === second).length >= 3) return;
      yield yielded++;
    }
  }
  for await (const r of forkGen(vms, where, items())) {
    results.push(r);
    if (!stalled && sessionsOfB().length === 1 && results.length >= 5) {
      b.kill('SIGSTOP');
      stalled = new Promise<void>((resolve) => setTimeout(resolve, 20_000)).then(() => void b.kill('SIGCONT'));
    }
  }
  await stalled;

  expect(yielded).toBeLessThan(3000);
  // B worked before the stall and, in a new session, after it.
  expect(sessionsOfB()).toHaveLength(2);
  // Every item answered once, none lost with B's old session.
  expect(results.map((r) => r.x).sort((x, y) => x - y)).toEqual(Array.from({ length: yielded }, (_, i) => i));
  // The live list holds B again, with the injected code replayed to it.
  expect(vms).toHaveLength(2);
  const pids = await Promise.all(vms.map((vm) => vm.process.pid));
  expect(pids.sort()).toEqual([a.pid, b.pid].sort());
});
