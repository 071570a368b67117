// What running sessions in child processes costs: the start of a Trickle session (connect, inject
// a function, one call, close) on a `trickle vm` whose sessions run in worker threads (no heap
// limit) and on one whose sessions run in child processes (`--max-vr-heap-mb 256`, as every VM
// with a heap limit does since a session over its limit could abort a worker's whole process).
// Reports wall time per session start and the VM's CPU time per session (its own process and
// its session processes: utime + stime from /proc), both VMs measured alternately in one run.
// Not a test. Loopback only; mDNS off; every loop bounded.
//   pnpm --filter @trickle/benchmarks build && node benchmarks/dist/micro/session-start.js [--sessions N] [--out-dir DIR]
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { connect, inject } from '@trickle/core';

import { flag, machineSummary, median, runMain, startChild, type Child } from './harness';

const SESSIONS = Number(flag('--sessions', '30'));
const WARMUP = 3;
const OUT_DIR = flag('--out-dir', join(__dirname, '..', '..', 'results'));
const DEADLINE_MS = 5 * 60_000;
const TRICKLE_CLI = join(dirname(require.resolve('@trickle/core/package.json')), 'dist', 'cli.js');
const TICK_MS = 1000 / 100; // USER_HZ

function add(a: number, b: number) {
  return a + b;
}

/** CPU time (ms) of `pid` and all its descendants that are alive, plus what ended children left in its cutime/cstime. */
function cpuMs(pid: number): number {
  const stat = (p: number) => {
    const text = readFileSync(`/proc/${p}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  };
  const own = stat(pid);
  // utime, stime, cutime, cstime are fields 14–17 (1-based) of /proc/pid/stat.
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let children: string[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      continue;
    }
    for (const child of children) {
      try {
        const s = stat(Number(child));
        ticks += Number(s[11]) + Number(s[12]);
      } catch {
        // it just ended (then its time is in cutime/cstime)
      }
    }
  }
  return ticks * TICK_MS;
}

interface Sample {
  wallMs: number;
  cpuMs: number;
}

async function oneSession(vm: Child, address: string): Promise<Sample> {
  const cpu0 = cpuMs(vm.proc.pid!);
  const t0 = process.hrtime.bigint();
  const vms = await inject(await connect({ peers: [address], mdns: false }), { add });
  if ((await vms[0]!.add(2, 3)) !== 5) throw new Error('wrong answer');
  await vms[Symbol.asyncDispose]();
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  // The next spare starts after the session: let the VM settle so that it is counted here.
  await new Promise((r) => setTimeout(r, 300));
  return { wallMs, cpuMs: cpuMs(vm.proc.pid!) - cpu0 };
}

async function main(): Promise<void> {
  const started = Date.now();
  const threads = await startChild([TRICKLE_CLI, 'vm', '--port', '0', '--no-advertise']);
  const processes = await startChild([TRICKLE_CLI, 'vm', '--port', '0', '--no-advertise', '--max-vr-heap-mb', '256']);
  const addr = (c: Child) => /listening on (\S+:\d+)/.exec(c.firstLine)![1]!;
  const results = { threads: [] as Sample[], processes: [] as Sample[] };
  try {
    for (let i = 0; i < WARMUP + SESSIONS && Date.now() - started < DEADLINE_MS; i++) {
      const a = await oneSession(threads, addr(threads));
      const b = await oneSession(processes, addr(processes));
      if (i >= WARMUP) {
        results.threads.push(a);
        results.processes.push(b);
      }
    }
  } finally {
    threads.proc.kill('SIGKILL');
    processes.proc.kill('SIGKILL');
  }
  const summary = (xs: Sample[]) => ({
    sessions: xs.length,
    wallMsMedian: Math.round(median(xs.map((x) => x.wallMs)) * 10) / 10,
    cpuMsMedian: Math.round(median(xs.map((x) => x.cpuMs))),
    cpuMsMean: Math.round(xs.reduce((s, x) => s + x.cpuMs, 0) / Math.max(1, xs.length)),
  });
  const out = { machine: machineSummary(), threads: summary(results.threads), processes: summary(results.processes) };
  const file = join(OUT_DIR, 'session-start.json');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(JSON.stringify(out, null, 2));
}

runMain(main);
