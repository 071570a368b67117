// THE TRICKLE RUNS of the wfreq benchmark.
//
// 1. `vmCommand(slot)`: the argv of one VM (a real `trickle vm`) on a simulated machine. The
//    cluster starts one per slot in that machine's namespace + cgroup and waits for its first
//    line of stdout (`trickle vm listening on host:port (…)`).
// 2. `runVariant(options)`: one timed wfreq run, executed in a separate initiator process
//    (initiator.ts) on the initiator's machine (its namespace + CPU share). Connects to exactly
//    `options.vms` VMs, counts `options.files`, returns the merged word → count Map. The caller
//    times the whole call (like the paper: from before connect() to after the final merge) and
//    checks the Map against the reference.
// Profiling: env WFREQ_TRACE=1 prints each run's phase times (main.ts and profile.ts show them).
import { dirname, join } from 'node:path';
import { connect, disconnect, forkWork, inject, type VM } from '@trickle/core';
import type { VmCommand, VmSlot } from './cluster/cluster';
import { mergecounts } from './wordcount';

export type Variant = 'paper' | 'reduce';
export const VARIANTS: readonly Variant[] = ['paper', 'reduce'];

export interface VmEndpoint {
  /** vm1, vm2, … */
  name: string;
  /** host:port as the VM printed it on its first line of stdout. */
  address: string;
}

/** What the initiator process knows about the VMs it should use. Plain data (crosses as JSON). */
export interface ClusterView {
  /**
   * - 'netns': `vms` run in network namespaces on a private bridge, each with an equal CPU share;
   *   this process runs in the initiator's namespace with the same share. Discover them with real
   *   mDNS (the env pins it to the bridge interface), e.g. `connect(options.vms)`.
   * - 'processes': fallback without root — `vms` are plain local processes on loopback, mDNS is
   *   OFF (env TRICKLE_MDNS=off) and env TRICKLE_PEERS / RIVER_PEERS lists them.
   * - 'local': no VMs were started: start `options.vms` local VMs yourself, e.g.
   *   `connect({ local: options.vms })` (the "Trickle with 2 local VMs" baseline, no quotas; runs
   *   in a loopback-only namespace when root, else with mDNS off).
   */
  kind: 'netns' | 'processes' | 'local';
  vms: VmEndpoint[];
  /**
   * Environment already applied to this process: TRICKLE_KEY / RIVER_KEY (the cluster's shared
   * key, hex), TRICKLE_MDNS_INTERFACE / RIVER_MDNS_INTERFACE ('eth0', the bridge link, in netns
   * mode; 'lo' for 'local' in a namespace), TRICKLE_MDNS / RIVER_MDNS ('off' outside namespaces),
   * TRICKLE_PEERS / RIVER_PEERS (fallback).
   */
  env: Record<string, string>;
  /** Cores per simulated machine, when quotas apply. */
  share?: number;
  /** One sentence for logs. */
  description: string;
}

/** The exact interface of one timed Trickle run. */
export interface RunVariantOptions {
  variant: Variant;
  /** Number of VMs to use (connect to exactly this many). */
  vms: number;
  /** Absolute paths of the text files to count (the VMs share the file system). */
  files: string[];
  /** The paper's chunk size (default 100). */
  chunksize: number;
  cluster: ClusterView;
}

export class NotWiredError extends Error {
  constructor() {
    super('Trickle runs not wired yet');
    this.name = 'NotWiredError';
  }
}

// ---------------------------------------------------------------------------------------------
// Tracing (profiling only): with env WFREQ_TRACE=1 each run writes one line
// `wfreq-trace {"phase": ms since the start of runVariant, …}` to stderr (main.ts logs it).

type Trace = (phase: string, extra?: Record<string, number>) => void;

const TRACED = process.env.WFREQ_TRACE === '1';

