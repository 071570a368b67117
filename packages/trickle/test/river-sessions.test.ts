/**
 * Session churn on one `trickle vm`: 500 sessions from a few initiator processes (each opening,
 * using and closing sessions in a loop), four of those processes killed with SIGKILL while their
 * sessions had calls in flight. Afterwards the VM holds no leftover worker threads, no leftover
 * sockets (file descriptors), and its resident memory is within a stated bound of what it was
 * after a warm-up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, startVm, type VmProcess } from '../../river/test/fixtures/vm-process';
import { connect, disconnect, inject } from '../src';

jest.setTimeout(120_000);

const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');
const CHURN = join(__dirname, 'fixtures', 'session-churn.js');

/** Threads, open file descriptors and resident memory (MB) of a process. */
function usage(pid: number): { threads: number; fds: number; rssMb: number } {
  const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
  return {
    threads: readdirSync(`/proc/${pid}/task`).length,
    fds: readdirSync(`/proc/${pid}/fd`).length,
    rssMb: Math.round((pages * 4096) / 2 ** 20),
  };
}

/**
 * RSS may grow this much (MB) over the warm-up figure after 500 sessions. Measured: +24 to +46 MB,
 * the allocator's high water from up to ~16 session workers alive at once (flat over further
 * rounds); a leaked session worker would cost ~10 MB each, and the thread count catches those.
 */
const RSS_BOUND_MB = 96;

interface Child {
  process: ChildProcess;
  /** Resolves with the first stdout line matching `re`. */
  line(re: RegExp): Promise<string>;
  exited: Promise<number | null>;
}

function runChurn(options: object): Child {
  const child = spawn(process.execPath, [CHURN, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RIVER_MDNS: 'off', TRICKLE_MDNS: 'off' },
  });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += String(d);
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.on('data', (d: Buffer) => (err += String(d)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = out.split('\n').find((l) => re.test(l));
        if (m) resolve(m);
        else waiters.push(check);
      };
      check();
      void exited.then((code) => setTimeout(() => reject(new Error(`initiator exited (${code}) before ${re}: ${err}`)), 50));
    });
  return { process: child, line, exited };
}

test('500 sessions, some of whose initiators were killed: no leftover workers, sockets or memory', async () => {
  await using vm: VmProcess = await startVm([], { cli: TRICKLE_CLI });
  const started = Date.now();
  const fresh = usage(vm.pid);
  const children: Child[] = [];
  try {
    // Warm-up: the first sessions load code and grow heaps once; the bound is against this.
    let sessions = 0;
    for (let round = 0; round < 4; round++) {
      await Promise.all(
        Array.from({ length: 5 }, async () => {
          const vms = await connect({ peers: [vm.address], mdns: false });
          await inject(vms, { double: (x: number) => 2 * x });
          expect(await vms[0]!.double(21)).toBe(42);
          await disconnect(vms);
          sessions++;
        }),
      );
    }
    await eventually(() => usage(vm.pid).threads === fresh.threads && usage(vm.pid).fds === fresh.fds, 10_000, 100);
    await new Promise((r) => setTimeout(r, 500));
    const baseline = usage(vm.pid);

    // Two churning initiators and four that are killed in the middle, with calls in flight.
    const churners = [runChurn({ mode: 'churn', peer: vm.address, sessions: 220, concurrency: 3 }), runChurn({ mode: 'churn', peer: vm.address, sessions: 220, concurrency: 3 })];
    children.push(...churners);
    let killed = 0;
    for (let i = 0; i < 4; i++) {
      const holder = runChurn({ mode: 'hold', peer: vm.address, sessions: 10 });
      children.push(holder);
      const ready = await holder.line(/^ready \d+/);
      sessions += Number(ready.split(' ')[1]);
      holder.process.kill('SIGKILL');
      await holder.exited;
      killed++;
    }
    for (const churner of churners) {
      const done = await churner.line(/^done \d+/);
      sessions += Number(done.split(' ')[1]);
      expect(await churner.exited).toBe(0);
    }
    expect(killed).toBe(4);
    expect(sessions).toBeGreaterThanOrEqual(500);

    // Every session's worker is gone, and every initiator's socket.
    await eventually(() => {
      const now = usage(vm.pid);
      return now.threads === baseline.threads && now.fds === baseline.fds;
    }, 20_000, 100);
    await new Promise((r) => setTimeout(r, 1000));
    const after = usage(vm.pid);
    console.log(
      `session churn: ${sessions} sessions (${killed} initiators killed) in ${((Date.now() - started) / 1000).toFixed(1)} s; VM threads ${baseline.threads} → ${after.threads}, fds ${baseline.fds} → ${after.fds}, RSS ${baseline.rssMb} → ${after.rssMb} MB (bound +${RSS_BOUND_MB} MB)`,
    );
    expect(after.threads).toBe(baseline.threads);
    expect(after.fds).toBe(baseline.fds);
    expect(after.rssMb - baseline.rssMb).toBeLessThanOrEqual(RSS_BOUND_MB);
    expect(vm.child.exitCode).toBeNull();
  } finally {
    for (const child of children) child.process.kill('SIGKILL');
  }
});
