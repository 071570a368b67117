// Where things are: the benchmarks package root, the data cache, results, and the compiled
// entry points that run as separate processes (they must be JavaScript even when this module is
// loaded from TypeScript sources by ts-jest).
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** benchmarks/ (works from src/wfreq, dist/wfreq and their cluster/ subfolders). */
export const BENCHMARKS_ROOT = (() => {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && basename(dir) === 'benchmarks') return dir;
    dir = dirname(dir);
  }
  return resolve(__dirname, '..', '..');
})();

export const REPO_ROOT = resolve(BENCHMARKS_ROOT, '..');
export const DATA_ROOT = join(BENCHMARKS_ROOT, 'data');
export const RESULTS_DIR = join(BENCHMARKS_ROOT, 'results');
export const DIST_WFREQ = join(BENCHMARKS_ROOT, 'dist', 'wfreq');

/**
 * Path of a compiled module of dist/wfreq (e.g. 'initiator', 'cluster/test-vm') for running in
 * a child process or a worker thread. Throws, saying how to build, when it is missing.
 */
export function compiledEntry(name: string): string {
  const file = join(DIST_WFREQ, `${name}.js`);
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: build the benchmarks first (pnpm --filter @trickle/benchmarks build)`);
  }
  return file;
}
