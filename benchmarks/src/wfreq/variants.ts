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
import { deserialize } from 'node:v8';
import { connect, disconnect, forkGen, forkWork, inject, type Chunk, type VM, type WorkQueue } from '@trickle/core';
import type { VmCommand, VmSlot } from './cluster/cluster';
import { mergecounts } from './wordcount';

export type Variant = 'paper' | 'tuned';
export const VARIANTS: readonly Variant[] = ['paper', 'tuned'];

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
  /** The paper's chunk size (default 100); `tuned` may choose its own. */
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

const envInt = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
};

// ---------------------------------------------------------------------------------------------
// Connecting

/**
 * Connects to exactly `n` VMs as the cluster kind says: real mDNS on the bridge ('netns'), the
 * static peers in TRICKLE_PEERS with mDNS off ('processes'; both from the environment the
 * harness applied), or `n` local VMs started by the initiator ('local'). `connect(n)` returns as
 * soon as `n` VMs have answered (discovery's `want`), not after the whole listening window.
 */
async function connectFor(options: RunVariantOptions, tuned: boolean): Promise<VM[]> {
  const n = options.vms;
  if (options.cluster.kind === 'local') {
    // Local VMs need no discovery: tuned turns the other sources off (paper: as written).
    return tuned ? connect({ local: n, min: n, max: n, mdns: false, peers: [] }) : connect({ local: n, min: n, max: n });
  }
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
  const vms = await connectFor(options, false);
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
// `tuned`: combine on the VMs, stream acknowledgements, reduce in shards on the VMs

// The VM side. Each session keeps a running total in its namespace (`wfreqTotal`, injected as an
// empty Map): a chunk adds its words there and answers with a number, so per chunk only the file
// names and a small acknowledgement cross the network (instead of a ~17k-entry Map).
declare let wfreqTotal: Map<string, number>;

/**
 * Counts `files` into the session's running total; answers the number of tokens. Each chunk is
 * counted into a fresh (small, cache-resident) Map first and then added to the running total:
 * per-token lookups stay in a small table (counting straight into the total was ~15% slower).
 */
function wfreqAddLocal(files: string[]): number {
  const fs = require('node:fs') as typeof import('node:fs');
  const m = new Map<string, number>();
  let tokens = 0;
  for (const filename of files) {
    const text = fs.readFileSync(filename, 'utf8');
    for (const t of text.split(/\s+/)) {
      if (t) {
        m.set(t, (m.get(t) ?? 0) + 1);
        tokens++;
      }
    }
  }
  const total = wfreqTotal;
  for (const [w, c] of m) total.set(w, (total.get(w) ?? 0) + c);
  return tokens;
}

/**
 * Hands the running total over as bytes (v8.serialize): native serialisation on the VM and native deserialisation on
 * the initiator, instead of Trickle's value walk and codec running cold (not yet optimised) code
 * once over a ~275k-entry Map on two 0.2-core machines.
 */
function wfreqTakeBytes(): Uint8Array {
  const v8 = require('node:v8') as typeof import('node:v8');
  const b = v8.serialize(wfreqTotal);
  wfreqTotal = undefined as unknown as Map<string, number>; // a chunk after this fails loudly
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Sharded reduction, step 1 (every VM): splits the running total into `n` shards by a hash of
 * the word, each serialised with v8.serialize as `[words, counts]`, so that the initiator only
 * relays opaque bytes instead of decoding and re-encoding Maps of strings on its one small share.
 */
function wfreqShard(n: number): Uint8Array[] {
  const v8 = require('node:v8') as typeof import('node:v8');
  const words: string[][] = Array.from({ length: n }, () => []);
  const counts: number[][] = Array.from({ length: n }, () => []);
  for (const [w, c] of wfreqTotal) {
    let h = 0;
    for (let i = 0; i < w.length; i++) h = (Math.imul(h, 31) + w.charCodeAt(i)) | 0;
    const j = (h >>> 0) % n;
    words[j]!.push(w);
    counts[j]!.push(c);
  }
  wfreqTotal = undefined as unknown as Map<string, number>; // a chunk after this fails loudly
  return words.map((ws, j) => {
    const b = v8.serialize([ws, counts[j]]);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  });
}

/**
 * Sharded reduction, step 2 (VM j): merges shard j of every VM; answers it as v8.serialize bytes
 * of `[words, counts]` arrays: the initiator puts each word into its one result Map once, instead
 * of first building a Map per shard (a second hashing of every word on its small share).
 */
function wfreqMergeShard(parts: Uint8Array[]): Uint8Array {
  const v8 = require('node:v8') as typeof import('node:v8');
  const m = new Map<string, number>();
  for (const bytes of parts) {
    const [ws, cs] = v8.deserialize(bytes) as [string[], number[]];
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i]!;
      m.set(w, (m.get(w) ?? 0) + cs[i]!);
    }
  }
  const b = v8.serialize([[...m.keys()], [...m.values()]]);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** A Map from v8.serialize bytes (a VM's answer). */
function mapFromBytes(bytes: Uint8Array): Map<string, number> {
  return deserialize(bytes) as Map<string, number>;
}

/** Adds every count of `d` to `into`. */
function mergeInto(into: Map<string, number>, d: Map<string, number>): void {
  for (const [w, c] of d) into.set(w, (into.get(w) ?? 0) + c);
}

/** Tuned parameters (the env overrides are for profiling only). */
export const TUNED = {
  /** Files per chunk while there is plenty of work (the paper's 100; a chunk costs a round trip). */
  chunksize: () => envInt('WFREQ_TUNED_CHUNKSIZE', 100),
  /** Smallest chunk at the end of the work (guided: chunks shrink as the work runs out). */
  minChunk: () => envInt('WFREQ_TUNED_MINCHUNK', 8),
  /** Chunks in flight per VM: 2 hides the round trip. */
  inFlightPerVM: () => envInt('WFREQ_TUNED_INFLIGHT', 2),
  /** 'shard' (default): the VMs merge shards; 'fetch': every VM's total is merged here. */
  reduce: (): 'shard' | 'fetch' => (process.env.WFREQ_TUNED_REDUCE === 'fetch' ? 'fetch' : 'shard'),
};

/**
 * The work list in guided chunks: `max` files per chunk while there is plenty of work, then
 * shrinking with what remains (remaining / (2 × VMs), at least `min`), so the run ends with
 * small chunks on every VM instead of one VM finishing a full chunk alone (guided self-scheduling).
 * Calls `onDrained` once, when the last chunk has been handed out: from then on a request sent to
 * a VM is ordered after every chunk it will get, so each VM can start its share of the reduction
 * right after its own last chunk.
 */
class GuidedQueue<W> implements WorkQueue<W> {
  private position = 0;
  private index = 0;
  private drained = false;

  constructor(
    private readonly work: readonly W[],
    private readonly options: { vms: number; max: number; min: number; onDrained: () => void },
  ) {}

  get total(): number {
    return this.work.length;
  }

  next(): Chunk<W> | undefined {
    const remaining = this.work.length - this.position;
    if (remaining <= 0) {
      if (!this.drained) {
        this.drained = true;
        queueMicrotask(this.options.onDrained);
      }
      return undefined;
    }
    const { vms, max, min } = this.options;
    const size = Math.max(min, Math.min(max, Math.ceil(remaining / (2 * vms))));
    const items = this.work.slice(this.position, this.position + size);
    this.position += items.length;
    return { index: this.index++, items, arg: items };
  }
}

async function runTuned(options: RunVariantOptions, mark: Trace): Promise<Map<string, number>> {
  const vms = await connectFor(options, true);
  mark('connected');
  try {
    const typed = await inject(vms, { wfreqTotal: new Map<string, number>(), wfreqAddLocal, wfreqTakeBytes, wfreqShard, wfreqMergeShard });
    mark('injected');
    const n = typed.length;
    const reduce = n === 1 ? 'take' : TUNED.reduce();
    // Step 1 of the reduction, sent to every VM as soon as the last chunk is out (each VM runs
    // it after its own last chunk: requests to a session are handled in order).
    let step1: Promise<Uint8Array[]>[] | undefined;
    const startStep1 = () => {
      if (step1) return;
      mark('drained');
      step1 = typed.map((vm) => (reduce === 'shard' ? vm.wfreqShard(n) : vm.wfreqTakeBytes().then((b) => [b])));
      for (const p of step1) p.catch(() => undefined); // awaited below
    };
    const queue = new GuidedQueue(options.files, { vms: n, max: TUNED.chunksize(), min: TUNED.minChunk(), onDrained: startStep1 });
    let tokens = 0;
    let chunks = 0;
    for await (const t of forkGen(typed, wfreqAddLocal, [], { queue, inFlightPerVM: TUNED.inFlightPerVM() })) {
      tokens += t;
      if (chunks++ === 0) mark('firstResult');
    }
    mark('forkGenDone', { chunks, tokens });
    startStep1();
    const parts = await Promise.all(step1!);
    mark('step1');
    let final: Map<string, number> | undefined;
    let joinMs = 0;
    if (reduce === 'shard') {
      // VM j merges the j-th shard of every VM; the shards are disjoint, so each word goes into
      // the result with one plain set.
      mark('sharded', { shardBytes: parts.reduce((s, list) => s + list.reduce((a, b) => a + b.byteLength, 0), 0) });
      const result = new Map<string, number>();
      final = result;
      await Promise.all(
        typed.map((vm, j) =>
          vm.wfreqMergeShard(parts.map((list) => list[j]!)).then((bytes) => {
            const t = performance.now();
            if (joinMs === 0) mark('firstShardBack');
            const [ws, cs] = deserialize(bytes) as [string[], number[]];
            for (let i = 0; i < ws.length; i++) result.set(ws[i]!, cs[i]!);
            joinMs += performance.now() - t;
          }),
        ),
      );
    } else {
      // One VM: its total is the result. 'fetch': every VM's total is merged here.
      for (const [bytes] of parts) {
        const m = mapFromBytes(bytes!);
        if (!final) final = m;
        else mergeInto(final, m);
      }
    }
    mark('merged', { joinMs });
    return final!;
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
 * - `tuned`: each VM keeps a running total in its session namespace (a chunk answers with its
 *   token count), acknowledgements stream through `forkGen`, and at the end the totals are
 *   reduced on the VMs in shards: the initiator relays bytes and joins n disjoint shards.
 */
export async function runVariant(options: RunVariantOptions): Promise<Map<string, number>> {
  const { mark, flush } = tracer();
  try {
    return options.variant === 'paper' ? await runPaper(options, mark) : await runTuned(options, mark);
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
