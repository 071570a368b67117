// The initiator of one bench:scale measurement, run on the simulated cluster's initiator machine
// (its namespace and CPU share). Arguments: one JSON object (ScaleInitiatorArgs). It prints JSON
// lines: { event: 'kill-now' } when the driver should kill VMs (mid-run of the second forkWork),
// then { event: 'result', … } (ScaleInitiatorResult), or { event: 'error', message }.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { connect, disconnect, forkWork, inject } from '@trickle/core';

export interface ScaleInitiatorArgs {
  n: number;
  /** Seed address(es) for the membership route; none for the mDNS route. */
  peers?: string[];
  mdns: boolean;
  chunksPerVm: number;
  /** Busy milliseconds per chunk of the run with kills (so there is a mid-run to kill in). */
  slowChunkMs: number;
  /** How many VMs the driver kills in the second run (0: no second run). */
  kills: number;
  connectTimeoutMs: number;
}

export interface ScaleInitiatorResult {
  connectNMs: number;
  connectNFound: number;
  defaultFound: number;
  defaultMs: number;
  injectMs: number;
  forkWorkMs: number;
  forkWorkCorrect: boolean;
  killedForkWorkMs?: number;
  killedForkWorkCorrect?: boolean;
  killedVmsLeft?: number;
  initiatorRssMb: number;
  initiatorConnections: number;
}

/** Results come in completion order: every item's result, each exactly once (the values are distinct). */
function exactlyOnce(results: number[], items: number[], expected: (i: number) => number): boolean {
  if (results.length !== items.length) return false;
  const got = [...results].sort((a, b) => a - b);
  const want = items.map(expected).sort((a, b) => a - b);
  return got.every((r, i) => r === want[i]);
}

const emit = (value: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(value)}\n`);

/** Established TCP connections of this process. */
function ownConnections(): number {
  const established = new Set<string>();
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/self/net/${table}`, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '01') established.add(cols[9]!);
    }
  }
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m && established.has(m[1]!)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

// Injected into the VMs: a small chunk (a little arithmetic), and one that keeps its VM busy.
declare const SLOW_MS: number;
function small(i: number): number {
  let x = 0;
  for (let k = 0; k < 10_000; k++) x = (x + k * i) % 1_000_003;
  return i * 2 + 1 + (x < 0 ? 1 : 0);
}
function slow(i: number): number {
  const end = Date.now() + SLOW_MS;
  while (Date.now() < end);
  return i * 3 + 1;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as ScaleInitiatorArgs;
  const where = { peers: args.peers, mdns: args.mdns, local: 0 };
  let rssMax = 0;
  const sample = () => (rssMax = Math.max(rssMax, process.memoryUsage().rss));

  let t = performance.now();
  const vms = await connect({ ...where, min: args.n, max: args.n, timeoutMs: args.connectTimeoutMs });
  const connectNMs = performance.now() - t;
  const connectNFound = vms.length;
  sample();

  // connect() with its default window, in an initiator of its own.
  t = performance.now();
  const all = await connect({ ...where });
  const defaultMs = performance.now() - t;
  const defaultFound = all.length;
  await disconnect(all);

  t = performance.now();
  await inject(vms, small, slow, { SLOW_MS: args.slowChunkMs });
  const injectMs = performance.now() - t;

  const items = Array.from({ length: args.n * args.chunksPerVm }, (_, i) => i);
  t = performance.now();
  const results = await forkWork(vms, 'small', items);
  const forkWorkMs = performance.now() - t;
  const forkWorkCorrect = exactlyOnce(results as number[], items, (i) => i * 2 + 1);
  sample();
  const initiatorConnections = ownConnections();

  const out: ScaleInitiatorResult = {
    connectNMs,
    connectNFound,
    defaultFound,
    defaultMs,
    injectMs,
    forkWorkMs,
    forkWorkCorrect,
    initiatorRssMb: 0,
    initiatorConnections,
  };
  if (args.kills > 0) {
    // Mid-run: once every VM has had time to start a chunk or two, the driver kills some.
    const killAt = setTimeout(() => emit({ event: 'kill-now' }), Math.max(200, args.slowChunkMs * 3));
    t = performance.now();
    const again = await forkWork(vms, 'slow', items);
    out.killedForkWorkMs = performance.now() - t;
    clearTimeout(killAt);
    out.killedForkWorkCorrect = exactlyOnce(again as number[], items, (i) => i * 3 + 1);
    sample();
  }
  out.initiatorRssMb = rssMax / 2 ** 20;
  await disconnect(vms).catch(() => undefined);
  emit({ event: 'result', ...out });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    emit({ event: 'error', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    process.exit(1);
  },
);
