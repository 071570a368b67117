// The cluster honesty check: do equal CPU shares really hold?
//
//   node dist/wfreq/cluster/check.js [--share 0.2] [--vms 1,2,4,8] [--cpu-ms 600] [--rounds 2]
//        [--out benchmarks/results/cluster-check.md] [--period-us 10000] [--no-contrast] [--no-ballast]
//
// Builds the simulated cluster, starts test VMs (cluster/test-vm.ts) in their namespaces and
// cgroups, and from the initiator's namespace asks 1, 2, 4, 8 of them at once to do the same fixed
// CPU-bound job. If each machine really gets `share` of a core whatever the others do, the wall
// time per job stays constant (≈ CPU time / share) as the number of busy machines grows — so 8
// VMs are honestly 8 times the compute of 1. A contrast run without quotas shows what happens
// otherwise (the processes fight over the host's cores). Also checks that multicast from the
// initiator reaches every VM across the bridge, and that the host's own network namespace gains
// no interface. Writes a Markdown report.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { checkKnown, listFlag, numberFlag, parseArgs, stringFlag } from '../args';
import { commitInfo, describeMachine, machineInfo, median } from '../machine';
import { compiledEntry, RESULTS_DIR } from '../paths';
import { createCluster, DEFAULT_SHARE, type Cluster } from './cluster';
import { installSignalHandlers, isShuttingDown } from './cleanup';
import type { ProbeReport } from './probe-client';
import { timedBurn } from './test-vm';

export interface CheckRow {
  processes: number;
  quotas: boolean;
  /** Idle machines running CPU ballast during the measurement. */
  ballast: number;
  /** Mean CPU time per process, ms. */
  cpuMs: number;
  /** Median over processes (and rounds) of each process's wall time for the job, ms. */
  wallMs: number;
  maxWallMs: number;
  /** CPU time / share: what the wall time should be if the share holds. */
  expectedWallMs?: number;
  /** wallMs / wallMs of the 1-process row of the same kind. */
  slowdown: number;
}

export interface CheckResult {
  share: number | undefined;
  iterations: number;
  calibrationCpuMs: number;
  rows: CheckRow[];
  multicast: { expected: number; answered: number };
  holds: boolean;
  verdict: string;
  clusterText: string;
  hostLinksBefore: string[];
  hostLinksDuring: string[];
}

function hostLinks(): string[] {
  try {
    return readdirSync('/sys/class/net').sort();
  } catch {
    return [];
  }
}

/** Iterations of `burn` that take about `cpuMs` of CPU here, unrestricted. */
function calibrate(cpuMs: number): { iterations: number; measuredCpuMs: number } {
  let iterations = 5_000_000;
  let t = timedBurn(iterations).cpuMs;
  while (t < 50 && iterations < 2e9) {
    iterations *= 4;
    t = timedBurn(iterations).cpuMs;
  }
  iterations = Math.round((iterations * cpuMs) / Math.max(t, 1));
  const samples = [timedBurn(iterations).cpuMs, timedBurn(iterations).cpuMs, timedBurn(iterations).cpuMs];
  return { iterations, measuredCpuMs: Math.min(...samples) };
}

