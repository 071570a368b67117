#!/usr/bin/env node
// Runs every package's tests through turbo, then prints one plain closing line summing all jest
// runs ("tests: N passed, N failed"), and exits with turbo's exit code.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dirs = ['packages', '.']
  .flatMap((base) => (base === '.' ? ['benchmarks', 'examples'] : readdirSync(join(root, base)).map((d) => join(base, d))))
  .map((d) => join(root, d));
const resultFile = (dir) => join(dir, '.jest-results.json');
for (const dir of dirs) rmSync(resultFile(dir), { force: true });

const turbo = spawnSync('pnpm', ['exec', 'turbo', 'run', 'test', '--concurrency=1', '--continue', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', ...process.env },
});

let passed = 0, failed = 0, skipped = 0;
for (const dir of dirs) {
  if (!existsSync(resultFile(dir))) continue;
  const r = JSON.parse(readFileSync(resultFile(dir), 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
}
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(turbo.status ?? 1);
