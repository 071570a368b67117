// bench:peers — Trickle beside the tools a user would pick instead, in one run on this machine:
// the same word count (wordcount.ts's tokenizer) by node in one process, a Piscina pool of 2
// worker threads, and Trickle's Example 7 on 2 local VMs (as written, and with `reduce`), timed interleaved (round by round, the
// order rotating), on the paper-shaped set and on a real text corpus from a Debian package.
// Every run's counts are checked against a reference; a mismatch fails the benchmark.
//
//   pnpm bench:peers [-- --quick] [--rounds N] [--sets paper,debian] [--programs node,piscina,trickle-paper]
//                    [--corpus DIR] [--chunksize 100] [--out DIR] [--run-timeout S]
//
// Results: results/peers.md and results/peers.json (--quick: results/quick/).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { run } from '@trickle/devkit';
import { checkKnown, listFlag, numberFlag, parseArgs, stringFlag } from '../wfreq/args';
import { parseResult } from '../wfreq/job';
import { commitInfo, machineInfo } from '../wfreq/machine';
import { REPO_ROOT, RESULTS_DIR } from '../wfreq/paths';
import { computeReference, verifySummary, type CountSummary } from '../wfreq/reference';
import { CorpusMissingError, debianCorpus, paperCorpus, SET_NAMES, type Corpus, type SetName } from './corpus';
import { PROGRAM_NAMES, type ProgramName } from './programs';
import { writeReport, type PeersRun } from './report';
import type { PeersJob } from './run';

const USAGE = `usage: pnpm bench:peers [-- --quick] [--rounds N] [--sets ${SET_NAMES.join(',')}] [--programs ${PROGRAM_NAMES.join(',')}]
                        [--corpus DIR] [--chunksize 100] [--out DIR] [--run-timeout SECONDS]
  --quick        small sizes (2,000 generated files; every 12th file of the Debian corpus), 1 round, report in results/quick/
  --corpus DIR   count every file under DIR as the real corpus instead of the Debian package's files
                 (default: ${'/usr/share/doc/linux-doc-6.1/html'}, from \`apt-get install linux-doc-6.1\`)`;

interface Options {
  quick: boolean;
  rounds: number;
  sets: SetName[];
  programs: ProgramName[];
  corpus?: string;
  chunksize: number;
  out: string;
  runTimeoutMs: number;
  command: string;
}

