/**
 * What the micro benchmarks share: command-line flags, order statistics, child processes that
 * print their address first (VMs, the raw echo server), and the echo VR both River paths measure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { createInterface } from 'node:readline';
import { VirtualResource, type Initiator, type UUID, type VMInfo } from '@river/engine';

const args = process.argv.slice(2);

/** The value after `--name` on the command line, or `dflt`. */
export const flag = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const percentile = (sorted: Float64Array, p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

/** The machine a micro benchmark ran on, as its results record it. */
export interface MachineSummary {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  loadavgAtEnd: number[];
}

export function machineSummary(): MachineSummary {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** Runs a benchmark's `main` and exits: 0 when it resolved, 1 (with the error) when it rejected. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

export interface Child {
  proc: ChildProcess;
  firstLine: string;
}

/**
 * Starts `node ...argv` and resolves with its first line of stdout. mDNS is off (loopback only),
 * and the child exits by itself when this process goes (its stdin pipe closes).
 */
export function startChild(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Child> {
  const proc = spawn(process.execPath, argv, {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, RIVER_MDNS: 'off', TRICKLE_MDNS: 'off', RIVER_EXIT_WITH_STDIN: '1', ...env },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv.join(' ')} printed nothing`)), 30_000);
    createInterface({ input: proc.stdout! }).once('line', (firstLine) => {
      clearTimeout(timer);
      proc.stdout!.resume();
      resolve({ proc, firstLine });
    });
    proc.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited (${code})`)));
  });
}

/** Answers every message with `{ tag: 'pong', seq }` until `{ tag: 'stop' }`; returns how many. */
export class EchoVR extends VirtualResource {
  async main(): Promise<number> {
    let n = 0;
    for (;;) {
      const m = await this.recv();
      if (m.tag === 'stop') return n;
      n++;
      this.send(m.src, { tag: 'pong', seq: m.seq });
    }
  }
}

/**
 * Sends pings to `peer` (an EchoVR) and measures: `rtt` — `n` sequential round trips after
 * `warmup`, their median and p99 in µs; `tput` — `n` messages with `window` in flight, per second.
 */
export class Pinger extends VirtualResource {
  async main(peer: string, mode: 'rtt' | 'tput', n: number, warmup: number, window: number): Promise<unknown> {
    const deadline = Date.now() + 10 * 60_000;
    if (mode === 'rtt') {
      const lat = new Float64Array(n);
      for (let i = -warmup; i < n; i++) {
        const t = process.hrtime.bigint();
        this.send(peer, { tag: 'ping', seq: i });
        await this.recv({ tag: 'pong' });
        if (i >= 0) lat[i] = Number(process.hrtime.bigint() - t) / 1000;
        if ((i & 1023) === 0 && Date.now() > deadline) throw new Error('deadline');
      }
      lat.sort();
      return { median: lat[Math.floor(n / 2)], p99: lat[Math.floor(n * 0.99)] };
    }
    let sent = 0;
    let got = 0;
    const started = process.hrtime.bigint();
    while (sent < window && sent < n) this.send(peer, { tag: 'ping', seq: sent++ });
    while (got < n) {
      await this.recv({ tag: 'pong' });
      got++;
      if (sent < n) this.send(peer, { tag: 'ping', seq: sent++ });
      if ((got & 1023) === 0 && Date.now() > deadline) throw new Error('deadline');
    }
    return { perSec: n / (Number(process.hrtime.bigint() - started) / 1e9) };
  }
}

/** The ping workload of the VR-to-VR benchmarks (river.ts, channel.ts) and of river.ts's raw floor. */
export const PING_WORKLOAD = {
  rttMessages: 20_000,
  rttWarmup: 2_000,
  throughputMessages: 200_000,
  window: 1_000,
  /** Nothing may run longer than this (every loop is bounded by count and by this). */
  deadlineMs: 10 * 60_000,
} as const;

/** Deploys a Pinger on `on` against `ponger` (an EchoVR) with PING_WORKLOAD, and returns what it measured. */
export async function runPinger(init: Initiator, on: VMInfo, ponger: UUID, mode: 'rtt' | 'tput'): Promise<{ median?: number; p99?: number; perSec?: number }> {
  const w = PING_WORKLOAD;
  const pinger = await init.deploy(on, Pinger, ponger, mode, mode === 'rtt' ? w.rttMessages : w.throughputMessages, w.rttWarmup, w.window);
  const exit = await init.recv({ src: pinger, tag: 'river:exit' }, { timeoutMs: w.deadlineMs });
  if (exit.error) throw exit.error;
  return exit.value as { median?: number; p99?: number; perSec?: number };
}
