// The wfreq benchmark driver: the paper's Table 1 on a simulated cluster, and beyond.
//
//   pnpm bench [-- --quick] [--data DIR] [--runs N] [--baseline-runs N] [--vms 1,2,4,8] [--variants paper,reduce]
//              [--chunksize 100] [--share 0.2] [--no-shape] [--ballast] [--serial] [--cluster auto|netns|processes]
//              [--baselines-only] [--out DIR] [--seed S] [--verify-data]
//   (= node benchmarks/dist/wfreq/main.js …; env WFREQ_BASELINES_ONLY=1 = --baselines-only)
//
// 1. data: the generated paper-shaped corpus (cached), or --data DIR;
// 2. the sequential reference count (checked against the generator's own count);
// 3. baselines on all cores, no quotas: plain single-process count, Piscina with 2 workers,
//    Trickle with 2 local VMs (each alone on the host);
// 4. lanes (lanes.ts) on the simulated cluster: the plain count on one machine's CPU share, and
//    for each VM count × run a cluster of its own with fresh VMs, on which each variant makes one
//    timed Trickle run in an initiator process on the initiator's machine (variants.ts), its counts
//    checked against the reference (a mismatch fails the benchmark). Lanes run side by side while the
//    busy machines' shares fit the host's cores (--serial: one after another);
// 5. the report: results/wfreq.md, wfreq.json, wfreq-speedup.svg (quick runs: results/quick/).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { checkKnown, listFlag, numberFlag, parseArgs, stringFlag } from './args';
import { piscinaCount, plainCount } from './baselines';
import { createCluster, installSignalHandlers, isShuttingDown, registerCleanup, type Cluster, type ExecResult, type VmCommand, type VmSlot } from './cluster';
import { ensureDataset, FULL_SPEC, listTextFiles, QUICK_SPEC, type Dataset } from './data';
import { parseResult, writeJson, type Job, type PlainJob, type TrickleJob } from './job';
import { LaneStatus, machineBudget, runLanes, type Lane } from './lanes';
import { commitInfo, machineInfo } from './machine';
import { compiledEntry, RESULTS_DIR } from './paths';
import { Progress } from './progress';
import { computeReference, verify, verifySummary, type Reference } from './reference';
import { baselineMedian, writeReport, type BaselineResult, type Baselines, type ReportFiles, type VariantRun } from './report';
import { NotWiredError, runVariant, VARIANTS, vmCommand, type ClusterView, type RunVariantOptions, type Variant } from './variants';

export interface BenchOptions {
  quick: boolean;
  /** Count this directory of text instead of the generated corpus. */
  dataDir?: string;
  /** Cache folder of generated data (default benchmarks/data). */
  dataRoot?: string;
  seed?: string;
  verifyData?: boolean;
  /** Runs per (variant, VM count). */
  runs: number;
  /** Runs per baseline on all cores (default 1: they vary by a few percent; the budget goes to the cluster runs). */
  baselineRuns?: number;
  /** Runs of the plain count on one machine's share (slow: 1/share × the plain count). */
  shareRuns: number;
  vms: number[];
  variants: Variant[];
  chunksize: number;
  share: number;
  shape: boolean;
  /** Spin CPU ballast on idle machines so the host is equally loaded in every run (implies serial). */
  ballast: boolean;
  /** One lane at a time instead of side by side within the host's cores (see lanes.ts). */
  serial: boolean;
  cluster: 'auto' | 'netns' | 'processes';
  /** Skip everything that needs @trickle/core. */
  baselinesOnly: boolean;
  outDir: string;
  /** The exact command, for the report. */
  command: string;
  progress: Progress;
  /** Upper bound of one timed run (ms). */
  runTimeoutMs: number;
  /** For tests of the harness: replace variants.ts's vmCommand / the initiator entry point. */
  vmCommand?: (slot: VmSlot) => VmCommand;
  initiatorEntry?: string;
}

