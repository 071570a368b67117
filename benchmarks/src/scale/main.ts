// bench:scale — River/Trickle on simulated clusters of 8 to 64 VMs.
//
//   pnpm bench:scale [-- --quick] [--sizes 8,16,32,64] [--routes mdns,seed] [--share 0.2 | --no-quotas]
//                    [--chunks-per-vm 50] [--kills 4] [--slow-chunk-ms 20] [--idle-window-s 10] [--out FILE]
//
// For each size N, one simulated cluster (benchmarks/src/wfreq/cluster: a network namespace per
// machine on a private bridge, a CPU share each; real `trickle vm` processes), and for each
// discovery route — (a) mdns: VMs advertise, the initiator browses; (b) seed: VMs `--join` the
// first one, the initiator knows only that address — fresh VMs, then:
//   - how long until all N print their address; after a settling pause, each idle VM's RSS, its
//     established TCP connections, and its network traffic (bytes/s in+out on its link over
//     --idle-window-s: membership and heartbeats, plus mDNS on that route);
//   - on the initiator's machine (initiator.ts): connect(N) (returns once N answered), connect()
//     with its default window, inject, one forkWork of N × 50 small chunks (checked), the same
//     count of busy chunks with --kills VMs killed mid-run (checked), the initiator's peak RSS
//     and connections.
// --quick: sizes 8 and 16, and results/quick/scale.md. Without quotas or namespaces (no root) it
// refuses to run: the point is machines that are separate.
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';

import { checkKnown, listFlag, numberFlag, parseArgs, stringFlag } from '../wfreq/args';
import { createCluster, installSignalHandlers, safeKillPid, type Cluster, type RunningVm } from './cluster-access';
import { commitInfo, machineInfo } from '../wfreq/machine';
import { BENCHMARKS_ROOT, RESULTS_DIR, REPO_ROOT } from '../wfreq/paths';
import { trickleCli } from '../wfreq/variants';
import type { ScaleInitiatorArgs, ScaleInitiatorResult } from './initiator';

export type Route = 'mdns' | 'seed';

export interface ScaleOptions {
  quick: boolean;
  sizes: number[];
  routes: Route[];
  /** Cores per simulated machine; null: no quotas. */
  share: number | null;
  chunksPerVm: number;
  kills: number;
  slowChunkMs: number;
  idleWindowS: number;
  out: string;
  command: string;
  log: (line: string) => void;
}

export interface ScaleRow {
  n: number;
  route: Route;
  listeningMs: number;
  idleRssMbMedian: number;
  idleRssMbMax: number;
  vmConnectionsMax: number;
  vmConnectionsMedian: number;
  trafficBpsMedian: number;
  trafficBpsMax: number;
  result?: ScaleInitiatorResult;
  killed: number;
  error?: string;
}

const KNOWN = ['quick', 'sizes', 'routes', 'share', 'no-quotas', 'chunks-per-vm', 'kills', 'slow-chunk-ms', 'idle-window-s', 'out'];

