/**
 * Which module format Node gives a script (its extension, else the nearest package.json's
 * `type`), and whether a script Node would run as CommonJS has to run as an ES module because
 * it uses top-level await (CommonJS cannot have it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type ModuleFormat = 'module' | 'commonjs';

export function nodeFormat(file: string): ModuleFormat {
  if (/\.m[jt]s$/.test(file)) return 'module';
  if (/\.c[jt]s$/.test(file)) return 'commonjs';
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: unknown }).type === 'module' ? 'module' : 'commonjs';
      } catch {
        return 'commonjs';
      }
    }
    if (dirname(dir) === dir) return 'commonjs';
  }
}

/** True when `file` (JavaScript or TypeScript) awaits at its top level. */
export function usesTopLevelAwait(file: string): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require('esbuild') as typeof import('esbuild');
  const loader = /\.[cm]?tsx?$/.test(file) ? (file.endsWith('x') ? 'tsx' : 'ts') : file.endsWith('x') ? 'jsx' : 'js';
  try {
    esbuild.transformSync(readFileSync(file, 'utf8'), { loader, format: 'cjs', logLevel: 'silent' });
    return false;
  } catch (error) {
    return /Top-level await/.test(String((error as Error).message));
  }
}
