import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/**
 * The plain-JS file to start a worker or child process with. Built code runs from `dist/`, where
 * the file sits beside this one. Under ts-jest the code runs from `src/*.ts`, which a worker or
 * `node` cannot load: then the built twin in `dist/` is used (turbo builds before tests).
 *
 * `relPath` is relative to the package's src/ (or dist/) root, without extension: `host/vr-worker`.
 */
export function runtimeEntry(relPath: string): string {
  const here = __dirname;
  if (__filename.endsWith('.ts')) {
    const srcRoot = here; // this file lives at src/runtime-entry.ts
    const distFile = resolve(srcRoot, '..', 'dist', `${relPath}.js`);
    if (!existsSync(distFile)) {
      throw new Error(`${relative(process.cwd(), distFile)} is missing: build @river/engine first (pnpm build)`);
    }
    return distFile;
  }
  return join(here, `${relPath}.js`);
}
