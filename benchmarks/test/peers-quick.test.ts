// bench:peers end to end in its quick mode, on a small corpus this test writes: every program
// (node, Piscina, Trickle's Example 7 with 2 local VMs as written and with `reduce`) runs in a process of its own and must produce the
// same counts as an independent reference. Correctness and shape, never timings.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCHMARKS_ROOT } from '../src/wfreq/paths';

const scratch = mkdtempSync(join(tmpdir(), 'peers-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const main = join(BENCHMARKS_ROOT, 'dist', 'peers', 'main.js');

/** A small corpus with tokens that repeat across files, odd whitespace and non-ASCII words. */
function writeCorpus(dir: string): Map<string, number> {
  const words = ['the', 'kernel', 'über', 'naïve', 'δ-function', '—', 'CONFIG_X86', 'a', 'b', '<p>', 'x=1;'];
  const expected = new Map<string, number>();
  mkdirSync(join(dir, 'sub'), { recursive: true });
  for (let f = 0; f < 40; f++) {
    const tokens: string[] = [];
    for (let i = 0; i < 50 + f * 7; i++) tokens.push(words[(i * 7 + f * 3) % words.length]! + (i % 13 === 0 ? String(f % 5) : ''));
    for (const t of tokens) expected.set(t, (expected.get(t) ?? 0) + 1);
    // Spaces, tabs, newlines, a non-breaking space, and leading/trailing whitespace.
    const text = '  ' + tokens.map((t, i) => t + [' ', '\t', '\n', '\u00a0', '  \r\n'][i % 5]).join('') + '\n';
    writeFileSync(join(dir, f % 2 ? 'sub' : '.', `f${f}.txt`), text);
  }
  return expected;
}

test('--quick on a small corpus: every program runs and all agree with the reference', () => {
  const corpus = join(scratch, 'corpus');
  const expected = writeCorpus(corpus);
  const out = join(scratch, 'out');
  const r = spawnSync(process.execPath, [main, '--quick', '--corpus', corpus, '--out', out, '--chunksize', '7'], { encoding: 'utf8', timeout: 240_000 });
  expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
  const results = JSON.parse(readFileSync(join(out, 'peers.json'), 'utf8'));
  expect(results.quick).toBe(true);
  expect(results.corpora.map((c: { set: string }) => c.set)).toEqual(['paper', 'debian']);
  const debian = results.corpora.find((c: { set: string }) => c.set === 'debian');
  // The reference of the written corpus is what this test counted itself.
  expect(debian.files).toBe(40);
  expect(debian.reference.total).toBe([...expected.values()].reduce((a, b) => a + b, 0));
  expect(debian.reference.unique).toBe(expected.size);
  for (const set of ['paper', 'debian']) {
    const reference = results.corpora.find((c: { set: string }) => c.set === set).reference;
    const runs = results.runs.filter((run: { set: string }) => run.set === set);
    expect(runs.map((run: { program: string }) => run.program).sort()).toEqual(['node', 'piscina', 'trickle-paper', 'trickle-reduce']);
    for (const run of runs) {
      expect(run.summary).toEqual(reference);
      expect(run.seconds).toBeGreaterThan(0);
      // Trickle's runs say how long connect took, within their time.
      if (run.program.startsWith('trickle')) expect(run.startupSeconds).toBeLessThan(run.seconds);
      else expect(run.startupSeconds).toBeUndefined();
    }
  }
  const md = readFileSync(join(out, 'peers.md'), 'utf8');
  expect(md).toContain('| Trickle, 2 local VMs, Example 7 as written');
  expect(md).toContain(`--corpus ${corpus}`);
}, 300_000);

test('a corpus that is not there stops the benchmark with a non-zero exit and says so', () => {
  const missing = join(scratch, 'no-such-corpus');
  const r = spawnSync(process.execPath, [main, '--quick', '--sets', 'debian', '--corpus', missing, '--out', join(scratch, 'out2')], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(`--corpus ${missing}: no such folder`);
});

test('unknown programs and sets are refused', () => {
  const r = spawnSync(process.execPath, [main, '--programs', 'node,python'], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain("--programs: unknown 'python'");
});
