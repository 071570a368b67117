// The wfreq report: wfreq.md (the paper's Table 1 beside ours), wfreq.json, and a hand-written
// SVG chart of speedup against VM count (ideal, paper, ours).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeMachine, median, type CommitInfo, type MachineInfo } from './machine';
import type { Variant } from './variants';

/** Table 1 of the paper: wfreq on 63,362 files (285 MB), chunk size 100. */
export const PAPER_TABLE: { vms: readonly number[]; seconds: readonly number[] } = {
  vms: [1, 2, 4, 8],
  seconds: [72.3, 43.5, 25.8, 19.3],
};

export interface VariantRun {
  variant: Variant;
  vms: number;
  /** Wall time of each run, seconds. */
  seconds: number[];
}

export interface BaselineResult {
  label: string;
  description: string;
  /** Each run, seconds (empty when skipped). */
  runs: number[];
  /** Set when the baseline could not run here, saying why. */
  skipped?: string;
}

export type Baselines = Record<string, BaselineResult>;

export interface ClusterSummary {
  kind: string;
  share?: number;
  quotas: boolean;
  text: string;
  fallbackReason?: string;
  [key: string]: unknown;
}

export interface ReportInput {
  runs: VariantRun[];
  baselines: Baselines;
  machine: MachineInfo;
  commit: CommitInfo;
  date: string;
  command: string;
  cluster: ClusterSummary;
  data: { source: 'generated' | 'directory'; dir: string; files: number; bytes: number; seed?: string; checksum?: string };
  reference: { total: number; unique: number; checksum: string; seconds: number };
  chunksize: number;
  runsPerPoint: number;
  quick: boolean;
  /** Things the driver wants said (fallbacks, skipped parts). */
  notes: string[];
  /** Hand-written findings (Markdown), e.g. from results/wfreq-findings.md. */
  findings?: string;
  elapsedSeconds?: number;
}

export interface ResultRow {
  variant: Variant;
  vms: number;
  /** Median of the runs, seconds. */
  seconds: number;
  /** Against the same variant on 1 VM (null without a 1-VM result). */
  speedup: number | null;
  efficiency: number | null;
  runs: number[];
}

export interface Aim {
  aim: string;
  target: string;
  value: string;
  met: boolean | null;
}

export interface ReportFiles {
  md: string;
  json: string;
  svg: string;
}

const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

export function computeResults(runs: readonly VariantRun[]): ResultRow[] {
  const byKey = new Map<string, { variant: Variant; vms: number; seconds: number[] }>();
  for (const run of runs) {
    const key = `${run.variant}/${run.vms}`;
    const entry = byKey.get(key) ?? { variant: run.variant, vms: run.vms, seconds: [] };
    entry.seconds.push(...run.seconds);
    byKey.set(key, entry);
  }
  const rows = [...byKey.values()]
    .filter((e) => e.seconds.length > 0)
    .map((e) => ({ variant: e.variant, vms: e.vms, seconds: median(e.seconds), runs: e.seconds.map(r3) }));
  rows.sort((a, b) => (a.variant === b.variant ? a.vms - b.vms : a.variant === 'paper' ? -1 : 1));
  return rows.map((row) => {
    const one = rows.find((r) => r.variant === row.variant && r.vms === 1);
    const speedup = one ? one.seconds / row.seconds : null;
    return {
      variant: row.variant,
      vms: row.vms,
      seconds: r3(row.seconds),
      speedup: speedup === null ? null : r2(speedup),
      efficiency: speedup === null ? null : r3(speedup / row.vms),
      runs: row.runs,
    };
  });
}

export function baselineMedian(b: BaselineResult | undefined): number | null {
  return b && !b.skipped && b.runs.length ? median(b.runs) : null;
}