function tracer(): { mark: Trace; flush: (variant: string, vms: number) => void } {
  if (process.env.WFREQ_TRACE !== '1') return { mark: () => undefined, flush: () => undefined };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const out: Record<string, number> = {};
  return {
    mark: (phase, extra) => {
      out[phase] = Math.round((performance.now() - t0) * 10) / 10;
      if (extra) for (const [k, v] of Object.entries(extra)) out[k] = Math.round(v * 10) / 10;
    },
    flush: (variant, vms) => {
      const cpu = process.cpuUsage(cpu0);
      process.stderr.write(`wfreq-trace ${JSON.stringify({ variant, vms, ...out, initiatorCpuMs: Math.round((cpu.user + cpu.system) / 1000) })}\n`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Connecting

/**
 * Connects to exactly `n` VMs as the cluster kind says: real mDNS on the bridge ('netns'), the
 * static peers in TRICKLE_PEERS with mDNS off ('processes'; both from the environment the
 * harness applied), or `n` local VMs started by the initiator ('local'). `connect(n)` returns as
 * soon as `n` VMs have answered (discovery's `want`), not after the whole listening window.
 */
async function connectFor(options: RunVariantOptions): Promise<VM[]> {
  const n = options.vms;
  if (options.cluster.kind === 'local') return connect({ local: n, min: n, max: n });
  return connect(n);
}

// ---------------------------------------------------------------------------------------------
// `paper`: Example 7 as written

/** The paper's wordcount (self-contained: it is injected and runs on the VMs). */
function wordcount(files: string[]): Map<string, number> {
  const fs = require('node:fs') as typeof import('node:fs');
  const m = new Map<string, number>();
  for (const filename of files) {
    const text = fs.readFileSync(filename, 'utf8');
    for (const t of text.split(/\s+/)) {
      if (t) m.set(t, (m.get(t) ?? 0) + 1);
    }
  }
  return m;
}

async function runPaper(options: RunVariantOptions, mark: Trace): Promise<Map<string, number>> {
  const vms = await connectFor(options);
  mark('connected');
  try {
    await inject(vms, { wordcount });
    mark('injected');
    const rlist = await forkWork(vms, wordcount, options.files, { chunksize: options.chunksize });
    mark('forkWorkDone', { chunks: rlist.length });
    const final = mergecounts(rlist);
    mark('merged');
    return final;
  } finally {
    await disconnect(vms);
    mark('disconnected');
  }
}

// ---------------------------------------------------------------------------------------------
// `reduce`: Example 7 with one `reduce` option

/** Adds the counts of `d` into `acc` and returns it: the reducer, run on the VMs. */
function mergeInto(acc: Map<string, number>, d: Map<string, number>): Map<string, number> {
  for (const [w, c] of d) acc.set(w, (acc.get(w) ?? 0) + c);
  return acc;
}

async function runReduce(options: RunVariantOptions, mark: Trace): Promise<Map<string, number>> {
  const vms = await connectFor(options);
  mark('connected');
  try {
    await inject(vms, { wordcount });
    mark('injected');
    // (Traced runs also mark when the last chunk is folded, i.e. when the combining starts.)
    const onProgress = TRACED ? ({ done }: { done: number }) => void (done === options.files.length && mark('counted')) : undefined;
    const final = await forkWork(vms, wordcount, options.files, { chunksize: options.chunksize, reduce: mergeInto, onProgress });
    mark('reduced');
    return final ?? new Map(); // no files: no counts
  } finally {
    await disconnect(vms);
    mark('disconnected');
  }
}

/**
 * One wfreq run with Trickle. Counts exactly like wordcount.ts (`text.split(/\s+/)`, empty
 * tokens ignored) and returns the merged counts.
 *
 * - `paper`: Example 7 as written: `connect(n)`, `inject(vms, { wordcount })`,
 *   `forkWork(vms, wordcount, files, { chunksize })` (every chunk's ~17k-entry Map crosses the
 *   network), then the serial `mergecounts` of all of them on the initiator.
 * - `reduce`: the same program with one option, `reduce: mergeInto`: each VM folds its chunks'
 *   counts, the VMs combine their totals among themselves, and one Map comes back.
 */
export async function runVariant(options: RunVariantOptions): Promise<Map<string, number>> {
  const { mark, flush } = tracer();
  try {
    return options.variant === 'paper' ? await runPaper(options, mark) : await runReduce(options, mark);
  } finally {
    flush(options.variant, options.vms);
  }
}

/** Path of the `trickle` CLI (the package's exports do not include dist/cli.js). */
export function trickleCli(): string {
  return join(dirname(require.resolve('@trickle/core/package.json')), 'dist', 'cli.js');
}

/**
 * The command of one VM on a simulated machine: a real `trickle vm` listening on the slot's
 * address; its first line of stdout holds `host:port` (cluster.ts reads it). The cluster's
 * environment gives it the cluster key (TRICKLE_KEY / RIVER_KEY, 64 hex characters: a valid
 * River key) and pins mDNS to the bridge link (netns) or turns it off (processes); RIVER_QUIET
 * keeps its stdout to that one line.
 *
 * In the 'processes' fallback (plain local processes on loopback) the VM takes any free port
 * (port 0) rather than a fixed one that something else on this host may hold.
 */
export function vmCommand(slot: VmSlot): VmCommand {
  const port = slot.ns ? slot.port : 0;
  return {
    argv: [process.execPath, trickleCli(), 'vm', '--host', slot.host, '--port', String(port), '--slots', '4', '--name', slot.name],
    env: { RIVER_QUIET: '1' },
  };
}