export function parseScaleArgs(given: readonly string[], log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): ScaleOptions {
  // (`pnpm bench:scale -- --quick` passes the `--` on.)
  const argv = given.filter((a) => a !== '--');
  const args = parseArgs(argv, KNOWN.filter((k) => k !== 'quick' && k !== 'no-quotas'));
  checkKnown(args, KNOWN);
  if (args.positional.length) throw new Error(`unexpected argument ${args.positional[0]}`);
  const quick = args.flags.has('quick');
  const sizes = (listFlag(args, 'sizes') ?? (quick ? ['8', '16'] : ['8', '16', '32', '64'])).map(Number);
  for (const n of sizes) if (!Number.isInteger(n) || n < 2 || n > 200) throw new Error(`--sizes: each from 2 to 200, got ${n}`);
  const routes = (listFlag(args, 'routes') ?? ['mdns', 'seed']) as Route[];
  for (const r of routes) if (r !== 'mdns' && r !== 'seed') throw new Error(`--routes: mdns or seed, got ${r}`);
  const share = args.flags.has('no-quotas') ? null : (numberFlag(args, 'share', (n) => n > 0 && n <= cpus().length) ?? 0.2);
  const out = stringFlag(args, 'out') ?? join(RESULTS_DIR, quick ? 'quick' : '', 'scale.md');
  return {
    quick,
    sizes,
    routes,
    share,
    chunksPerVm: numberFlag(args, 'chunks-per-vm', (n) => Number.isInteger(n) && n >= 1) ?? 50,
    kills: numberFlag(args, 'kills', (n) => Number.isInteger(n) && n >= 0) ?? 4,
    slowChunkMs: numberFlag(args, 'slow-chunk-ms', (n) => n >= 1 && n <= 10_000) ?? 20,
    idleWindowS: numberFlag(args, 'idle-window-s', (n) => n >= 1 && n <= 600) ?? 10,
    out,
    command: `pnpm bench:scale${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    log,
  };
}

// ---------------------------------------------------------------------------------------------
// Reading a process from the host: RSS, TCP connections, its namespace's link counters.

function rssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function connectionsOf(pid: number | undefined): number {
  if (!pid) return NaN;
  const established = new Set<string>();
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '01') established.add(cols[9]!);
    }
  }
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && established.has(m[1]!)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Bytes received + sent on the process's network namespace's link (`eth0`). */
function linkBytes(pid: number | undefined): number {
  if (!pid) return NaN;
  for (const line of readFileSync(`/proc/${pid}/net/dev`, 'utf8').split('\n')) {
    const m = /^\s*eth0:\s*(\d+)(?:\s+\d+){7}\s+(\d+)/.exec(line);
    if (m) return Number(m[1]) + Number(m[2]);
  }
  return NaN;
}

function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The compiled initiator (it runs in another process: JavaScript also when this runs under ts-jest). */
function initiatorEntry(): string {
  const file = join(BENCHMARKS_ROOT, 'dist', 'scale', 'initiator.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: build the benchmarks first (pnpm --filter @trickle/benchmarks build)`);
  return file;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------

async function measure(cluster: Cluster, n: number, route: Route, o: ScaleOptions): Promise<ScaleRow> {
  const cli = trickleCli();
  const seed = cluster.slots[0]!;
  const seedAddress = `${seed.host}:${seed.port}`;
  const started = performance.now();
  const vms: RunningVm[] = await cluster.startVms(
    n,
    (slot) => ({
      argv: [
        process.execPath, cli, 'vm', '--host', slot.host, '--port', String(slot.port), '--name', slot.name,
        ...(route === 'seed' ? ['--no-advertise', ...(slot.index > 0 ? ['--join', seedAddress] : [])] : []),
      ],
      env: { RIVER_QUIET: '1' },
    }),
    { timeoutMs: 300_000 },
  );
  const listeningMs = performance.now() - started;
  // Settle: joins spread, idle connections close (two gossip rounds), start-up garbage collected.
  await sleep(6000);
  const pids = vms.map((v) => v.pid);
  const rss = pids.map(rssMb);
  const conns = pids.map(connectionsOf);
  const before = pids.map(linkBytes);
  await sleep(o.idleWindowS * 1000);
  const traffic = pids.map((pid, i) => (linkBytes(pid) - before[i]!) / o.idleWindowS);
  const row: ScaleRow = {
    n,
    route,
    listeningMs,
    idleRssMbMedian: median(rss),
    idleRssMbMax: Math.max(...rss),
    vmConnectionsMedian: median(conns),
    vmConnectionsMax: Math.max(...conns),
    trafficBpsMedian: median(traffic),
    trafficBpsMax: Math.max(...traffic),
    killed: 0,
  };

  const kills = Math.min(o.kills, n - 2);
  const args: ScaleInitiatorArgs = {
    n,
    peers: route === 'seed' ? [seedAddress] : undefined,
    mdns: route === 'mdns',
    chunksPerVm: o.chunksPerVm,
    slowChunkMs: o.slowChunkMs,
    kills,
    connectTimeoutMs: 60_000,
  };
  const entry = initiatorEntry();
  const init = cluster.spawnOn('initiator', 'scale initiator', [process.execPath, entry, JSON.stringify(args)], {
    env: route === 'seed' ? { RIVER_MDNS: 'off', TRICKLE_MDNS: 'off' } : {},
  });
  init.end();
  // The kill: VMs 2…kills+1 (never the seed), SIGKILL, mid-run.
  void init.waitForJson<{ event: string }>((m) => m.event === 'kill-now', 600_000).then(
    () => {
      for (const vm of vms.slice(1, 1 + kills)) safeKillPid(vm.pid);
      row.killed = kills;
    },
    () => undefined,
  );
  const exit = await init.waitForExit(900_000);
  const last = init.json<{ event: string; message?: string } & ScaleInitiatorResult>().filter((m) => m.event === 'result' || m.event === 'error').pop();
  if (last?.event === 'result') row.result = last;
  else row.error = last?.message ?? `initiator exited ${exit.code ?? exit.signal}: ${init.stderr.slice(-2000)}`;
  await cluster.stopVms();
  return row;
}

export async function runScale(o: ScaleOptions): Promise<ScaleRow[]> {
  installSignalHandlers();
  const rows: ScaleRow[] = [];
  let description = '';
  for (const n of o.sizes) {
    const cluster = await createCluster({ slots: n, share: o.share, shape: false, mode: 'netns', log: o.log });
    try {
      description = cluster.describe().text;
      for (const route of o.routes) {
        o.log(`bench:scale: ${n} VMs, ${route}…`);
        const row = await measure(cluster, n, route, o).catch((error: unknown) => ({ n, route, error: String((error as Error)?.message ?? error) }) as ScaleRow);
        rows.push(row);
        o.log(`bench:scale: ${n} VMs, ${route}: ${row.error ?? `connect(N) ${fmtS(row.result?.connectNMs)}, forkWork ${fmtS(row.result?.forkWorkMs)}`}`);
      }
    } finally {
      await cluster.dispose();
    }
  }
  writeReport(o, rows, description);
  return rows;
}

// ---------------------------------------------------------------------------------------------
// The report

const fmtS = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`);
const fmt = (x: number | undefined, digits = 0) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const yes = (b: boolean | undefined) => (b === undefined ? '–' : b ? 'yes' : '**NO**');

export function reportText(o: ScaleOptions, rows: ScaleRow[], description: string): string {
  const m = machineInfo();
  const c = commitInfo();
  const lines: string[] = [];
  lines.push(`# bench:scale${o.quick ? ' (quick)' : ''}`, '');
  lines.push(`Command: \`${o.command}\` — commit ${c.commit.slice(0, 12)}${c.dirty ? ' (with uncommitted changes)' : ''}, ${new Date().toISOString()}.`, '');
  lines.push(`Host: ${m.cpus} × ${m.cpuModel}, ${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB, 1-minute load average at the end ${m.loadAverage.toFixed(1)} (the host is shared).`, '');
  lines.push(description, '');
  if (o.share !== null) {
    lines.push(
      `CPU shares are caps (CFS quotas), not reservations: ${o.share} of a core per machine; from ${Math.floor(m.cpus / o.share)} machines on, their sum exceeds the host's ${m.cpus} cores and the machines compete for them.`,
      '',
    );
  }
  lines.push(
    `Per size and route: fresh \`trickle vm\` processes; **mdns**: every VM advertises, the initiator browses; **seed**: every VM \`--join\`s VM 1 and the initiator knows only VM 1's address. ` +
      `*listening*: from spawning the VMs until all printed their address. *idle*: after a 6 s pause, each VM's RSS, established TCP connections, and bytes in+out on its link over ${o.idleWindowS} s (membership and heartbeats; on the mdns route also mDNS, and no membership since those VMs join no one). ` +
      `Initiator: *connect(N)* returns once N VMs answered; *connect()* listens its whole default window; *inject*: two functions and a value into N sessions; *forkWork*: N × ${o.chunksPerVm} small chunks, results checked; *with kills*: the same count of ${o.slowChunkMs} ms busy chunks with ${o.kills} VMs (never VM 1) SIGKILLed mid-run, results checked (each chunk counted once).`,
    '',
  );
  lines.push('| N | route | listening | connect(N) | found | connect() | found | inject | forkWork | correct | with kills | correct | idle RSS/VM (median, max) | conns/VM (median, max) | traffic/VM B/s (median, max) | initiator RSS | initiator conns |');
  lines.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const x = r.result;
    if (r.error && !x) {
      lines.push(`| ${r.n} | ${r.route} | ${fmtS(r.listeningMs)} | **error**: ${r.error.replace(/\|/g, '/').replace(/\n/g, ' ').slice(0, 300)} |||||||||||||||`);
      continue;
    }
    lines.push(
      `| ${r.n} | ${r.route} | ${fmtS(r.listeningMs)} | ${fmtS(x?.connectNMs)} | ${x?.connectNFound ?? '–'} | ${fmtS(x?.defaultMs)} | ${x?.defaultFound ?? '–'} | ${fmtS(x?.injectMs)} | ${fmtS(x?.forkWorkMs)} | ${yes(x?.forkWorkCorrect)} | ${fmtS(x?.killedForkWorkMs)} (${r.killed} killed) | ${yes(x?.killedForkWorkCorrect)} | ${fmt(r.idleRssMbMedian)}, ${fmt(r.idleRssMbMax)} MiB | ${fmt(r.vmConnectionsMedian)}, ${fmt(r.vmConnectionsMax)} | ${fmt(r.trafficBpsMedian)}, ${fmt(r.trafficBpsMax)} | ${fmt(x?.initiatorRssMb)} MiB | ${x?.initiatorConnections ?? '–'} |`,
    );
  }
  lines.push('');
  const aims = rows.filter((r) => r.n >= 64 && r.result).map((r) => `${r.route}: connect(64) ${fmtS(r.result!.connectNMs)} (aim ≤ 2 s)`);
  if (aims.length) lines.push(`Aim, 64 VMs connected in ≤ 2 s: ${aims.join('; ')}.`, '');
  return `${lines.join('\n')}\n`;
}

function writeReport(o: ScaleOptions, rows: ScaleRow[], description: string): void {
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, reportText(o, rows, description));
  writeFileSync(o.out.replace(/\.md$/, '.json'), `${JSON.stringify({ command: o.command, rows }, null, 2)}\n`);
  o.log(`bench:scale: wrote ${relative(REPO_ROOT, o.out)}`);
}

if (require.main === module) {
  let options: ScaleOptions;
  try {
    options = parseScaleArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench:scale: ${(error as Error).message}\n`);
    process.exit(2);
  }
  runScale(options).then(
    (rows) => process.exit(rows.every((r) => r.result && r.result.forkWorkCorrect && r.result.killedForkWorkCorrect !== false && !r.error) ? 0 : 1),
    (error: unknown) => {
      process.stderr.write(`bench:scale: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
