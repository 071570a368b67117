// How to combine the VMs' word-count Maps at the end of forkWork `reduce`: a tree (what
// @trickle/core does) or key-sharded (each VM splits its Map by a hash of the word, VM j merges
// everybody's shard j, the initiator joins the disjoint shards). Development aid, not part of
// `pnpm bench`:
//
//   node dist/wfreq/combine-cost.js [--quick | --data DIR] [--vms 2,4,8] [--share 0.2] [--out FILE]
//
// The VMs' accumulators are built for real (the files split evenly over k VMs, counted with
// the benchmark's wordcount); then every step either strategy takes is run here, one after the
// other, with the real codec (@river/sfm, as River carries VR messages), and its CPU time is
// measured (best of 3, so other load on the host matters less than for wall time). The critical
// path adds, per round, the slowest VM's steps (VMs work in parallel), then what the initiator
// does; divided by the CPU share it is the wall time on simulated machines of that share.
// Transfer time is left out (a Map of 100k words is ~1.5 MB: ~12 ms at 1 Gbit/s).
import { writeFileSync } from 'node:fs';
import { decode, encode } from '@river/sfm';
import { checkKnown, listFlag, numberFlag, parseArgs, stringFlag } from './args';
import { ensureDataset, listTextFiles, QUICK_SPEC } from './data';
import { mergeInto, wordcount } from './wordcount';

type Counts = Map<string, number>;

