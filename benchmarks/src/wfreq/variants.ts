// ┌───────────────────────────────────────────────────────────────────────────────────────────┐
// │ THE TRICKLE RUNS — the one file to edit when @trickle/core lands.                         │
// │                                                                                           │
// │ 1. `vmCommand(slot)`: the argv of one VM (`trickle vm …`) on a simulated machine. The     │
// │    cluster starts one per slot in that machine's namespace + cgroup and waits for its     │
// │    first line of stdout (`host:port`).                                                    │
// │ 2. `runVariant(options)`: one timed wfreq run, executed in a separate initiator process   │
// │    (initiator.ts) on the initiator's machine (its namespace + CPU share). Connect to      │
// │    exactly `options.vms` VMs, count `options.files`, return the merged word → count Map.  │
// │    The caller times the whole call (like the paper: from before connect() to after the    │
// │    final merge) and checks the Map against the reference.                                 │
// │ 3. Add "@trickle/core": "workspace:*" to benchmarks/package.json (+ pnpm install).        │
// └───────────────────────────────────────────────────────────────────────────────────────────┘
import type { VmCommand, VmSlot } from './cluster/cluster';

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

/**
 * One wfreq run with Trickle. Must count exactly like wordcount.ts (`text.split(/\s+/)`,
 * empty tokens ignored) and return the merged counts.
 *
 * Sketch of `paper` (Example 7 as written; cf. examples/src/paper/ex7-wfreq.ts):
 *
 *   function wordcount(files: string[]) {                 // self-contained: it is injected
 *     const fs = require('node:fs');
 *     const m = new Map<string, number>();
 *     for (const f of files) for (const t of fs.readFileSync(f, 'utf8').split(/\s+/)) if (t) m.set(t, (m.get(t) ?? 0) + 1);
 *     return m;
 *   }
 *   const vms = await connect(options.vms);
 *   try {
 *     await inject(vms, wordcount);
 *     const rlist = await forkWork(vms, wordcount, options.files, { chunksize: options.chunksize });
 *     return mergecounts(rlist);                          // from ./wordcount
 *   } finally { await disconnect(vms); }
 *
 * `tuned`: e.g. `for await (const m of forkGen(…)) mergeInto(total, m)` (merge while the VMs
 * work), larger chunks / several chunks in flight, combining on the VMs, a faster tokenizer with
 * the same semantics.
 */
export async function runVariant(options: RunVariantOptions): Promise<Map<string, number>> {
  void options;
  throw new NotWiredError();
}

/**
 * The command of one VM on a simulated machine: listen on `slot.host`:`slot.port` and print
 * `host:port` as the first line of stdout. E.g. (once the CLI exists)
 *
 *   { argv: [process.execPath, require.resolve('@trickle/core/dist/cli.js'), 'vm',
 *            '--host', slot.host, '--port', String(slot.port), '--slots', '1'] }
 *
 * The cluster adds its environment (key, mDNS pinned to the bridge or off) to every VM.
 */
export function vmCommand(slot: VmSlot): VmCommand {
  void slot;
  throw new NotWiredError();
}