async function probe(cluster: Cluster, targets: string[], extra: string[]): Promise<ProbeReport> {
  const r = await cluster.runInitiator([process.execPath, compiledEntry('cluster/probe-client'), '--targets', targets.join(','), ...extra], {
    timeoutMs: 300_000,
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !last.startsWith('{')) throw new Error(`probe client failed (${r.signal ?? r.code}): ${r.stderr.trim()}`);
  return JSON.parse(last) as ProbeReport;
}

export interface CheckOptions {
  share?: number;
  vms?: number[];
  cpuMs?: number;
  rounds?: number;
  contrast?: boolean;
  ballast?: boolean;
  periodUs?: number;
  log?: (line: string) => void;
}

export async function runCheck(options: CheckOptions = {}): Promise<CheckResult> {
  const log = options.log ?? (() => undefined);
  const share = options.share ?? DEFAULT_SHARE;
  const ks = options.vms ?? [1, 2, 4, 8];
  const rounds = options.rounds ?? 2;
  const maxK = Math.max(...ks);
  log(`calibrating a ${options.cpuMs ?? 600} ms CPU job …`);
  const cal = calibrate(options.cpuMs ?? 600);
  log(`  ${cal.iterations} iterations ≈ ${cal.measuredCpuMs.toFixed(0)} ms CPU unrestricted`);
  const hostLinksBefore = hostLinks();
  const cluster = await createCluster({ slots: maxK, share, log, ...(options.periodUs ? { periodUs: options.periodUs } : {}) });
  try {
    const clusterText = cluster.describe().text;
    log(clusterText);
    const hostLinksDuring = hostLinks();
    const rows: CheckRow[] = [];
    const vmArgv = (s: { host: string; port: number; name: string }) => ({
      argv: [process.execPath, compiledEntry('cluster/test-vm'), '--host', s.host, '--port', String(s.port), '--name', s.name, ...(cluster.kind === 'netns' ? ['--mcast'] : [])],
    });

    const measure = async (quotas: boolean, counts: number[], roundsHere: number, ballast = false) => {
      const vms = await cluster.startVms(maxK, vmArgv, { quota: quotas });
      const out: CheckRow[] = [];
      for (const k of counts) {
        const walls: number[] = [];
        const cpusMs: number[] = [];
        const ballasted = ballast ? await cluster.startBallast(k) : 0;
        for (let r = 0; r < roundsHere; r++) {
          log(
            `  ${quotas ? 'with quotas' : 'NO quotas'}${ballasted ? `, ballast on ${ballasted} idle machines` : ''}: ` +
              `${k} process${k > 1 ? 'es' : ''} at once, round ${r + 1}/${roundsHere}`,
          );
          const rep = await probe(cluster, vms.slice(0, k).map((v) => v.address), ['--burn', String(cal.iterations)]);
          for (const b of rep.burns) {
            walls.push(b.wallMs);
            cpusMs.push(b.cpuMs);
          }
        }
        await cluster.stopBallast();
        const cpuMs = cpusMs.reduce((a, b) => a + b, 0) / cpusMs.length;
        out.push({
          processes: k,
          quotas,
          ballast: ballasted,
          cpuMs,
          wallMs: median(walls),
          maxWallMs: Math.max(...walls),
          ...(quotas && cluster.share ? { expectedWallMs: cpuMs / cluster.share } : {}),
          slowdown: NaN,
        });
      }
      const base = out.find((r) => r.processes === Math.min(...counts))!.wallMs;
      for (const r of out) r.slowdown = r.wallMs / base;
      return { out, vms };
    };

    const withQuotas = await measure(cluster.quotas, ks, rounds);
    rows.push(...withQuotas.out);

    let multicast = { expected: 0, answered: 0 };
    if (cluster.kind === 'netns') {
      const rep = await probe(cluster, withQuotas.vms.map((v) => v.address), ['--mcast-from', cluster.initiatorHost, '--expect', String(maxK)]);
      multicast = { expected: maxK, answered: rep.mcast.length };
      log(`  multicast probe from the initiator answered by ${rep.mcast.length}/${maxK} VMs`);
    }
    const ballastRows = cluster.quotas && options.ballast !== false ? (await measure(true, ks, rounds, true)).out : [];
    rows.push(...ballastRows);
    if (options.contrast !== false && cluster.quotas) {
      rows.push(...(await measure(false, [Math.min(...ks), maxK], 1)).out);
    }
    await cluster.stopVms();

    // 1. The shares: every busy machine got exactly its share of CPU time (wall ≈ CPU time / share).
    const quotaRows = rows.filter((r) => r.quotas);
    const accuracy = quotaRows.map((r) => r.wallMs / (r.expectedWallMs ?? r.wallMs));
    const accurate = accuracy.every((a) => a > 0.9 && a < 1.1);
    const mc = multicast.answered === multicast.expected;
    const holds = cluster.quotas && accurate && mc;
    // 2. Compute: how much work per second k busy machines did, relative to one machine alone.
    const plainRows = withQuotas.out;
    const compute = (list: CheckRow[], k: number) => {
      const one = list.find((r) => r.processes === Math.min(...ks));
      const row = list.find((r) => r.processes === k);
      return one && row ? (k * one.wallMs) / row.wallMs : NaN;
    };
    const computeMax = compute(plainRows, maxK);
    const computeBallast = ballastRows.length ? compute(ballastRows, maxK) : NaN;
    const cpuGrowth = Math.max(...plainRows.map((r) => r.cpuMs)) / plainRows[0]!.cpuMs;
    const within = Math.max(...accuracy.map((a) => Math.abs(a - 1)));
    let verdict: string;
    if (!cluster.quotas) verdict = `NOT SHOWN: no CPU quotas here (${cluster.fallbackReason}); speedups above the host's core count cannot be shown.`;
    else if (!holds) {
      verdict =
        'DOES NOT HOLD: ' +
        (!accurate ? `wall time ÷ (CPU time ÷ share) ranged ${Math.min(...accuracy).toFixed(2)}–${Math.max(...accuracy).toFixed(2)} (it should be ≈ 1)` : '') +
        (!accurate && !mc ? '; ' : '') +
        (mc ? '' : `multicast reached ${multicast.answered}/${multicast.expected} VMs`) +
        '.';
    } else {
      verdict =
        `HOLDS: every busy machine got its ${share}-core share of CPU time (wall time = CPU time ÷ share within ${(within * 100).toFixed(0)}%) ` +
        `whether 1 or ${maxK} machines were busy. ${maxK} busy machines did ${computeMax.toFixed(2)}× the work per second of one alone (ideal ${maxK})` +
        (cpuGrowth > 1.05
          ? `: the host's cores got through up to ${((cpuGrowth - 1) * 100).toFixed(0)}% less work per CPU-second when several were busy ` +
            '(shared caches, SMT siblings, a hypervisor — and other work on the host, see the load average), so speedups measured here are, if anything, understated'
          : '') +
        (ballastRows.length ? `; with ballast on the idle machines (equal host load whatever the number of busy VMs) ${computeBallast.toFixed(2)}×` : '') +
        '.';
    }
    return {
      share: cluster.share,
      iterations: cal.iterations,
      calibrationCpuMs: cal.measuredCpuMs,
      rows,
      multicast,
      holds,
      verdict,
      clusterText,
      hostLinksBefore,
      hostLinksDuring,
    };
  } finally {
    await cluster.dispose();
  }
}

export function renderCheck(result: CheckResult, meta: { command: string; date: string; loadBefore: number; loadAfter: number }): string {
  const m = machineInfo();
  const c = commitInfo();
  const f = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`);
  const lines = [
    '# Cluster honesty check',
    '',
    'Does each simulated machine really get an equal, fixed CPU share? The same fixed CPU-bound job runs in 1, 2, 4 and 8',
    'VM processes at once (each in its own network namespace and cgroup, driven over the bridge from the initiator\'s',
    'namespace). If the shares hold, each busy machine gets CPU time at its share (wall time = CPU time ÷ share) however',
    'many are busy — 8 VMs get 8× the CPU time of 1 even though the host has only 2 cores — so speedups measured on this',
    'cluster are honest. "CPU per job" shows how fast the host\'s cores are per CPU-second as the load changes.',
    '',
    `- Date: ${meta.date}`,
    `- Machine: ${describeMachine(m)}; 1-min load average ${meta.loadBefore.toFixed(2)} before, ${meta.loadAfter.toFixed(2)} after (other work on the host shows up here)`,
    `- Commit: ${c.commit}${c.dirty ? ' (with uncommitted changes)' : ''}`,
    `- Command: \`${meta.command}\``,
    `- ${result.clusterText}`,
    `- Job: ${result.iterations.toLocaleString('en-US')} iterations of a fixed integer loop ≈ ${result.calibrationCpuMs.toFixed(0)} ms of CPU when run unrestricted.`,
    '',
    '| processes at once | CPU quota each | ballast on idle machines | CPU per job | wall per job (median) | slowest job | expected wall (CPU ÷ share) | wall vs 1 process |',
    '|---:|---|---:|---:|---:|---:|---:|---:|',
    ...result.rows.map(
      (r) =>
        `| ${r.processes} | ${r.quotas ? `${result.share} core` : 'none'} | ${r.ballast || '—'} | ${f(r.cpuMs)} | ${f(r.wallMs)} | ${f(r.maxWallMs)} | ${f(r.expectedWallMs)} | ${r.slowdown.toFixed(2)}× |`,
    ),
    '',
    `**Verdict: ${result.verdict}**`,
    '',
  ];
  if (result.rows.some((r) => r.ballast)) {
    lines.push(
      'Rows with ballast: the machines that have no job spin (within their quotas) meanwhile, so the host is equally loaded',
      'whatever the number of busy VMs — as in the benchmark with `--ballast`.',
      '',
    );
  }
  if (result.rows.some((r) => !r.quotas)) {
    lines.push(
      'The rows without a quota are the contrast: the same processes without cgroup limits compete for the host\'s cores,',
      'so their wall time grows with the number of processes once they outnumber the cores.',
      '',
    );
  }
  if (result.multicast.expected > 0) {
    lines.push(
      `Multicast: a probe multicast from the initiator (${'239.255.70.70'}, TTL 1, sent from its bridge address) was answered by ` +
        `${result.multicast.answered} of ${result.multicast.expected} VMs across the bridge.`,
      '',
    );
  }
  lines.push(
    `Isolation: the host's own network namespace had the interfaces [${result.hostLinksBefore.join(', ')}] before and ` +
      `[${result.hostLinksDuring.join(', ')}] while the cluster existed — the bridge and veths live only in the cluster's namespaces.`,
    '',
  );
  return lines.join('\n');
}

