/**
 * Every code block of README.md, docs/ and the package READMEs runs as the text says: each
 * `ts`/`js` block is a program, run with `trickle run` on 2 local VMs, and must exit with 0.
 *
 * Markers (an HTML comment on the line before the fence) say otherwise, explicitly:
 * - `<!-- doc-test: skip: why -->` — not a program (shell commands, an API listing); the number
 *   of these is bounded below, so it stays small;
 * - `<!-- doc-test: continues -->` — the block goes on from the previous program block of the
 *   same file (the guide's examples build on each other): it runs appended to it, in a block
 *   of its own (`{ … }`), so it may declare names the earlier one declared.
 * Fences without a language (or `text`) are output and diagrams, not code.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

jest.setTimeout(600_000);

const ROOT = join(__dirname, '..', '..');
const TRICKLE = join(ROOT, 'packages', 'trickle', 'bin', 'trickle.js');
const WORK = join(__dirname, '..', '.doc-blocks');
// docs/deploy.md's four listings are for machines this one is not (a Docker daemon, Kubernetes, Slurm).
const MAX_SKIPPED = 15;

interface Block {
  file: string;
  line: number;
  lang: string;
  marker: string | undefined;
  code: string;
}

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'docs', f));
  const readmes = readdirSync(join(ROOT, 'packages')).map((p) => join(ROOT, 'packages', p, 'README.md'));
  return [join(ROOT, 'README.md'), ...docs, ...readmes.filter((f) => { try { readFileSync(f); return true; } catch { return false; } })];
}

function blocksOf(file: string): Block[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    const marker = /^<!--\s*doc-test:\s*(.*?)\s*-->\s*$/.exec(lines[start - 1] ?? '')?.[1];
    out.push({ file, line: start + 1, lang: open[1]!, marker, code: body.join('\n') });
  }
  return out;
}

const CODE = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs', 'sh', 'bash', 'shell', 'console']);
const PROGRAM = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs']);

const blocks = markdownFiles().flatMap(blocksOf).filter((b) => CODE.has(b.lang));
const label = (b: Block) => `${relative(ROOT, b.file)}:${b.line}`;

/** Programs to run: each block not skipped, with the blocks that continue it appended. */
const programs: Array<{ name: string; code: string; ext: string }> = [];
{
  let last: { name: string; code: string; ext: string } | undefined;
  let lastFile = '';
  for (const b of blocks) {
    if (b.file !== lastFile) {
      last = undefined;
      lastFile = b.file;
    }
    if (b.marker?.startsWith('skip')) continue;
    if (!PROGRAM.has(b.lang)) continue;
    if (b.marker === 'continues' && last) {
      last.code += `\n{\n${b.code}\n}`;
      last.name += ` + ${b.line}`;
      continue;
    }
    last = { name: label(b), code: b.code, ext: b.lang.startsWith('j') || b.lang === 'mjs' ? 'mjs' : 'ts' };
    programs.push(last);
  }
}

function trickleRun(file: string): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, TRICKLE_MDNS: 'off', TRICKLE_LOCAL: '2' };
  for (const name of ['TRICKLE_PEERS', 'RIVER_PEERS']) delete env[name];
  const child = spawn(process.execPath, [TRICKLE, 'run', file], { cwd: WORK, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c));
  child.stderr.on('data', (c: Buffer) => (output += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

beforeAll(() => {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
});
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

test('every shell block is marked, and few blocks are marked as not runnable', () => {
  const unmarkedShell = blocks.filter((b) => !PROGRAM.has(b.lang) && !b.marker?.startsWith('skip')).map(label);
  expect(unmarkedShell).toEqual([]);
  const skipped = blocks.filter((b) => b.marker?.startsWith('skip'));
  expect(skipped.every((b) => /^skip:\s*\S/.test(b.marker!))).toBe(true); // each says why
  expect(skipped.length).toBeLessThanOrEqual(MAX_SKIPPED);
  expect(programs.length).toBeGreaterThan(10);
});

test.each(programs.map((p) => [p.name, p] as const))('%s runs under trickle run', async (_name, program) => {
  const file = join(WORK, `${program.name.replace(/[^\w]+/g, '_')}.${program.ext}`);
  writeFileSync(file, `${program.code}\n`);
  const result = await trickleRun(file);
  if (result.code !== 0) throw new Error(`${program.name} exited with ${result.code}:\n${program.code}\n--- output ---\n${result.output}`);
});
