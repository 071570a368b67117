/**
 * The published declarations (dist/*.d.ts of the three packages) compile in a user's project with
 * an older `lib` and full checking of library files: they must not need WeakRef, ErrorOptions or
 * anything else beyond ES2020 and @types/node. The program also checks forkWork's item typing
 * through the published types, as a user sees them.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

jest.setTimeout(120_000);

const TSC = require.resolve('typescript/lib/tsc.js');
const TYPES = dirname(dirname(require.resolve('@types/node/package.json')));
const DIST = join(__dirname, '..', 'dist', 'index.d.ts');

function tsc(dir: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TSC, '-p', dir], { timeout: 100_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

test('the declarations compile with lib ES2020 and skipLibCheck off; forkWork checks work items through them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trickle-dts-'));
  try {
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2020',
          lib: ['ES2020'],
          module: 'node16',
          moduleResolution: 'node16',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
          typeRoots: [TYPES],
          baseUrl: '.',
          paths: { '@trickle/core': [DIST] },
        },
        files: ['program.ts'],
      }),
    );
    writeFileSync(
      join(dir, 'program.ts'),
      [
        "import { connect, forkWork, type VM } from '@trickle/core';",
        'function foo(x: number) { return x + 1; }',
        'function sum(xs: number[]) { return xs.reduce((a, b) => a + b, 0); }',
        'export async function main(vms: VM[]) {',
        '  const a: number[] = await forkWork(vms, foo, [1, 2]);',
        '  const b: number[] = await forkWork(vms, sum, [1, 2], { chunksize: 2 });',
        "  // @ts-expect-error the items must be numbers",
        "  await forkWork(vms, foo, ['a', 'b']);",
        '  return [a, b, await connect({ mdns: false })];',
        '}',
        '',
      ].join('\n'),
    );
    const result = await tsc(dir);
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