export function defaultOptions(overrides: Partial<BenchOptions> = {}): BenchOptions {
  const quick = overrides.quick ?? false;
  return {
    quick,
    runs: quick ? 1 : 3,
    shareRuns: 1,
    vms: [1, 2, 4, 8],
    variants: [...VARIANTS],
    chunksize: 100,
    share: 0.2,
    shape: true,
    ballast: false,
    serial: false,
    cluster: 'auto',
    baselinesOnly: process.env.WFREQ_BASELINES_ONLY === '1',
    outDir: quick ? join(RESULTS_DIR, 'quick') : RESULTS_DIR,
    command: 'pnpm bench',
    progress: new Progress(),
    runTimeoutMs: 10 * 60_000,
    ...overrides,
  };
}

export interface BenchResult extends ReportFiles {
  runs: VariantRun[];
  baselines: Baselines;
  reference: Reference;
  dataset: Dataset;
}

const s2 = (x: number) => `${x.toFixed(2)} s`;

/** Where trace lines of the initiators go (set by runBenchmark to its progress log). */
let traceLog: (line: string) => void = (line) => process.stderr.write(`${line}\n`);

/** Runs a job process through `exec` and returns its checked time. */
async function runJob(
  label: string,
  job: Job,
  entry: string,
  exec: (argv: string[]) => Promise<ExecResult>,
  jobFile: string,
  reference: Reference,
): Promise<number> {
  writeJson(jobFile, job);
  const r = await exec([process.execPath, entry, jobFile]);
  const result = parseResult(r.stdout);
  // Profiling (env WFREQ_TRACE=1, see variants.ts): the initiator's phase timings.
  for (const line of r.stderr.split('\n')) if (line.startsWith('wfreq-trace ')) traceLog(`${label}: ${line}`);
  const tail = (t: string) => (t.length > 3000 ? `…${t.slice(-3000)}` : t);
  if (!result) throw new Error(`${label}: no result line (exit ${r.signal ?? r.code})\n--- stderr\n${tail(r.stderr)}\n--- stdout\n${tail(r.stdout)}`);
  if (!result.ok) {
    if (result.errorName === 'NotWiredError') throw new NotWiredError();
    throw new Error(`${label} failed: ${result.error}\n${result.stack ?? ''}\n--- stderr\n${tail(r.stderr)}`);
  }
  verifySummary(result.summary!, reference, label);
  return result.seconds!;
}

function clusterView(cluster: Cluster, kind: ClusterView['kind']): ClusterView {
  if (kind === 'local') {
    return {
      kind,
      vms: [],
      env: { ...cluster.env, ...(cluster.kind === 'netns' ? { RIVER_MDNS_INTERFACE: 'lo', TRICKLE_MDNS_INTERFACE: 'lo' } : {}) },
      description: 'local VMs started by the initiator, no quotas',
    };
  }
  return {
    kind,
    vms: cluster.vms.map((vm) => ({ name: vm.name, address: vm.address })),
    env: { ...cluster.env },
    ...(cluster.share !== undefined ? { share: cluster.share } : {}),
    description: cluster.describe().text,
  };
}

