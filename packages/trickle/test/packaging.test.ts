/**
 * The packages as a user gets them: `pnpm pack` the three packages, `npm install` the tarballs
 * into a fresh app outside the workspace, and run an ES module and a CommonJS program with
 * `node` and a TypeScript program with the installed `trickle run`, each on local VMs, each
 * injecting a function that uses what its module imports (a Node builtin; in the TypeScript
 * program also the app's own module). The tarballs carry a LICENSE and no source maps.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

jest.setTimeout(240_000);

const ROOT = join(__dirname, '..', '..', '..');
const PACKAGES = ['sfm', 'river', 'trickle'].map((p) => join(ROOT, 'packages', p));
/** sha256('a'), first 8 hex digits. */
const HASH = 'ca978112';

let dir: string;

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, TRICKLE_MDNS: 'off', TRICKLE_LOCAL: '2' };
  for (const name of ['TRICKLE_PEERS', 'RIVER_PEERS', 'NODE_PATH']) delete env[name];
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trickle-packaging-'));
  const tarballs = join(dir, 'tarballs');
  for (const pkg of PACKAGES) execFileSync('pnpm', ['pack', '--pack-destination', tarballs], { cwd: pkg, stdio: 'ignore' });
  const app = join(dir, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  const files = readdirSync(tarballs).map((f) => join(tarballs, f));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...files], { cwd: app, stdio: 'ignore', timeout: 180_000 });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('each tarball has a LICENSE and no source maps pointing at sources it does not ship', () => {
  for (const file of readdirSync(join(dir, 'tarballs'))) {
    const entries = execFileSync('tar', ['tzf', join(dir, 'tarballs', file)], { encoding: 'utf8' }).split('\n');
    expect(entries).toContain('package/LICENSE');
    expect(entries.filter((e) => e.endsWith('.map'))).toEqual([]);
  }
});

test('an ES module program under node', async () => {
  const app = join(dir, 'app');
  writeFileSync(
    join(app, 'esm.mjs'),
    `import { createHash } from 'node:crypto';
import { connect, disconnect, inject } from '@trickle/core';
function hash(s) { return createHash('sha256').update(s).digest('hex').slice(0, 8); }
const vms = await inject(await connect(), hash);
console.log(await vms[0].hash('a'));
await disconnect(vms);
`,
  );
  const result = await run(process.execPath, ['esm.mjs'], app);
  expect(result.stderr).not.toMatch(/Error/);
  expect(result.stdout.trim()).toBe(HASH);
  expect(result.code).toBe(0);
});

test('a CommonJS program under node', async () => {
  const app = join(dir, 'app');
  writeFileSync(
    join(app, 'cjs.cjs'),
    `const { createHash } = require('node:crypto');
const { connect, disconnect, inject } = require('@trickle/core');
function hash(s) { return createHash('sha256').update(s).digest('hex').slice(0, 8); }
async function main() {
  const vms = await inject(await connect(), hash);
  console.log(await vms[0].hash('a'));
  await disconnect(vms);
}
main();
`,
  );
  const result = await run(process.execPath, ['cjs.cjs'], app);
  expect(result.stderr).not.toMatch(/Error/);
  expect(result.stdout.trim()).toBe(HASH);
  expect(result.code).toBe(0);
});

test('a TypeScript program with top-level await, await using and its own module, under the installed trickle run', async () => {
  const app = join(dir, 'app');
  writeFileSync(join(app, 'digest.ts'), `import { createHash } from 'node:crypto';\nexport function digest(s: string): string { return createHash('sha256').update(s).digest('hex'); }\n`);
  writeFileSync(
    join(app, 'main.ts'),
    `import { connect, inject } from '@trickle/core';
import { digest } from './digest';
function hash(s: string): string { return digest(s).slice(0, 8); }
await using vms = await inject(await connect(), { hash });
console.log(await vms[0]!.hash('a'));
`,
  );
  const result = await run(join(app, 'node_modules', '.bin', 'trickle'), ['run', 'main.ts'], app);
  expect(result.stderr).toContain('[trickle: discovered 2 VMs]');
  expect(result.stderr).not.toMatch(/Error/);
  expect(result.stdout.trim()).toBe(HASH);
  expect(result.code).toBe(0);
});