export function computeAims(results: readonly ResultRow[], baselines: Baselines): Aim[] {
  const at = (variant: Variant, vms: number) => results.find((r) => r.variant === variant && r.vms === vms);
  const aims: Aim[] = [];
  for (const [variant, target] of [
    ['paper', 3.75],
    ['reduce', 7.0],
  ] as const) {
    const r = at(variant, 8);
    aims.push({
      aim: `speedup of \`${variant}\` on 8 VMs`,
      target: `≥ ${target.toFixed(2)} (paper: 3.75)`,
      value: r?.speedup != null ? r.speedup.toFixed(2) : 'not measured',
      met: r?.speedup != null ? r.speedup >= target : null,
    });
  }
  const share = baselineMedian(baselines.plainShare);
  for (const variant of ['paper', 'reduce'] as const) {
    const r = at(variant, 1);
    const ok = r && share !== null;
    aims.push({
      aim: `\`${variant}\` on 1 VM vs the plain count on the same CPU share`,
      target: 'within 10%',
      value: ok ? `${r.seconds.toFixed(2)} s vs ${share.toFixed(2)} s (${fmtPct(r.seconds / share - 1)})` : 'not measured',
      met: ok ? r.seconds <= share * 1.1 : null,
    });
  }
  const piscina = baselineMedian(baselines.piscina2);
  for (const [key, variant, ratio] of [
    ['trickleLocal2Paper', 'paper', 1.15],
    ['trickleLocal2Reduce', 'reduce', 0.95],
  ] as const) {
    const t = baselineMedian(baselines[key]);
    const ok = t !== null && piscina !== null;
    aims.push({
      aim: `Trickle (\`${variant}\`) with 2 local VMs vs Piscina with 2 workers`,
      target: `≤ ${ratio.toFixed(2)}× its time`,
      value: ok ? `${t.toFixed(2)} s vs ${piscina.toFixed(2)} s (${fmtPct(t / piscina - 1)})` : 'not measured',
      met: ok ? t <= piscina * ratio : null,
    });
  }
  return aims;
}

function fmtPct(x: number): string {
  return `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}%`;
}

const fmtS = (x: number | null | undefined) => (x == null ? '—' : x.toFixed(1));
const fmtX = (x: number | null | undefined) => (x == null ? '—' : x.toFixed(2));
const fmtE = (x: number | null | undefined) => (x == null ? '—' : `${Math.round(x * 100)}%`);

function paperRows(): { vms: number; seconds: number; speedup: number; efficiency: number }[] {
  return PAPER_TABLE.vms.map((vms, i) => {
    const seconds = PAPER_TABLE.seconds[i]!;
    const speedup = PAPER_TABLE.seconds[0]! / seconds;
    return { vms, seconds, speedup, efficiency: speedup / vms };
  });
}

// ---------------------------------------------------------------------------------------------
// Markdown

