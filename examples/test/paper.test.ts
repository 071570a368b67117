/**
 * The paper's Examples 1–7, each run with `trickle run` on 4 local VMs: 1–6 print the paper's
 * output (the same values in JavaScript's formatting); 7 (wfreq) counts a generated data set and
 * agrees with a sequential count.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExample } from '../src/run-example';
import { countWords, writeWordFiles } from '../src/wfreq-data';

const DISCOVERED = '[trickle: discovered 4 VMs]';

const expected: Record<string, string[]> = {
  'ex1-simple.ts': ['[ 20, 20, 20, 20 ]'],
  'ex2-inject.ts': ["Map(2) { 1 => 'a', 2 => 'b' }", '2'],
  'ex3-sync-data.ts': [
    "[ '*NONE*', 'Sami', 'Greg', 'Peter' ]",
    "[ 'Alex', '*NONE*', 'Greg', 'Peter' ]",
    "[ 'Alex', 'Sami', '*NONE*', 'Peter' ]",
    "[ 'Alex', 'Sami', 'Greg', '*NONE*' ]",
  ],
  'ex4-sync-func.ts': ['[ 0 ] 1', '[ 0, 1 ] 1', '[ 0, 1, 2 ] 2', '[ 0, 1, 2, 3 ] 6'],
  'ex5-sync-class.ts': ["[ 'A', 'B' ]"],
  'ex6-async.ts': ['11 22', '[ 11, 22 ]', '[ 10, 11, 12, 13 ]'],
};

describe('the paper’s programs under `trickle run` on 4 local VMs', () => {
  for (const [example, lines] of Object.entries(expected)) {
    test(`${example} prints the paper's output`, async () => {
      const run = await runExample(example);
      expect(run.stderr).toContain(DISCOVERED);
      expect(run.stdout.trimEnd().split('\n')).toEqual(lines);
      expect(run.code).toBe(0);
    });
  }

  test('ex6-async.ts runs right on 2 and 3 VMs too (the per-VM list follows the VM count)', async () => {
    for (const [n, last] of [[2, '[ 10, 11 ]'], [3, '[ 10, 11, 12 ]']] as const) {
      const run = await runExample('ex6-async.ts', [], { vms: n });
      expect(run.stderr).toContain(`[trickle: discovered ${n} VMs]`);
      expect(run.stdout.trimEnd().split('\n')).toEqual(['11 22', '[ 11, 22 ]', last]);
      expect(run.code).toBe(0);
    }
  });

  test('ex7-wfreq.ts counts a generated data set like a sequential count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trickle-wfreq-test-'));
    try {
      const files = writeWordFiles(dir, 150, 300, 11);
      const reference = countWords(files);
      const run = await runExample('ex7-wfreq.ts', ['4', '10', join(dir, 'file')]);
      expect(run.code).toBe(0);
      const [timing, counts, top] = run.stdout.trimEnd().split('\n');
      expect(timing).toMatch(/^\d+(\.\d+)? seconds$/);
      expect(counts).toBe(`${files.length} files, ${reference.words} words, ${reference.unique} unique`);
      const best = [...reference.counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
      expect(top).toBe(`most frequent: ${best.map(([w, c]) => `${w} ${c}`).join(', ')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ex7-wfreq.ts with the wrong arguments prints its usage', async () => {
    const run = await runExample('ex7-wfreq.ts', ['4']);
    expect(run.stdout).toContain('usage: ex7-wfreq <vmcount> <chunksize> <pattern>');
    expect(run.code).toBe(1);
  });
});
