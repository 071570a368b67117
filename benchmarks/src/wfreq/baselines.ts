// Baselines that need no Trickle, run in the driver's process on all cores without quotas:
// the plain single-process count, and a worker_threads pool (Piscina) with the paper's chunking.
import Piscina from 'piscina';
import { compiledEntry } from './paths';
import { chunk, mergeInto, wordcount } from './wordcount';

export interface TimedCount {
  seconds: number;
  counts: Map<string, number>;
}

/** The plain single-process count (the floor for 1 VM): the paper's wordcount over all files. */
export function plainCount(files: readonly string[]): TimedCount {
  const started = performance.now();
  const counts = wordcount(files);
  return { seconds: (performance.now() - started) / 1000, counts };
}

export interface PiscinaOptions {
  workers?: number;
  chunksize?: number;
}

/**
 * A Piscina pool of `workers` threads (default 2), `chunksize` files per task (default 100);
 * partial counts are merged on the main thread as they come back. The time includes starting
 * the pool, as a Trickle run's includes connecting.
 */
export async function piscinaCount(files: readonly string[], options: PiscinaOptions = {}): Promise<TimedCount> {
  const workers = options.workers ?? 2;
  const started = performance.now();
  const pool = new Piscina<string[], Map<string, number>>({
    filename: compiledEntry('piscina-worker'),
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: 60_000,
  });
  try {
    const counts = new Map<string, number>();
    await Promise.all(chunk(files, options.chunksize ?? 100).map((c) => pool.run(c).then((m) => void mergeInto(counts, m))));
    return { seconds: (performance.now() - started) / 1000, counts };
  } finally {
    await pool.destroy();
  }
}
