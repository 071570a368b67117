// The bench:peers report: results/peers.md (tables, aims, every run, setup) and peers.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeMachine, median, type CommitInfo, type MachineInfo } from '../wfreq/machine';
import type { CountSummary } from '../wfreq/reference';
import type { SetName } from './corpus';
import { PROGRAM_LABELS, type ProgramName } from './programs';

export interface PeersRun {
  set: SetName;
  program: ProgramName;
  round: number;
  /** Timed inside the program's process: from before it starts its pool or VMs to the merged counts. */
  seconds: number;
  /** The whole process, as the driver saw it (start-up, summary and exit included). */
  processSeconds: number;
  /** Trickle: how long `connect` took (starting the local VMs), part of `seconds`. */
  startupSeconds?: number;
  summary: CountSummary;
}

export interface PeersResults {
  command: string;
  date: string;
  finished: string;
  commit: CommitInfo;
  machine: MachineInfo;
  /** 1-minute load average when the benchmark started and ended (the machine may be shared). */
  loadAverage: { start: number; end: number };
  quick: boolean;
  rounds: number;
  chunksize: number;
  corpora: Array<{ set: SetName; description: string; files: number; bytes: number; reference: CountSummary }>;
  programs: ProgramName[];
  runs: PeersRun[];
}

/** The aims of issue 10 for 2 local VMs against the Piscina pool of 2 in the same run. */
const AIMS: Array<{ program: ProgramName; set: SetName; max: number }> = [
  { program: 'trickle-paper', set: 'paper', max: 1.15 },
  { program: 'trickle-paper', set: 'debian', max: 1.15 },
  { program: 'trickle-reduce', set: 'paper', max: 0.95 },
  { program: 'trickle-reduce', set: 'debian', max: 1.0 },
];

const SET_TITLES: Record<SetName, string> = { paper: 'paper-shaped set', debian: 'real corpus (Debian)' };

function medianOf(results: PeersResults, set: SetName, program: ProgramName, key: 'seconds' | 'processSeconds' = 'seconds'): number {
  return median(results.runs.filter((r) => r.set === set && r.program === program).map((r) => r[key]));
}