export async function runBenchmark(opts: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const progress = opts.progress;
  const date = new Date().toISOString();
  const machine = machineInfo();
  const notes: string[] = [];
  const vmCmd = opts.vmCommand ?? vmCommand;
  const initiatorEntry = opts.initiatorEntry ?? compiledEntry('initiator');
  traceLog = (line) => progress.log(line);

  if (!opts.baselinesOnly) {
    // Fail fast, before minutes of data and baselines, when the Trickle runs are not wired.
    try {
      vmCmd({ index: 0, name: 'vm1', host: '127.0.0.1', port: 0 });
    } catch (err) {
      if (err instanceof NotWiredError) {
        throw new Error(
          'Trickle runs not wired yet: implement runVariant() and vmCommand() in benchmarks/src/wfreq/variants.ts, ' +
            'or run the parts that need no Trickle with --baselines-only (env WFREQ_BASELINES_ONLY=1).',
        );
      }
      throw err;
    }
  }

  // 1. Data
  let dataset: Dataset;
  if (opts.dataDir) {
    progress.step(`listing ${opts.dataDir}`);
    dataset = listTextFiles(opts.dataDir);
  } else {
    const base = opts.quick ? QUICK_SPEC : FULL_SPEC;
    const spec = { ...base, seed: opts.seed ?? base.seed };
    progress.step(`data set ${spec.name}: ${spec.files.toLocaleString('en-US')} files`);
    dataset = await ensureDataset(spec, {
      root: opts.dataRoot,
      verifyChecksum: opts.verifyData,
      onGenerate: (why) => progress.step(`generating data set ${spec.name} (${why})`),
      onProgress: (p) => progress.update(`${p.files.toLocaleString('en-US')}/${p.totalFiles.toLocaleString('en-US')} files, ${(p.bytes / 1e6).toFixed(0)} MB`),
    });
  }
  const files = dataset.files;
  progress.log(
    `data: ${files.length.toLocaleString('en-US')} files, ${(dataset.bytes / 1e6).toFixed(1)} MB in ${relative(process.cwd(), dataset.dir) || '.'}` +
      (dataset.generated ? ' (generated now)' : dataset.manifest ? ' (cached)' : ''),
  );

  // 2. Reference
  progress.step('reference count (sequential)');
  const reference = computeReference(files);
  if (dataset.manifest) verifySummary(reference, dataset.manifest.expected, 'the reference count (against what the generator wrote)');
  progress.log(`reference: ${reference.total.toLocaleString('en-US')} tokens, ${reference.unique.toLocaleString('en-US')} unique, checksum ${reference.checksum}, ${s2(reference.seconds)}`);

  // 3a. Baselines in this process, on all cores, no quotas
  const baselineRuns = opts.baselineRuns ?? 1;
  const baselines: Baselines = {};
  const plain: BaselineResult = {
    label: 'plain Node, 1 process',
    description: 'the paper\'s wordcount over all files in one process; all cores, no quota (the timed reference count is the first run)',
    runs: [reference.seconds],
  };
  baselines.plain = plain;
  for (let i = 1; i < baselineRuns; i++) {
    progress.step(`baseline: plain count, run ${i + 1}/${baselineRuns}`);
    const r = plainCount(files);
    verify(r.counts, reference, 'baseline plain count');
    plain.runs.push(r.seconds);
  }
  const piscina: BaselineResult = {
    label: 'Piscina, 2 workers',
    description: `worker_threads pool (piscina) of 2 threads, ${opts.chunksize} files per task, partial counts merged as they arrive; all cores, no quota`,
    runs: [],
  };
  baselines.piscina2 = piscina;
  for (let i = 0; i < baselineRuns; i++) {
    progress.step(`baseline: Piscina with 2 workers, run ${i + 1}/${baselineRuns}`);
    const r = await piscinaCount(files, { workers: 2, chunksize: opts.chunksize });
    verify(r.counts, reference, 'baseline Piscina');
    piscina.runs.push(r.seconds);
  }
  progress.log(`baselines: plain ${plain.runs.map(s2).join(', ')}; Piscina×2 ${piscina.runs.map(s2).join(', ')}`);

  // 3b/4. The cluster: unlimited baselines first (alone on the host), then the lanes.
  const work = mkdtempSync(join(tmpdir(), 'wfq-bench-'));
  const unregisterWork = registerCleanup('work dir', async () => rmSync(work, { recursive: true, force: true }), () => rmSync(work, { recursive: true, force: true }));
  const filesList = join(work, 'files.json');
  writeJson(filesList, files);
  let jobSeq = 0;
  const jobFile = () => join(work, `job-${++jobSeq}.json`);
  const runs: VariantRun[] = [];
  const maxVms = Math.max(...opts.vms);
  const clusters: Cluster[] = [];
  const build = async (slots: number): Promise<Cluster> => {
    const c = await createCluster({ slots, share: opts.share, shape: opts.shape, mode: opts.cluster, log: (line) => progress.log(line) });
    clusters.push(c);
    return c;
  };
  progress.step('building the simulated cluster');
  // The first cluster hosts the unlimited baselines and the plain count on one share.
  // With ballast every cluster has all slots, so that the idle ones can spin.
  const first = await build(opts.ballast ? maxVms : 1);
  let clusterDescription = first.describe();
  if (first.kind !== 'netns') notes.push(clusterDescription.text);
  if (first.quotas) {
    notes.push(
      opts.ballast
        ? 'Ballast (--ballast): while fewer than all VMs work, the idle machines spin within their quotas, so the host is equally loaded in every run.'
        : 'No ballast: a run that leaves the host\'s cores partly idle gets more done per CPU-second on a small host ' +
            '(see results/cluster-check.md); lanes running side by side (below) keep the host busier, --ballast keeps it equally loaded.',
    );
  }
  try {
    progress.log(clusterDescription.text);

    const localKeys: Record<Variant, string> = { paper: 'trickleLocal2Paper', reduce: 'trickleLocal2Reduce' };
    for (const variant of opts.variants) {
      const b: BaselineResult = {
        label: `Trickle \`${variant}\`, 2 local VMs`,
        description: 'connect({ local: 2 }) from an initiator with no quota; all cores' + (first.kind === 'netns' ? ' (in a loopback-only namespace)' : ''),
        runs: [],
      };
      baselines[localKeys[variant]] = b;
      if (opts.baselinesOnly) {
        b.skipped = 'baselines only (--baselines-only)';
        continue;
      }
      for (let i = 0; i < baselineRuns; i++) {
        progress.step(`baseline: Trickle ${variant} with 2 local VMs, run ${i + 1}/${baselineRuns}`);
        const job: TrickleJob = { kind: 'trickle', variant, vms: 2, chunksize: opts.chunksize, filesList, cluster: clusterView(first, 'local') };
        b.runs.push(
          await runJob(`Trickle ${variant} with 2 local VMs`, job, initiatorEntry, (argv) => first.runUnlimited(argv, { env: job.cluster.env, timeoutMs: opts.runTimeoutMs }), jobFile(), reference),
        );
      }
    }

    const plainShare: BaselineResult = {
      label: `plain Node, 1 process, ${first.share ?? '?'} core`,
      description: 'the plain count on one simulated machine (its namespace and CPU share), as the 1-VM floor',
      runs: [],
    };
    baselines.plainShare = plainShare;
    if (!first.quotas) plainShare.skipped = 'no CPU quotas here';

    // Lanes: the plain count on one share, and one lane per (VM count, run). With quotas and no ballast
    // they run side by side within the host's cores (lanes.ts); otherwise one after another.
    const concurrent = first.quotas && !opts.ballast && !opts.serial;
    const budget = first.share !== undefined ? machineBudget(cpus().length, first.share) : 1;
    const status = new LaneStatus((line) => progress.step(line));
    const lanes: Lane[] = [];
    // Pushed last: of lanes as long, the Trickle runs start first (the plain count needs 1 machine).
    const plainLanes: Lane[] = [];
    if (first.quotas && opts.shareRuns > 0) {
      plainLanes.push({
        name: 'plain count on one share',
        machines: 1,
        length: opts.shareRuns,
        run: async () => {
          const job: PlainJob = { kind: 'plain', filesList };
          if (opts.ballast) await first.startBallast(1);
          for (let i = 0; i < opts.shareRuns; i++) {
            status.set('plain', `plain count on one ${first.share}-core share, run ${i + 1}/${opts.shareRuns}`);
            plainShare.runs.push(
              await runJob('baseline plain count on one share', job, compiledEntry('plain-count'), (argv) => first.runOn(0, argv, { timeoutMs: opts.runTimeoutMs }), jobFile(), reference),
            );
          }
          await first.stopBallast();
          status.clear('plain');
          progress.log(`baseline: plain count on ${first.share} core: ${plainShare.runs.map(s2).join(', ')}`);
        },
      });
    }
    if (opts.baselinesOnly) {
      notes.push('Baselines only (--baselines-only / WFREQ_BASELINES_ONLY=1): no Trickle runs.');
    } else {
      const total = opts.vms.length * opts.runs * opts.variants.length;
      let done = 0;
      // One lane per (VM count, run): a fresh cluster and fresh VMs on which each variant makes
      // one timed run. Concurrently, the longest lanes start first (runLanes).
      for (const { vms, run } of opts.vms.flatMap((vms) => Array.from({ length: opts.runs }, (_, run) => ({ vms, run })))) {
        const plural = `${vms} VM${vms > 1 ? 's' : ''}`;
        const key = `${plural}, run ${run + 1}`;
        lanes.push({
          name: key,
          machines: vms + 1,
          // In single-machine run times: each variant's run on k VMs takes about 1/k of one.
          length: opts.variants.length / vms,
          run: async () => {
            status.set(key, `${key}: starting`);
            const cluster = await build(opts.ballast ? maxVms : vms);
            if (vms === maxVms) clusterDescription = cluster.describe();
            await cluster.startVms(vms, vmCmd, { timeoutMs: 120_000 });
            if (opts.ballast) await cluster.startBallast(vms);
            const view = clusterView(cluster, cluster.kind);
            for (const variant of opts.variants) {
              const label = `${variant} on ${plural}, run ${run + 1}`;
              status.set(key, label);
              const job: TrickleJob = { kind: 'trickle', variant, vms, chunksize: opts.chunksize, filesList, cluster: view };
              const seconds = await runJob(label, job, initiatorEntry, (argv) => cluster.runInitiator(argv, { env: view.env, timeoutMs: opts.runTimeoutMs }), jobFile(), reference);
              const entry = runs.find((r) => r.variant === variant && r.vms === vms) ?? runs[runs.push({ variant, vms, seconds: [] }) - 1]!;
              entry.seconds.push(seconds);
              done++;
              progress.log(`${label}: ${s2(seconds)} (counts checked) [${done}/${total}]`);
            }
            status.clear(key);
            await cluster.dispose();
          },
        });
      }
    }
    if (concurrent && lanes.length > 1) {
      notes.push(
        `Lanes: the runs of each (VM count, run) pair (and the plain count on one share) ran on a simulated cluster of their own (own bridge, ` +
          `namespaces, cgroups and fresh VMs), side by side with other runs as long as all busy machines' shares fit the host's cores ` +
          `(at most ${budget} machines × ${first.share} core = ${(budget * first.share!).toFixed(2)} cores at once); ` +
          `a run that needs more ran alone. Each run still had exactly its own machines' shares; the host was busier than with one ` +
          `run at a time, which costs every run some speed per CPU-second on this small host (see Findings). \`--serial\` runs them one after another.`,
      );
    }
    await runLanes([...lanes, ...plainLanes], { budget, concurrent });
  } finally {
    progress.step('tearing the clusters down');
    await Promise.all(clusters.map((c) => c.dispose()));
    rmSync(work, { recursive: true, force: true });
    unregisterWork();
  }
  // Lanes finish in any order: report in the order asked for.
  runs.sort((a, b) => opts.vms.indexOf(a.vms) - opts.vms.indexOf(b.vms) || opts.variants.indexOf(a.variant) - opts.variants.indexOf(b.variant));

  // 5. Report
  const findingsFile = join(opts.outDir, 'wfreq-findings.md');
  const report = writeReport(
    {
      runs,
      baselines,
      machine,
      commit: commitInfo(),
      date,
      command: opts.command,
      cluster: { ...clusterDescription },
      data: {
        source: dataset.manifest ? 'generated' : 'directory',
        dir: relative(process.cwd(), dataset.dir) || '.',
        files: files.length,
        bytes: dataset.bytes,
        ...(dataset.manifest ? { seed: dataset.manifest.spec.seed, checksum: dataset.manifest.checksum } : {}),
      },
      reference: { total: reference.total, unique: reference.unique, checksum: reference.checksum, seconds: reference.seconds },
      chunksize: opts.chunksize,
      runsPerPoint: opts.runs,
      quick: opts.quick,
      notes,
      findings: existsSync(findingsFile) ? readFileSync(findingsFile, 'utf8') : undefined,
      elapsedSeconds: (performance.now() - started) / 1000,
    },
    opts.outDir,
  );
  progress.done(`done in ${Math.round((performance.now() - started) / 1000)} s`);
  return { ...report, runs, baselines, reference, dataset };
}

