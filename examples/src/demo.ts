/**
 * What `pnpm demo` runs: the paper's Example 1 and Example 7 (wfreq) with `trickle run`, each
 * on 4 local Trickle VMs, and a check of wfreq's counts against a sequential count.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExample } from './run-example';
import { countWords, writeWordFiles } from './wfreq-data';

async function main() {
  console.log('$ pnpm exec trickle run examples/src/paper/ex1-simple.ts');
  const ex1 = await runExample('ex1-simple.ts', [], { echo: true });
  if (ex1.code !== 0) throw new Error(`Example 1 failed (exit ${ex1.code})`);

  const dir = join(tmpdir(), 'trickle-demo-wfreq');
  const files = writeWordFiles(dir);
  console.log(`\n$ pnpm exec trickle run examples/src/paper/ex7-wfreq.ts 4 10 ${join(dir, 'file')}`);
  const ex7 = await runExample('ex7-wfreq.ts', ['4', '10', join(dir, 'file')], { echo: true });
  if (ex7.code !== 0) throw new Error(`Example 7 failed (exit ${ex7.code})`);

  const reference = countWords(files);
  const expected = `${files.length} files, ${reference.words} words, ${reference.unique} unique`;
  const ok = ex7.stdout.includes(expected);
  console.log(`\nsequential count: ${expected} — ${ok ? 'wfreq agrees' : 'MISMATCH'}`);
  if (!ok) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