export function renderMarkdown(results: PeersResults): string {
  const sets = results.corpora.map((c) => c.set);
  const out: string[] = [];
  out.push(`# bench:peers${results.quick ? ' (quick)' : ''}: Trickle beside the tools users would pick instead`);
  out.push('');
  out.push(`\`${results.command}\` — ${results.date}, commit ${results.commit.commit.slice(0, 12)}${results.commit.dirty ? ' (with uncommitted changes)' : ''}.`);
  out.push('');
  out.push(
    `The same word count — \`benchmarks/src/wfreq/wordcount.ts\`'s tokenizer (\`text.split(/\\s+/)\`, empty tokens ignored), ${results.chunksize} files per task or chunk — ` +
      `by each program, every run in a process of its own, interleaved: ${results.rounds} round${results.rounds === 1 ? '' : 's'}, in each round every program once per corpus, ` +
      'the order rotating from round to round. Every run\'s counts (total, distinct words, checksum over all word→count pairs) agreed with the reference. ' +
      'Times are median wall seconds measured inside the program\'s process, from before it starts its pool or VMs to the final merged counts.',
  );
  out.push('');
  out.push('| program | ' + sets.map((s) => SET_TITLES[s]).join(' | ') + ' |');
  out.push('|---|' + sets.map(() => '---:').join('|') + '|');
  for (const program of results.programs) {
    const cells = sets.map((set) => {
      const t = medianOf(results, set, program);
      const piscina = medianOf(results, set, 'piscina');
      const ratio = program !== 'piscina' && Number.isFinite(piscina) ? ` (${(t / piscina).toFixed(2)}×)` : '';
      return Number.isFinite(t) ? `${t.toFixed(2)}${ratio}` : '—';
    });
    out.push(`| ${PROGRAM_LABELS[program]} | ${cells.join(' | ')} |`);
  }
  out.push('');
  out.push('(×: against the Piscina pool in the same run.)');
  out.push('');
  const connects = results.runs.filter((r) => r.startupSeconds !== undefined).map((r) => r.startupSeconds!);
  if (connects.length > 0) {
    out.push(`Trickle's times include \`connect({ local: 2 })\`, which starts the two VM processes: median ${median(connects).toFixed(2)} s (${Math.min(...connects).toFixed(2)}–${Math.max(...connects).toFixed(2)} s over its runs).${results.quick ? ' At quick sizes that start-up dominates, so these ratios say little about the aims, which are judged at the defaults.' : ''}`);
    out.push('');
  }
  out.push('**Aims** (issue 10; figures, not test assertions):');
  out.push('');
  for (const aim of AIMS) {
    if (!sets.includes(aim.set) || !results.programs.includes(aim.program) || !results.programs.includes('piscina')) continue;
    const ratio = medianOf(results, aim.set, aim.program) / medianOf(results, aim.set, 'piscina');
    out.push(`- ${PROGRAM_LABELS[aim.program]} on the ${SET_TITLES[aim.set]}: ≤ ${aim.max.toFixed(2)}× Piscina — ${ratio.toFixed(2)}×, ${ratio <= aim.max ? 'met' : 'missed'}.`);
  }
  out.push('');
  out.push('## Corpora');
  out.push('');
  for (const c of results.corpora) {
    out.push(`- **${SET_TITLES[c.set]}**: ${c.description}. Reference: ${c.reference.total} tokens, ${c.reference.unique} distinct, checksum ${c.reference.checksum}.`);
  }
  out.push('');
  out.push('## Every run');
  out.push('');
  out.push('| round | corpus | program | seconds | of which connect | whole process |');
  out.push('|---:|---|---|---:|---:|---:|');
  for (const r of results.runs) out.push(`| ${r.round + 1} | ${r.set} | ${r.program} | ${r.seconds.toFixed(2)} | ${r.startupSeconds === undefined ? '' : r.startupSeconds.toFixed(2)} | ${r.processSeconds.toFixed(2)} |`);
  out.push('');
  out.push('## Setup');
  out.push('');
  out.push(`- Machine: ${describeMachine(results.machine)}. 1-minute load average ${results.loadAverage.start} at the start, ${results.loadAverage.end} at the end${results.loadAverage.start > 1 || results.loadAverage.end > 1 ? ' — the machine was shared with other work during this run, so absolute times and ratios carry that noise' : ''}.`);
  out.push('- node, one process: `wordcount(files)` of wordcount.ts in the process itself.');
  out.push('- Piscina: `piscinaCount` of `wfreq/baselines.ts` — a pool of 2 threads (started inside the timed part), one task per chunk, each partial count merged on the main thread as it arrives.');
  out.push('- Trickle: `connect({ local: 2, mdns: false })` (two `trickle vm` processes on 127.0.0.1, started inside the timed part), `inject` the tokenizer and `wordcount`, `forkWork(vms, wordcount, files, { chunksize })`, then `mergecounts(rlist)` — Example 7 as written; with `reduce`: `forkWork(vms, wordcount, files, { chunksize, reduce: mergeInto })` (`mergeInto` of wordcount.ts), one Map back.');
  out.push('');
  return out.join('\n');
}

/** Writes peers.md and peers.json into `dir`; returns their paths. */
export function writeReport(dir: string, results: PeersResults): string[] {
  mkdirSync(dir, { recursive: true });
  const md = join(dir, 'peers.md');
  const json = join(dir, 'peers.json');
  writeFileSync(md, renderMarkdown(results));
  const medians = results.corpora.flatMap((c) => results.programs.map((program) => ({ set: c.set, program, seconds: medianOf(results, c.set, program), ratioToPiscina: medianOf(results, c.set, program) / medianOf(results, c.set, 'piscina') })));
  writeFileSync(json, `${JSON.stringify({ ...results, medians }, null, 2)}\n`);
  return [md, json];
}