async function cli(argv: string[]): Promise<void> {
  const args = parseArgs(argv, ['share', 'vms', 'cpu-ms', 'rounds', 'out', 'period-us']);
  checkKnown(args, ['share', 'vms', 'cpu-ms', 'rounds', 'out', 'period-us', 'no-contrast', 'no-ballast', 'help']);
  if (args.flags.has('help')) {
    console.log('usage: node dist/wfreq/cluster/check.js [--share 0.2] [--vms 1,2,4,8] [--cpu-ms 600] [--rounds 2] [--out FILE] [--period-us 10000] [--no-contrast] [--no-ballast]');
    return;
  }
  installSignalHandlers();
  const out = resolve(stringFlag(args, 'out') ?? join(RESULTS_DIR, 'cluster-check.md'));
  const vms = listFlag(args, 'vms')?.map(Number);
  if (vms && vms.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) throw new Error('--vms: positive integers ≤ 64');
  const loadBefore = loadavg()[0]!;
  const date = new Date().toISOString();
  const result = await runCheck({
    share: numberFlag(args, 'share', (n) => n > 0 && n <= 64),
    vms,
    cpuMs: numberFlag(args, 'cpu-ms', (n) => n >= 10 && n <= 60_000),
    rounds: numberFlag(args, 'rounds', (n) => Number.isInteger(n) && n >= 1 && n <= 10),
    contrast: !args.flags.has('no-contrast'),
    ballast: !args.flags.has('no-ballast'),
    periodUs: numberFlag(args, 'period-us', (n) => Number.isInteger(n) && n >= 1000 && n <= 1_000_000),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const command = `node ${relative(process.cwd(), process.argv[1]!) || process.argv[1]} ${argv.join(' ')}`.trim();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, renderCheck(result, { command, date, loadBefore, loadAfter: loadavg()[0]! }));
  console.log(result.verdict);
  console.log(`wrote ${relative(process.cwd(), out)}`);
}

if (require.main === module) {
  cli(process.argv.slice(2)).catch((err: unknown) => {
    if (isShuttingDown()) return; // the signal handler tears down and exits
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  });
}