// ---------------------------------------------------------------------------------------------
// CLI

const USAGE = `usage: pnpm bench [-- options]   (node benchmarks/dist/wfreq/main.js [options])
  --quick               small data set (${QUICK_SPEC.files} files), 1 run per point, results in results/quick/
  --data DIR            count every file under DIR instead of the generated corpus
  --runs N              runs per point (default 3; --quick 1)
  --baseline-runs N     runs per baseline on all cores (default 1)
  --vms 1,2,4,8         VM counts
  --variants paper,reduce
  --chunksize N         files per chunk (default 100, the paper's)
  --share X             CPU cores per simulated machine (default 0.2)
  --share-runs N        runs of the plain count on one machine's share (default 1)
  --no-shape            no tc shaping of the links
  --ballast             idle machines spin within their quotas (equal host load in every run; implies --serial)
  --serial              one VM count at a time (default: lanes side by side within the host's cores)
  --cluster MODE        auto (default) | netns | processes
  --baselines-only      skip the Trickle runs (also env WFREQ_BASELINES_ONLY=1)
  --out DIR             report folder (default benchmarks/results, or results/quick)
  --seed S              data set seed
  --verify-data         re-hash the cached data set`;

export function parseBenchArgs(argv: string[], command: string): BenchOptions {
  const valued = ['data', 'runs', 'baseline-runs', 'vms', 'variants', 'chunksize', 'share', 'share-runs', 'cluster', 'out', 'seed'];
  const args = parseArgs(argv, valued);
  checkKnown(args, [...valued, 'quick', 'no-shape', 'ballast', 'serial', 'baselines-only', 'verify-data', 'help']);
  if (args.positional.length) throw new Error(`unexpected argument ${args.positional[0]}`);
  const quick = args.flags.has('quick');
  const base = defaultOptions({ quick, command });
  const int = (n: number) => Number.isInteger(n) && n >= 1;
  const vms = listFlag(args, 'vms')?.map(Number);
  if (vms && (vms.length === 0 || !vms.every((n) => int(n) && n <= 64))) throw new Error('--vms: a list of integers in 1…64');
  const variants = listFlag(args, 'variants');
  if (variants && (variants.length === 0 || !variants.every((v) => (VARIANTS as readonly string[]).includes(v)))) {
    throw new Error(`--variants: a list of ${VARIANTS.join(', ')}`);
  }
  const cluster = stringFlag(args, 'cluster') ?? 'auto';
  if (!['auto', 'netns', 'processes'].includes(cluster)) throw new Error('--cluster: auto, netns or processes');
  const out = stringFlag(args, 'out');
  return {
    ...base,
    dataDir: stringFlag(args, 'data'),
    seed: stringFlag(args, 'seed'),
    verifyData: args.flags.has('verify-data'),
    runs: numberFlag(args, 'runs', (n) => int(n) && n <= 100) ?? base.runs,
    baselineRuns: numberFlag(args, 'baseline-runs', (n) => int(n) && n <= 100),
    shareRuns: numberFlag(args, 'share-runs', (n) => Number.isInteger(n) && n >= 0 && n <= 100) ?? base.shareRuns,
    vms: vms ?? base.vms,
    variants: (variants as Variant[] | undefined) ?? base.variants,
    chunksize: numberFlag(args, 'chunksize', (n) => int(n) && n <= 1_000_000) ?? base.chunksize,
    share: numberFlag(args, 'share', (n) => n > 0 && n <= 64) ?? base.share,
    shape: !args.flags.has('no-shape'),
    ballast: args.flags.has('ballast'),
    serial: args.flags.has('serial'),
    cluster: cluster as BenchOptions['cluster'],
    baselinesOnly: base.baselinesOnly || args.flags.has('baselines-only'),
    outDir: out ? resolve(out) : base.outDir,
  };
}

async function cli(argv: string[]): Promise<void> {
  if (argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  const shown = argv.filter((a) => a !== '--');
  const command =
    process.env.npm_lifecycle_event === 'bench'
      ? `pnpm bench${shown.length ? ` -- ${shown.join(' ')}` : ''}`
      : `node benchmarks/dist/wfreq/main.js${shown.length ? ` ${shown.join(' ')}` : ''}`;
  const opts = parseBenchArgs(argv, command);
  installSignalHandlers();
  const result = await runBenchmark(opts);
  console.log(`wrote ${[result.md, result.json, result.svg].map((f) => relative(process.cwd(), f)).join(', ')}`);
}

if (require.main === module) {
  cli(process.argv.slice(2)).catch((err: unknown) => {
    if (isShuttingDown()) return; // the signal handler tears down and exits
    process.stderr.write(`\n${err instanceof Error ? (err.name === 'Error' ? err.message : `${err.name}: ${err.message}`) : String(err)}\n`);
    process.exit(1);
  });
}

export type { RunVariantOptions, ClusterView };
export { runVariant };
