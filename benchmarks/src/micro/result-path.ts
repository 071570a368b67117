/**
 * The initiator's result path, measured alone: Example 7's forkWork and mergecounts over real
 * wfreq chunk results, with the VMs replaced by replay links that answer every chunk with the
 * bytes a session writes for that chunk's word-count Map (counted once, up front, from the wfreq
 * data set: 100 files per chunk). What is left is exactly what the initiator does per reply:
 * peek, decode (cbor-x: strings and Map entries), hand over, and the user's merge.
 *
 *   node dist/micro/result-path.js [--quick] [--runs 3] [--vms 2] [--vm-ms 20]
 *        [--cores before=DIR,after=DIR]     # @trickle/core builds (dist folders) to compare, interleaved
 *        [--out results/result-path]       # writes .md and .json
 *
 * Per run (a fresh process per build and run): initiator CPU (all threads) during forkWork and
 * during mergecounts, per result entry; GC pauses (count and total, PerformanceObserver 'gc');
 * peak heap (sampled after every chunk and after the merge). The counts are checked against
 * the data set's reference. Each replay VM answers a chunk `--vm-ms` after it got it (default 20
 * ms: the initiator keeps up; 0: at once, the initiator is the bottleneck and forkWork's `buffer`
 * holds the VMs back while replies wait to be decoded).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { encode } from '@river/sfm';
import { ensureDataset, FULL_SPEC, QUICK_SPEC } from '../wfreq/data';
import { commitInfo } from '../wfreq/machine';
import { RESULTS_DIR } from '../wfreq/paths';
import { summarize, verifySummary, type CountSummary } from '../wfreq/reference';
import { chunk, mergecounts, wordcount } from '../wfreq/wordcount';
import { flag, machineSummary, median, runMain } from './harness';

/** Reply ids are written in the 4-byte form (0x1a) so the replay link can patch them in place. */
const ID_BASE = 0x10000;
/** `{` (map of 3, cbor-x's 3-byte header) `"id": 0x1a` — the id's 4 bytes follow. */
const ID_AT = 7;

interface ChildResult {
  chunks: number;
  entries: number;
  forkWorkCpuMs: number;
  mergeCpuMs: number;
  forkWorkWallMs: number;
  gcCount: number;
  gcMs: number;
  heapPeakMB: number;
  /** Per VM, from a reply's arrival to the next chunk reaching that VM (ms): median, p99, max. */
  handOutMs: { median: number; p99: number; max: number };
  summary: CountSummary;
}

// ---------------------------------------------------------------------------------------------
// The child: one build, one run.