/** CPU milliseconds of `fn` (best of `runs`), and its result. */
function cpu<T>(fn: () => T, runs = 3): { ms: number; value: T } {
  let best = Infinity;
  let value!: T;
  for (let i = 0; i < runs; i++) {
    const start = process.cpuUsage();
    value = fn();
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  return { ms: best, value };
}

const clone = (m: Counts): Counts => new Map(m);

/** One deposit: the giver encodes, the receiver decodes and folds into its own. */
function depositCost(into: Counts, from: Counts): { ms: number; bytes: number } {
  const enc = cpu(() => encode(from));
  const dec = cpu(() => decode(enc.value) as Counts);
  const fold = cpu(() => mergeInto(clone(into), dec.value));
  const copy = cpu(() => clone(into));
  return { ms: enc.ms + dec.ms + Math.max(0, fold.ms - copy.ms), bytes: enc.value.byteLength };
}

function tree(accs: Counts[]): { ms: number; rounds: number; detail: string[] } {
  let holders = accs.map(clone);
  let ms = 0;
  let rounds = 0;
  const detail: string[] = [];
  while (holders.length > 1) {
    holders.sort((a, b) => b.size - a.size);
    const next: Counts[] = [];
    let slowest = 0;
    const half = Math.floor(holders.length / 2);
    for (let i = 0; i < half; i++) {
      const into = holders[i]!;
      const from = holders[holders.length - 1 - i]!;
      slowest = Math.max(slowest, depositCost(into, from).ms);
      next.push(mergeInto(into, from));
    }
    if (holders.length % 2 === 1) next.push(holders[half]!);
    holders = next;
    ms += slowest;
    rounds++;
    detail.push(`round ${rounds}: ${slowest.toFixed(1)} ms`);
  }
  const root = holders[0]!;
  const enc = cpu(() => encode(root));
  const dec = cpu(() => decode(enc.value));
  detail.push(`last holder encodes ${root.size} words: ${enc.ms.toFixed(1)} ms; initiator decodes: ${dec.ms.toFixed(1)} ms`);
  return { ms: ms + enc.ms + dec.ms, rounds, detail };
}

function shardOf(word: string, n: number): number {
  let h = 0;
  for (let i = 0; i < word.length; i++) h = (Math.imul(h, 31) + word.charCodeAt(i)) | 0;
  return (h >>> 0) % n;
}

function sharded(accs: Counts[]): { ms: number; detail: string[] } {
  const n = accs.length;
  // Step 1 (each VM): split into n shards and encode the n − 1 that go elsewhere.
  let step1 = 0;
  const shards: Counts[][] = [];
  const bytes: Uint8Array[][] = [];
  for (const acc of accs) {
    const split = cpu(() => {
      const parts: Counts[] = Array.from({ length: n }, () => new Map());
      for (const [w, c] of acc) parts[shardOf(w, n)]!.set(w, c);
      return parts;
    });
    const enc = cpu(() => split.value.map((p) => encode(p)));
    shards.push(split.value);
    bytes.push(enc.value);
    step1 = Math.max(step1, split.ms + (enc.ms * (n - 1)) / n);
  }
  // Step 2 (VM j): decode the n − 1 shards j of the others and fold them into its own.
  let step2 = 0;
  const merged: Counts[] = [];
  for (let j = 0; j < n; j++) {
    const others = accs.map((_, i) => i).filter((i) => i !== j);
    const dec = cpu(() => others.map((i) => decode(bytes[i]![j]!) as Counts));
    const fold = cpu(() => {
      const m = clone(shards[j]![j]!);
      for (const d of dec.value) mergeInto(m, d);
      return m;
    });
    const copy = cpu(() => clone(shards[j]![j]!));
    merged.push(fold.value);
    step2 = Math.max(step2, dec.ms + Math.max(0, fold.ms - copy.ms));
  }
  // Step 3: each VM encodes its shard (in parallel); the initiator decodes the n and joins them.
  let step3 = 0;
  const finals: Uint8Array[] = [];
  for (const m of merged) {
    const enc = cpu(() => encode(m));
    finals.push(enc.value);
    step3 = Math.max(step3, enc.ms);
  }
  const join = cpu(() => {
    const result: Counts = new Map();
    for (const b of finals) for (const [w, c] of decode(b) as Counts) result.set(w, c);
    return result;
  });
  return {
    ms: step1 + step2 + step3 + join.ms,
    detail: [`split + encode ${step1.toFixed(1)} ms`, `decode + fold ${step2.toFixed(1)} ms`, `encode ${step3.toFixed(1)} ms`, `initiator decodes and joins ${join.value.size} words: ${join.ms.toFixed(1)} ms`],
  };
}

async function main(argv: string[]): Promise<void> {
  const valued = ['data', 'vms', 'share', 'out'];
  const args = parseArgs(argv, valued);
  checkKnown(args, [...valued, 'quick']);
  const dataDir = stringFlag(args, 'data');
  const files = dataDir ? listTextFiles(dataDir).files : (await ensureDataset(QUICK_SPEC, {})).files;
  const share = numberFlag(args, 'share') ?? 0.2;
  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(line);
    process.stdout.write(`${line}\n`);
  };
  log(`| VMs | words per VM (mean) | words in all | tree: rounds | tree: critical path, CPU ms | key-sharded: critical path, CPU ms | tree at ${share} core (s) | key-sharded at ${share} core (s) |`);
  log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  const notes: string[] = [];
  for (const k of (listFlag(args, 'vms') ?? ['2', '4', '8']).map(Number)) {
    const per = Math.ceil(files.length / k);
    const accs = Array.from({ length: k }, (_, i) => wordcount(files.slice(i * per, (i + 1) * per)));
    const all = new Set(accs.flatMap((m) => [...m.keys()])).size;
    const t = tree(accs);
    const s = sharded(accs);
    const mean = Math.round(accs.reduce((a, m) => a + m.size, 0) / k);
    log(`| ${k} | ${mean} | ${all} | ${t.rounds} | ${t.ms.toFixed(0)} | ${s.ms.toFixed(0)} | ${(t.ms / share / 1000).toFixed(2)} | ${(s.ms / share / 1000).toFixed(2)} |`);
    notes.push(`- ${k} VMs, tree: ${t.detail.join('; ')}`, `- ${k} VMs, key-sharded: ${s.detail.join('; ')}`);
  }
  log('');
  for (const note of notes) log(note);
  const out = stringFlag(args, 'out');
  if (out) writeFileSync(out, `${lines.join('\n')}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