export function renderMarkdown(input: ReportInput, results: readonly ResultRow[], aims: readonly Aim[]): string {
  const paper = paperRows();
  const variants = [...new Set(results.map((r) => r.variant))];
  const columns = [...new Set([...PAPER_TABLE.vms, ...results.map((r) => r.vms)])].sort((a, b) => a - b);
  const cell = <T,>(rows: readonly T[], get: (row: T) => number, vms: number, value: (row: T) => string) => {
    const row = rows.find((r) => get(r) === vms);
    return row ? value(row) : '—';
  };
  const table: string[] = [
    `| | VMs | ${columns.join(' | ')} |`,
    `|---|---|${columns.map(() => '---:').join('|')}|`,
    `| **Paper** (Python, 8 × dual Opteron 270, Gigabit Ethernet) | Time (sec) | ${columns.map((v) => cell(paper, (r) => r.vms, v, (r) => fmtS(r.seconds))).join(' | ')} |`,
    `| | Speedup | ${columns.map((v) => cell(paper, (r) => r.vms, v, (r) => fmtX(r.speedup))).join(' | ')} |`,
    `| | Efficiency | ${columns.map((v) => cell(paper, (r) => r.vms, v, (r) => fmtE(r.efficiency))).join(' | ')} |`,
  ];
  for (const variant of variants) {
    const rows = results.filter((r) => r.variant === variant);
    table.push(
      `| **Ours, \`${variant}\`** | Time (sec) | ${columns.map((v) => cell(rows, (r) => r.vms, v, (r) => r.seconds.toFixed(2))).join(' | ')} |`,
      `| | Speedup | ${columns.map((v) => cell(rows, (r) => r.vms, v, (r) => fmtX(r.speedup))).join(' | ')} |`,
      `| | Efficiency | ${columns.map((v) => cell(rows, (r) => r.vms, v, (r) => fmtE(r.efficiency))).join(' | ')} |`,
    );
  }

  const d = input.data;
  const lines: string[] = [
    '# wfreq: the paper\'s Table 1 on a simulated cluster',
    '',
  ];
  if (input.quick) lines.push('> **Quick run** (small data set): for checking the pipeline, not for comparing with the paper.', '');
  if (input.cluster.kind !== 'netns' || !input.cluster.quotas) {
    lines.push(`> **${input.cluster.text}**`, '');
  }
  lines.push(
    `Example 7 of the paper (wfreq) counts the words of ${d.files.toLocaleString('en-US')} files; Table 1 gives its time on`,
    '1, 2, 4 and 8 machines. Here each machine is simulated (see Setup), and every run\'s counts are checked against a',
    'sequential reference count — total tokens, unique tokens and a checksum over all word→count pairs; a mismatch fails',
    'the benchmark.',
    '',
    '## Table 1, beside ours',
    '',
    ...table,
    '',
    `Times are medians of ${input.runsPerPoint} run${input.runsPerPoint === 1 ? '' : 's'}; speedup is against the same variant on 1 VM, efficiency is speedup ÷ VMs.`,
    '',
    '![Speedup against VM count](wfreq-speedup.svg)',
    '',
  );
  if (results.length === 0) lines.push('_No Trickle runs in this report (baselines only)._', '');
  else {
    lines.push('### Every run', '', '| variant | VMs | runs (s) | median (s) |', '|---|---:|---|---:|');
    for (const r of results) lines.push(`| \`${r.variant}\` | ${r.vms} | ${r.runs.map((x) => x.toFixed(2)).join(', ')} | ${r.seconds.toFixed(2)} |`);
    lines.push('');
  }

  lines.push('## Baselines', '', '| baseline | how | runs (s) | median (s) |', '|---|---|---|---:|');
  for (const b of Object.values(input.baselines)) {
    const m = baselineMedian(b);
    lines.push(`| ${b.label} | ${b.description} | ${b.skipped ? `skipped: ${b.skipped}` : b.runs.map((x) => x.toFixed(2)).join(', ')} | ${m === null ? '—' : m.toFixed(2)} |`);
  }
  lines.push('');

  lines.push('## Aims', '', '| aim | target | ours | |', '|---|---|---|---|');
  for (const a of aims) lines.push(`| ${a.aim} | ${a.target} | ${a.value} | ${a.met === null ? '—' : a.met ? 'met' : '**missed**'} |`);
  lines.push('');

  lines.push(
    '## Setup',
    '',
    `- Date: ${input.date}${input.elapsedSeconds !== undefined ? ` (the whole benchmark took ${Math.round(input.elapsedSeconds)} s)` : ''}`,
    `- Commit: \`${input.commit.commit}\`${input.commit.dirty ? ' (work tree had uncommitted changes)' : ''}`,
    `- Command: \`${input.command}\``,
    `- Machine: ${describeMachine(input.machine)}; 1-min load average at the start ${input.machine.loadAverage}`,
    `- Data: ${d.files.toLocaleString('en-US')} files, ${(d.bytes / 1e6).toFixed(1)} MB (mean ${(d.bytes / d.files / 1000).toFixed(2)} KB per file)` +
      (d.source === 'generated'
        ? `, generated from seed \`${d.seed}\` (words: an-array-of-english-words, Zipf–Mandelbrot ranks; ${d.checksum})`
        : `, from \`${d.dir}\``),
    `- Reference count (sequential, one process, no quota): ${input.reference.total.toLocaleString('en-US')} tokens, ` +
      `${input.reference.unique.toLocaleString('en-US')} unique, checksum \`${input.reference.checksum}\`, ${input.reference.seconds.toFixed(2)} s`,
    `- Cluster: ${input.cluster.text}`,
    `- CPU shares: ${input.cluster.quotas && input.cluster.share !== undefined ? `${input.cluster.share} core per VM and ${input.cluster.share} core for the initiator (it ran on one of the machines in the paper); baselines run on all cores without quotas` : 'none (no quotas: all processes share the host\'s cores)'}`,
    `- Chunk size: ${input.chunksize} files (the paper's)`,
    '',
  );

  lines.push('## Findings', '');
  const auto: string[] = [...input.notes];
  const missed = aims.filter((a) => a.met === false);
  if (aims.some((a) => a.met !== null)) {
    auto.push(missed.length === 0 ? 'Every aim that was measured is met.' : `Missed: ${missed.map((a) => `${a.aim} (${a.value}; target ${a.target})`).join('; ')}.`);
  }
  const eight = results.filter((r) => r.vms === 8 && r.speedup != null);
  for (const r of eight) auto.push(`\`${r.variant}\` reaches a speedup of ${r.speedup!.toFixed(2)} on 8 VMs (efficiency ${fmtE(r.efficiency)}); the paper reached 3.75 (47%).`);
  for (const n of auto) lines.push(`- ${n}`);
  lines.push('');
  if (input.findings?.trim()) lines.push(input.findings.trim(), '');
  else lines.push('_No profiling notes yet: write them in `benchmarks/results/wfreq-findings.md`; the next run includes them here._', '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// SVG

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function renderSvg(results: readonly ResultRow[], title = 'wfreq speedup against VM count'): string {
  const W = 640;
  const H = 440;
  const L = 64;
  const R = 24;
  const T = 48;
  const B = 56;
  const series: { name: string; color: string; dash?: string; points: [number, number][] }[] = [];
  const paper = paperRows();
  series.push({ name: 'paper (Table 1)', color: '#7f7f7f', points: paper.map((p) => [p.vms, p.speedup]) });
  const colors: Record<string, string> = { paper: '#1f77b4', reduce: '#d95f02' };
  for (const variant of [...new Set(results.map((r) => r.variant))]) {
    const pts = results.filter((r) => r.variant === variant && r.speedup != null).map((r) => [r.vms, r.speedup!] as [number, number]);
    if (pts.length) series.push({ name: `ours, ${variant}`, color: colors[variant] ?? '#2ca02c', points: pts });
  }
  const maxX = Math.max(8, ...series.flatMap((s) => s.points.map((p) => p[0])));
  const maxY = Math.ceil(Math.max(maxX, ...series.flatMap((s) => s.points.map((p) => p[1]))));
  const x = (v: number) => L + (v / maxX) * (W - L - R);
  const y = (v: number) => H - B - (v / maxY) * (H - T - B);
  const f = (n: number) => n.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  const xTicks = [...new Set([0, 1, 2, 4, 8, ...series.flatMap((s) => s.points.map((p) => p[0]))])].filter((v) => v <= maxX).sort((a, b) => a - b);
  const yStep = maxY <= 10 ? 1 : Math.ceil(maxY / 10);
  for (let v = 0; v <= maxY; v += yStep) {
    out.push(`<line class="grid" x1="${f(L)}" y1="${f(y(v))}" x2="${f(W - R)}" y2="${f(y(v))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${f(L - 8)}" y="${f(y(v) + 4)}" text-anchor="end">${v}</text>`);
  }
  for (const v of xTicks) {
    out.push(`<line class="grid" x1="${f(x(v))}" y1="${f(T)}" x2="${f(x(v))}" y2="${f(H - B)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${f(x(v))}" y="${f(H - B + 18)}" text-anchor="middle">${v}</text>`);
  }
  out.push(
    `<line class="axis" x1="${f(L)}" y1="${f(H - B)}" x2="${f(W - R)}" y2="${f(H - B)}" stroke="#000"/>`,
    `<line class="axis" x1="${f(L)}" y1="${f(T)}" x2="${f(L)}" y2="${f(H - B)}" stroke="#000"/>`,
    `<text x="${f((L + W - R) / 2)}" y="${H - 14}" text-anchor="middle">VMs</text>`,
    `<text x="18" y="${f((T + H - B) / 2)}" text-anchor="middle" transform="rotate(-90 18 ${f((T + H - B) / 2)})">speedup (vs 1 VM)</text>`,
    `<line class="ideal" x1="${f(x(1))}" y1="${f(y(1))}" x2="${f(x(Math.min(maxX, maxY)))}" y2="${f(y(Math.min(maxX, maxY)))}" stroke="#2ca02c" stroke-width="1.5" stroke-dasharray="6 4"/>`,
  );
  for (const s of series) {
    out.push(
      `<polyline class="series" data-name="${esc(s.name)}" fill="none" stroke="${s.color}" stroke-width="2" points="${s.points.map((p) => `${f(x(p[0]))},${f(y(p[1]))}`).join(' ')}"/>`,
    );
    for (const p of s.points) {
      out.push(`<circle cx="${f(x(p[0]))}" cy="${f(y(p[1]))}" r="4" fill="${s.color}"><title>${esc(`${s.name}: ${p[0]} VMs, speedup ${p[1].toFixed(2)}`)}</title></circle>`);
    }
  }
  // Legend
  const legend: { name: string; color: string; dash?: string }[] = [{ name: 'ideal (linear)', color: '#2ca02c', dash: '6 4' }, ...series];
  out.push(`<rect class="legend-box" x="${L + 4}" y="${T}" width="150" height="${legend.length * 18 + 4}" fill="#ffffff" fill-opacity="0.85" stroke="#cccccc"/>`);
  legend.forEach((s, i) => {
    const ly = T + 10 + i * 18;
    out.push(
      `<line x1="${L + 12}" y1="${ly}" x2="${L + 36}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      `<text class="legend" x="${L + 42}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>', '');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// JSON and files

export function renderJson(input: ReportInput, results: readonly ResultRow[], aims: readonly Aim[]) {
  const baselines: Record<string, { label: string; description: string; seconds: number | null; runs: number[]; skipped?: string }> = {};
  for (const [key, b] of Object.entries(input.baselines)) {
    const m = baselineMedian(b);
    baselines[key] = { label: b.label, description: b.description, seconds: m === null ? null : r3(m), runs: b.runs.map(r3), ...(b.skipped ? { skipped: b.skipped } : {}) };
  }
  return {
    benchmark: 'wfreq',
    quick: input.quick,
    date: input.date,
    commit: input.commit.commit,
    dirty: input.commit.dirty,
    command: input.command,
    machine: input.machine,
    cluster: input.cluster,
    data: input.data,
    reference: input.reference,
    chunksize: input.chunksize,
    runsPerPoint: input.runsPerPoint,
    paper: paperRows().map((p) => ({ vms: p.vms, seconds: p.seconds, speedup: r2(p.speedup), efficiency: r3(p.efficiency) })),
    results,
    baselines,
    aims,
    notes: input.notes,
    ...(input.elapsedSeconds !== undefined ? { elapsedSeconds: Math.round(input.elapsedSeconds) } : {}),
  };
}

/** Writes wfreq.md, wfreq.json and wfreq-speedup.svg into `outDir`. */
export function writeReport(input: ReportInput, outDir: string): ReportFiles & { results: ResultRow[]; aims: Aim[] } {
  mkdirSync(outDir, { recursive: true });
  const results = computeResults(input.runs);
  const aims = computeAims(results, input.baselines);
  const files = { md: join(outDir, 'wfreq.md'), json: join(outDir, 'wfreq.json'), svg: join(outDir, 'wfreq-speedup.svg') };
  writeFileSync(files.svg, renderSvg(results));
  writeFileSync(files.json, `${JSON.stringify(renderJson(input, results, aims), null, 2)}\n`);
  writeFileSync(files.md, renderMarkdown(input, results, aims));
  return { ...files, results, aims };
}