async function child(repliesFile: string, core: string, vmCount: number, vmMs: number): Promise<void> {
  const { createVM, forkWork } = require(core) as typeof import('@trickle/core');
  const { decode } = require('@river/sfm') as typeof import('@river/sfm');
  const all = readFileSync(repliesFile);
  const replies: Buffer[] = [];
  for (let at = 0; at < all.length; ) {
    const n = all.readUInt32BE(at);
    replies.push(all.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  let next = 0;
  const handOut: number[] = [];
  /**
   * A session whose every call is answered, on the next turn, with the next recorded reply. It
   * notes how long after a reply arrived the VM got its next chunk (the hand-out delay).
   */
  class ReplayLink {
    readonly vm: { id: string; name: string };
    private listener: { message(bytes: Uint8Array): void; lost(reason: Error): void } | undefined;
    private arrivedAt: number[] = [];
    constructor(i: number) {
      this.vm = { id: `replay-${i}`, name: `replay-${i}` };
    }
    send(bytes: Uint8Array): void {
      const { id, kind } = decode(bytes) as { id: number; kind: string };
      if (kind !== 'call') return;
      const since = this.arrivedAt.shift();
      if (since !== undefined) handOut.push(performance.now() - since);
      const reply = replies[next++];
      if (!reply) throw new Error('more chunks than recorded replies');
      reply.writeUInt32BE(id, ID_AT);
      const deliver = () => {
        if (next < replies.length) this.arrivedAt.push(performance.now());
        this.listener?.message(reply);
      };
      if (vmMs > 0) setTimeout(deliver, vmMs);
      else setImmediate(deliver);
    }
    listen(listener: { message(bytes: Uint8Array): void; lost(reason: Error): void }): void {
      this.listener = listener;
    }
    async close(): Promise<void> {}
  }
  const vms = Array.from({ length: vmCount }, (_, i) => createVM(new ReplayLink(i)));
  let gcCount = 0;
  let gcMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcCount++;
      gcMs += entry.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  let heapPeak = 0;
  const sampleHeap = () => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed));
  const work = Array.from({ length: replies.length }, (_, i) => i);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const rlist = (await forkWork(vms, 'wordcount', work, { chunksize: 1, onProgress: sampleHeap })) as Map<string, number>[];
  const forkWorkWallMs = performance.now() - t0;
  const c1 = process.cpuUsage();
  const final = mergecounts(rlist);
  const c2 = process.cpuUsage();
  sampleHeap();
  const ms = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => (b.user - a.user + b.system - a.system) / 1000;
  await new Promise((r) => setTimeout(r, 20)); // let the last GC entries arrive
  observer.disconnect();
  const result: ChildResult = {
    chunks: rlist.length,
    entries: rlist.reduce((sum, m) => sum + m.size, 0),
    forkWorkCpuMs: ms(c0, c1),
    mergeCpuMs: ms(c1, c2),
    forkWorkWallMs,
    gcCount,
    gcMs,
    heapPeakMB: heapPeak / 2 ** 20,
    handOutMs: (() => {
      const sorted = [...handOut].sort((a, b) => a - b);
      const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
      return { median: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
    })(),
    summary: summarize(final),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ---------------------------------------------------------------------------------------------
// The driver.

interface Build {
  label: string;
  dir: string;
}

function parseCores(spec: string): Build[] {
  return spec.split(',').map((part) => {
    const eq = part.indexOf('=');
    const label = eq > 0 ? part.slice(0, eq) : 'this tree';
    const dir = resolve(eq > 0 ? part.slice(eq + 1) : part);
    return { label, dir };
  });
}

async function driver(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const runs = Number(flag('--runs', quick ? '1' : '3'));
  const vmCount = Number(flag('--vms', '2'));
  const vmMs = Number(flag('--vm-ms', '20'));
  const here = dirname(require.resolve('@trickle/core'));
  const builds = parseCores(flag('--cores', `this tree=${here}`));
  const out = flag('--out', join(RESULTS_DIR, quick ? 'quick' : '', 'result-path'));
  const ds = await ensureDataset(quick ? QUICK_SPEC : FULL_SPEC, { onGenerate: (why) => process.stderr.write(`generating the wfreq data set (${why})\n`) });
  const scratch = mkdtempSync(join(tmpdir(), 'result-path-'));
  try {
    process.stderr.write(`counting ${ds.files.length} files in chunks of 100 and encoding the replies…\n`);
    const file = join(scratch, 'replies.bin');
    const fd = openSync(file, 'w');
    let index = 0;
    let bytes = 0;
    for (const files of chunk(ds.files, 100)) {
      const reply = encode({ id: ID_BASE + index++, ok: true, value: wordcount(files) });
      const head = Buffer.alloc(4);
      head.writeUInt32BE(reply.byteLength);
      writeSync(fd, head);
      writeSync(fd, reply);
      bytes += reply.byteLength;
    }
    closeSync(fd);
    const rows: Array<ChildResult & { build: string; run: number }> = [];
    for (let run = 0; run < runs; run++) {
      for (const build of run % 2 ? [...builds].reverse() : builds) {
        const r = spawnSync(process.execPath, [__filename, '--child', file, '--core', build.dir, '--vms', String(vmCount)], { encoding: 'utf8', timeout: 600_000 });
        if (r.status !== 0) throw new Error(`${build.label}, run ${run + 1} failed (${r.signal ?? r.status}): ${r.stderr.trim().slice(-2000)}`);
        const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
        verifySummary(result.summary, ds.manifest!.expected, `${build.label}, run ${run + 1}`);
        rows.push({ ...result, build: build.label, run });
        process.stderr.write(`${build.label}, run ${run + 1}: ${JSON.stringify({ ...result, summary: undefined })}\n`);
      }
    }
    const entries = rows[0]!.entries;
    const per = (ms: number) => (ms * 1e6) / entries;
    const summaryRows = builds.map((b) => {
      const mine = rows.filter((r) => r.build === b.label);
      const pick = (f: (r: ChildResult) => number) => median(mine.map(f));
      return {
        build: b.label,
        dir: b.dir,
        forkWorkNsPerEntry: per(pick((r) => r.forkWorkCpuMs)),
        mergeNsPerEntry: per(pick((r) => r.mergeCpuMs)),
        totalNsPerEntry: per(pick((r) => r.forkWorkCpuMs + r.mergeCpuMs)),
        gcMs: pick((r) => r.gcMs),
        gcCount: pick((r) => r.gcCount),
        heapPeakMB: pick((r) => r.heapPeakMB),
        handOutMedianMs: pick((r) => r.handOutMs.median),
        handOutP99Ms: pick((r) => r.handOutMs.p99),
      };
    });
    const command = `node benchmarks/dist/micro/result-path.js ${process.argv.slice(2).join(' ')}`.trim();
    const machine = machineSummary();
    const md = [
      '# Initiator result path: CPU per result entry',
      '',
      "Example 7's initiator alone: `forkWork(vms, wordcount, chunks)` over replay links that answer every chunk with the bytes a session writes for that chunk's word-count Map, then `mergecounts(rlist)`. Each build in a fresh process per run, interleaved; medians over the runs. CPU is the whole process (all threads).",
      '',
      `- Data: ${ds.manifest!.files} files of the wfreq ${quick ? 'quick' : 'full'} set, ${rows[0]!.chunks} chunks of 100 files, ${entries.toLocaleString('en')} result entries, ${(bytes / 1e6).toFixed(1)} MB of replies; ${vmCount} replay VMs, each answering a chunk ${vmMs} ms after it got it; ${runs} run${runs === 1 ? '' : 's'} per build.`,
      `- Command: \`${command}\``,
      `- Date: ${new Date().toISOString()}, commit ${commitInfo().commit.slice(0, 12)}${commitInfo().dirty ? ' (with uncommitted changes)' : ''}`,
      `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}; load average at the end ${machine.loadavgAtEnd.join(' / ')}${machine.loadavgAtEnd[0]! > 1 ? ' — the machine was shared with other work: CPU times carry that noise (cache and memory contention)' : ''}`,
      '',
      '| build | forkWork (peek, decode, hand over): ns per entry | mergecounts: ns per entry | total: ns per entry | GC pauses | peak heap | reply arrived → next chunk out: median / p99 |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...summaryRows.map((s) => `| ${s.build} | ${s.forkWorkNsPerEntry.toFixed(0)} | ${s.mergeNsPerEntry.toFixed(0)} | ${s.totalNsPerEntry.toFixed(0)} | ${s.gcCount} in ${s.gcMs.toFixed(0)} ms | ${s.heapPeakMB.toFixed(0)} MiB | ${s.handOutMedianMs.toFixed(2)} / ${s.handOutP99Ms.toFixed(2)} ms |`),
      '',
      '| build | run | forkWork CPU ms | merge CPU ms | forkWork wall ms | GC | peak heap | hand-out delay median / p99 / max |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map((r) => `| ${r.build} | ${r.run + 1} | ${r.forkWorkCpuMs.toFixed(0)} | ${r.mergeCpuMs.toFixed(0)} | ${r.forkWorkWallMs.toFixed(0)} | ${r.gcCount} in ${r.gcMs.toFixed(0)} ms | ${r.heapPeakMB.toFixed(0)} MiB | ${r.handOutMs.median.toFixed(2)} / ${r.handOutMs.p99.toFixed(2)} / ${r.handOutMs.max.toFixed(2)} ms |`),
      '',
    ].join('\n');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(`${out}.md`, md);
    writeFileSync(`${out}.json`, `${JSON.stringify({ command, date: new Date().toISOString(), commit: commitInfo(), machine, entries, chunks: rows[0]!.chunks, replyBytes: bytes, vms: vmCount, vmMs, summary: summaryRows, runs: rows }, null, 2)}\n`);
    process.stderr.write(`wrote ${out}.md and .json\n`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (require.main === module) {
  if (process.argv.includes('--child')) {
    runMain(() => child(flag('--child', ''), flag('--core', ''), Number(flag('--vms', '2')), Number(flag('--vm-ms', '20'))));
  } else {
    runMain(driver);
  }
}
