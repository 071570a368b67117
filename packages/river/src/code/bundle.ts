/**
 * The user's own module, made to travel: bundled with esbuild into one CommonJS script that
 * holds it and the user modules it imports; npm packages and Node builtins stay `require()`s,
 * resolved where the bundle runs.
 */
import { createHash } from 'node:crypto';
import { dirname, relative, resolve } from 'node:path';

import { ImportError } from '../errors/import-error';
import type { ShippedModule } from './import-binding';

const built = new Map<string, ShippedModule>();

/**
 * Bundles `specifier` as `importer` (an absolute file) imports it. Throws ImportError when it
 * cannot be built, or when it would take `importer` itself along (running it on the VM would run
 * the program).
 */
export function bundleModule(specifier: string, importer: string, user: string): ShippedModule {
  const key = `${importer}\0${specifier}`;
  const cached = built.get(key);
  if (cached) return cached;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require('esbuild') as typeof import('esbuild');
  const resolveDir = dirname(importer);
  let result: import('esbuild').BuildResult<{ write: false; metafile: true }>;
  try {
    result = esbuild.buildSync({
      stdin: { contents: `module.exports = require(${JSON.stringify(specifier)});`, resolveDir, sourcefile: '<import>', loader: 'js' },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: `node${process.versions.node.split('.')[0]}`,
      packages: 'external',
      write: false,
      metafile: true,
      logLevel: 'silent',
      sourcemap: 'inline',
      sourcesContent: false,
      keepNames: true,
    });
  } catch (error) {
    const errors = (error as { errors?: Array<{ text: string; location?: { file: string; line: number } | null }> }).errors;
    const why = errors?.length ? errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text)).join('; ') : (error as Error).message;
    throw new ImportError({ message: `${user}: its module's import '${specifier}' cannot be bundled to travel with it: ${why}` });
  }
  const inputs = Object.keys(result.metafile.inputs).map((input) => resolve(process.cwd(), input));
  if (inputs.includes(importer)) {
    throw new ImportError({
      message: `${user}: '${specifier}' imports the module that defines it (${relative(process.cwd(), importer)}), so taking it along would run that module — your program — on the VM; move what the code needs into a module of its own`,
    });
  }
  const code = result.outputFiles[0]!.text;
  const stdin = Object.entries(result.metafile.inputs).find(([input]) => input.startsWith('<'))?.[1];
  const entry = stdin?.imports[0]?.path;
  const file = entry ? resolve(process.cwd(), entry) : resolve(resolveDir, specifier);
  const shipped: ShippedModule = { kind: 'bundle', id: createHash('sha256').update(code).digest('hex').slice(0, 32), file, code };
  built.set(key, shipped);
  return shipped;
}
