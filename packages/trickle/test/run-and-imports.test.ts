/**
 * `trickle run` as a user runs it (a child process on local VMs): ES modules, CommonJS,
 * TypeScript, top-level await, `await using`, errors with file:line, --typecheck; and injected
 * code that uses its module's imports — a Node builtin, an npm package, the user's own module
 * (a helper function and a base class) — compiled by tsx (ESM and CommonJS) and by tsc.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ts from 'typescript';

jest.setTimeout(120_000);

const FIXTURES = join(__dirname, 'fixtures', 'run');
const CLI = join(__dirname, '..', 'dist', 'cli.js');
/** sha1("3"), 2 * 3, the npm package's export, the injected subclass of the imported base class. */
const EXPECTED = JSON.stringify(['77de68da', 6, 'string', 'hello!']);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runNode(args: string[], env: NodeJS.ProcessEnv = {}, cwd = FIXTURES): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, TRICKLE_MDNS: 'off', ...env };
  delete childEnv.TRICKLE_PEERS;
  delete childEnv.RIVER_PEERS;
  if (env.TRICKLE_PEERS) childEnv.TRICKLE_PEERS = env.TRICKLE_PEERS;
  const child = spawn(process.execPath, args, { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const trickleRun = (file: string, extra: string[] = []) => runNode([CLI, 'run', ...extra, join(FIXTURES, file)], { TRICKLE_LOCAL: '2' });

describe('trickle run', () => {
  test.each(['imports.mts', 'tla.ts', 'imports-cjs.ts'])('%s: injected code uses a builtin, an npm package and the user module it imports', async (file) => {
    const run = await trickleRun(file);
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.stdout.trim()).toBe(`[${EXPECTED},${EXPECTED}]`);
    expect(run.code).toBe(0);
  });

  test('await using in a .mjs file runs on Node 20', async () => {
    const run = await trickleRun('using.mjs');
    expect(run.stdout.trim().split('\n')).toEqual(['inside object', 'disposed']);
    expect(run.code).toBe(0);
  });

  test('a throw prints its stack with the file and line, and exits with 1', async () => {
    const run = await trickleRun('boom.ts');
    expect(run.stderr.split('\n')[0]).toBe(`${join(FIXTURES, 'boom.ts')}:2`);
    expect(run.stderr).toMatch(/Error: boom\n\s+at fail \(.*boom\.ts:2:9\)/);
    expect(run.code).toBe(1);
  });

  test.each(['remote-throw.ts', 'remote-throw.mjs'])('%s: the remote stack of an injected function names the file and the line it threw on', async (file) => {
    const run = await trickleRun(file);
    expect(run.stderr).toMatch(new RegExp(`--- remote stack on VM [^\\n]*\\n\\s+at check \\(${join(FIXTURES, file).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:7:\\d+\\)`));
    expect(run.code).toBe(1);
  });

  test('a syntax error names the file and line', async () => {
    const run = await trickleRun('syntax.mjs');
    expect(run.stderr).toContain('syntax.mjs:3');
    expect(run.stderr).toContain('SyntaxError');
    expect(run.code).toBe(1);
  });

  test('--typecheck refuses to run a program with a type error, with tsc saying where', async () => {
    const checked = await trickleRun('typecheck/type-error.ts', ['--typecheck']);
    expect(checked.stderr).toMatch(/type-error\.ts\(2,7\): error TS2322/);
    expect(checked.stdout).not.toContain('ran');
    expect(checked.code).not.toBe(0);
    const unchecked = await trickleRun('typecheck/type-error.ts');
    expect(unchecked.stdout).toContain('ran not a number');
  });

  test('--typecheck without TypeScript installed says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trickle-notypescript-'));
    try {
      writeFileSync(join(dir, 'p.ts'), 'console.log(1);\n');
      const run = await runNode([CLI, 'run', '--typecheck', join(dir, 'p.ts')], {}, dir);
      expect(run.stderr).toMatch(/TypeScript is not installed where .*p\.ts can import it/);
      expect(run.code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('code compiled by tsc to CommonJS (crypto_1.createHash, helpers_1.double) injects with its imports', async () => {
  const out = join(FIXTURES, '.tsc-out');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  try {
    const program = ts.createProgram([join(FIXTURES, 'imports-cjs.ts')], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      esModuleInterop: true,
      outDir: out,
      rootDir: FIXTURES,
      skipLibCheck: true,
      lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
      types: [],
      noCheck: true,
    } as ts.CompilerOptions);
    program.emit();
    const run = await runNode([join(out, 'imports-cjs.js')], { TRICKLE_LOCAL: '2' });
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.stdout.trim()).toBe(`[${EXPECTED},${EXPECTED}]`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
test('a package the VM does not have: an error naming the package, the identifier and the VM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trickle-vm-cwd-'));
  // NODE_PATH (pnpm exec sets it) would let the VM find the package anyway.
  const env = { ...process.env };
  delete env.NODE_PATH;
  const vm = spawn(process.execPath, [CLI, 'vm', '--port', '0', '--host', '127.0.0.1', '--no-advertise'], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    const address = await new Promise<string>((resolve, reject) => {
      let text = '';
      vm.stdout.on('data', (c: Buffer) => {
        text += c;
        const m = /listening on (\S+:\d+)/.exec(text);
        if (m) resolve(m[1]!);
      });
      vm.on('exit', (code) => reject(new Error(`trickle vm exited (${code}): ${text}`)));
    });
    const run = await runNode([CLI, 'run', join(FIXTURES, 'missing.ts')], { TRICKLE_PEERS: address });
    expect(run.stderr).toMatch(/work uses 'version' \(\{ version \} from 'esbuild'\), but package 'esbuild' is not installed on VM '[^']+'/);
    expect(run.stderr).toContain('npm install esbuild');
    expect(run.code).toBe(1);
  } finally {
    vm.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