function parseOptions(argv: string[]): Options | undefined {
  const args = parseArgs(argv, ['rounds', 'sets', 'programs', 'corpus', 'chunksize', 'out', 'run-timeout']);
  checkKnown(args, ['quick', 'rounds', 'sets', 'programs', 'corpus', 'chunksize', 'out', 'run-timeout', 'help']);
  if (args.flags.has('help')) {
    console.log(USAGE);
    return undefined;
  }
  const quick = args.flags.has('quick');
  const pick = <T extends string>(key: string, known: readonly T[]): T[] => {
    const list = listFlag(args, key) ?? [...known];
    for (const item of list) if (!known.includes(item as T)) throw new Error(`--${key}: unknown '${item}' (known: ${known.join(', ')})`);
    return list as T[];
  };
  return {
    quick,
    rounds: numberFlag(args, 'rounds', (n) => Number.isInteger(n) && n >= 1) ?? (quick ? 1 : 3),
    sets: pick('sets', SET_NAMES),
    programs: pick('programs', PROGRAM_NAMES),
    corpus: stringFlag(args, 'corpus'),
    chunksize: numberFlag(args, 'chunksize', (n) => Number.isInteger(n) && n >= 1) ?? 100,
    out: stringFlag(args, 'out') ?? (quick ? join(RESULTS_DIR, 'quick') : RESULTS_DIR),
    runTimeoutMs: (numberFlag(args, 'run-timeout', (n) => n > 0) ?? 600) * 1000,
    command: `pnpm bench:peers${argv.length ? ` -- ${argv.filter((a) => a !== '--').join(' ')}` : ''}`,
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** One program on one corpus in a process of its own; checks its counts; returns the run. */
async function runOnce(program: ProgramName, corpus: Corpus, reference: CountSummary, filesList: string, round: number, options: Options, scratch: string): Promise<PeersRun> {
  const job: PeersJob = { program, filesList, chunksize: options.chunksize, workers: 2 };
  const jobFile = join(scratch, `job-${corpus.set}-${program}-${round}.json`);
  writeFileSync(jobFile, JSON.stringify(job));
  const started = performance.now();
  const result = await run(process.execPath, [join(__dirname, 'run.js'), jobFile], {
    timeoutMs: options.runTimeoutMs,
    // Loopback only: the local VMs never advertise and nothing listens for mDNS.
    env: { ...process.env, TRICKLE_MDNS: 'off', RIVER_MDNS: 'off' },
  });
  const processSeconds = (performance.now() - started) / 1000;
  const line = parseResult(result.stdout);
  const label = `${program} on ${corpus.set}, round ${round + 1}`;
  if (!line?.ok || line.seconds === undefined || !line.summary) {
    const why = line?.error ?? (result.signal ? `killed (${result.signal}${result.signal === 'SIGKILL' ? `, over --run-timeout ${options.runTimeoutMs / 1000} s` : ''})` : `exit ${result.code}`);
    throw new Error(`${label} failed: ${why}\n${result.stderr.trim().split('\n').slice(-20).join('\n')}`);
  }
  verifySummary(line.summary, reference, label);
  const startup = /^\{"peers":"startup","seconds":([0-9.e+-]+)\}$/m.exec(result.stdout);
  return { set: corpus.set, program, round, seconds: line.seconds, processSeconds, ...(startup ? { startupSeconds: Number(startup[1]) } : {}), summary: line.summary };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) return 0;
  const began = new Date();
  const load = loadavg()[0]!;
  const scratch = mkdtempSync(join(tmpdir(), 'bench-peers-'));
  try {
    const corpora: Corpus[] = [];
    const references = new Map<SetName, CountSummary>();
    for (const set of options.sets) {
      // The real corpus first: a missing package stops the benchmark before anything is timed.
      const corpus = set === 'debian' ? debianCorpus(options.quick, options.corpus) : await paperCorpus(options.quick, (why) => log(`generating the paper-shaped set (${why})`));
      log(`${set}: ${corpus.description}`);
      let reference = corpus.expected;
      if (!reference) {
        log(`${set}: reference count (sequential, untimed)…`);
        reference = computeReference(corpus.files, false);
      }
      references.set(set, { total: reference.total, unique: reference.unique, checksum: reference.checksum });
      writeFileSync(join(scratch, `files-${set}.json`), JSON.stringify(corpus.files));
      corpora.push(corpus);
    }
    const runs: PeersRun[] = [];
    for (let round = 0; round < options.rounds; round++) {
      for (const corpus of corpora) {
        // Interleaved: every program once per round and corpus, the order rotating by round.
        const order = options.programs.map((_, i) => options.programs[(i + round) % options.programs.length]!);
        for (const program of order) {
          log(`round ${round + 1}/${options.rounds}, ${corpus.set}: ${program}…`);
          const r = await runOnce(program, corpus, references.get(corpus.set)!, join(scratch, `files-${corpus.set}.json`), round, options, scratch);
          log(`  ${r.seconds.toFixed(2)} s${r.startupSeconds !== undefined ? ` (connect ${r.startupSeconds.toFixed(2)} s)` : ''} (process ${r.processSeconds.toFixed(2)} s), counts agree`);
          runs.push(r);
        }
      }
    }
    const written = writeReport(options.out, {
      command: options.command,
      date: began.toISOString(),
      finished: new Date().toISOString(),
      commit: commitInfo(),
      machine: machineInfo(),
      loadAverage: { start: Math.round(load * 100) / 100, end: Math.round(loadavg()[0]! * 100) / 100 },
      quick: options.quick,
      rounds: options.rounds,
      chunksize: options.chunksize,
      corpora: corpora.map((c) => ({ set: c.set, description: c.description, files: c.files.length, bytes: c.bytes, reference: references.get(c.set)! })),
      programs: options.programs,
      runs,
    });
    log(`report: ${written.map((f) => relative(REPO_ROOT, f)).join(', ')}`);
    return 0;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof CorpusMissingError) {
        console.error(`bench:peers: ${error.message}`);
        process.exit(2);
      }
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    },
  );
}
