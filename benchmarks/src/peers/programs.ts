// The programs bench:peers compares. Each runs in a process of its own (run.ts) and is timed
// there from before it starts its workers (pool, VMs) to the final merged counts.
import { connect, disconnect, forkWork, inject } from '@trickle/core';
import { piscinaCount } from '../wfreq/baselines';
import * as tokenizer from '../wfreq/wordcount';

export type ProgramName = 'node' | 'piscina' | 'trickle-paper' | 'trickle-reduce';
export const PROGRAM_NAMES: readonly ProgramName[] = ['node', 'piscina', 'trickle-paper', 'trickle-reduce'];

export const PROGRAM_LABELS: Record<ProgramName, string> = {
  node: 'node, one process',
  piscina: 'Piscina pool of 2 worker threads, merging as results arrive',
  'trickle-paper': 'Trickle, 2 local VMs, Example 7 as written (forkWork, then mergecounts)',
  'trickle-reduce': 'Trickle, 2 local VMs, Example 7 with `reduce` (the VMs fold, the initiator takes one Map)',
};

export interface ProgramOptions {
  /** Files per task or chunk (the paper's 100). */
  chunksize: number;
  /** Workers: pool threads or local VMs (2). */
  workers: number;
}

// On the VMs `countText` is wordcount.ts's own tokenizer, injected beside `wordcount` below (a
// declared global, so the compiled call is `countText(…)` and not a reference to this module).
declare const countText: typeof tokenizer.countText;

/** Runs on the VMs: the paper's wordcount over one chunk, with wordcount.ts's tokenizer. */
function wordcount(files: string[]): Map<string, number> {
  const fs = require('node:fs') as typeof import('node:fs');
  const m = new Map<string, number>();
  for (const filename of files) countText(fs.readFileSync(filename, 'utf8'), m);
  return m;
}

/**
 * Example 7 on `workers` local VMs (loopback only, mDNS off): as written (`forkWork`, then
 * `mergecounts` here), or with one `reduce` option (wordcount.ts's `mergeInto` folds on the VMs).
 */
async function trickleExample7(files: string[], options: ProgramOptions, reduce: boolean, started: (seconds: number) => void): Promise<Map<string, number>> {
  const n = options.workers;
  const t0 = performance.now();
  const vms = await connect({ local: n, min: n, max: n, mdns: false, peers: [] });
  started((performance.now() - t0) / 1000);
  try {
    await inject(vms, { countText: tokenizer.countText, wordcount });
    if (reduce) return (await forkWork(vms, wordcount, files, { chunksize: options.chunksize, reduce: tokenizer.mergeInto })) ?? new Map();
    const rlist = await forkWork(vms, wordcount, files, { chunksize: options.chunksize });
    return tokenizer.mergecounts(rlist);
  } finally {
    await disconnect(vms);
  }
}

/**
 * Runs one program over `files`; resolves with the merged counts. `started` is told how long the
 * program took to get its workers (Trickle: `connect`, which starts the local VMs).
 */
export async function runProgram(program: ProgramName, files: string[], options: ProgramOptions, started: (seconds: number) => void = () => undefined): Promise<Map<string, number>> {
  switch (program) {
    case 'node':
      return tokenizer.wordcount(files);
    case 'piscina':
      return (await piscinaCount(files, { workers: options.workers, chunksize: options.chunksize })).counts;
    case 'trickle-paper':
      return trickleExample7(files, options, false, started);
    case 'trickle-reduce':
      return trickleExample7(files, options, true, started);
    default:
      throw new RangeError(`unknown program '${String(program)}' (known: ${PROGRAM_NAMES.join(', ')})`);
  }
}
