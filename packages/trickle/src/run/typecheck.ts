/**
 * `trickle run --typecheck`: type-checks the program with the user's own TypeScript (resolved
 * from the script's directory) before running it — the nearest tsconfig.json's project, or the
 * script alone with strict defaults when there is none.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Exit code of the check (0: clean); what tsc says goes to stderr. */
export function typecheck(script: string, write: (text: string) => void): number {
  let tsc: string;
  try {
    const manifest = createRequire(script).resolve('typescript/package.json');
    tsc = join(dirname(manifest), 'bin', 'tsc');
  } catch {
    write(`trickle run --typecheck: TypeScript is not installed where ${script} can import it; install it in the program's project (npm install --save-dev typescript), or run without --typecheck\n`);
    return 2;
  }
  let project: string | undefined;
  for (let dir = dirname(script); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'tsconfig.json'))) {
      project = join(dir, 'tsconfig.json');
      break;
    }
    if (dirname(dir) === dir) break;
  }
  const args = project
    ? ['-p', project, '--noEmit']
    : [script, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2023,esnext.disposable', '--skipLibCheck'];
  const result = spawnSync(process.execPath, [tsc, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0) {
    write(output);
    write(`trickle run --typecheck: ${project ? `tsc -p ${project}` : `tsc ${script}`} found errors; not running ${script}\n`);
    return result.status ?? 1;
  }
  return 0;
}
