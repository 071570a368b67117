/**
 * Module hooks `trickle run` registers after tsx's (so they run first):
 * - the entry script, when it must run as an ES module although its package says CommonJS (it
 *   uses top-level await), is loaded as one;
 * - JavaScript ES modules of the user's (not under node_modules) that use `using` / `await using`
 *   declarations, which Node 20 cannot parse, are lowered with esbuild (tsx does this for
 *   TypeScript itself).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface HookData {
  entry: string;
  entryAsModule: boolean;
  esbuild: string;
}

type LoadResult = { format?: string; source?: string | ArrayBuffer | Uint8Array | null; shortCircuit?: boolean };
type NextLoad = (url: string, context: { format?: string }) => Promise<LoadResult>;

let data: HookData | undefined;
const USING = /\b(?:await\s+)?using\s+[\p{L}_$][\p{L}\p{N}_$]*\s*=/u;

export function initialize(given: HookData): void {
  data = given;
}

export async function load(url: string, context: { format?: string }, nextLoad: NextLoad): Promise<LoadResult> {
  const asModule = data !== undefined && data.entryAsModule && url === data.entry;
  const result = await nextLoad(url, asModule ? { ...context, format: 'module' } : context);
  if (result.format !== 'module' || !url.startsWith('file:') || url.includes('/node_modules/') || !/\.m?js$/.test(new URL(url).pathname)) {
    return result;
  }
  const source = result.source == null ? await readFile(fileURLToPath(url), 'utf8') : typeof result.source === 'string' ? result.source : new TextDecoder().decode(result.source);
  if (!USING.test(source)) return result;
  const esbuild = (await import(data!.esbuild)) as typeof import('esbuild');
  const out = await esbuild.transform(source, {
    loader: 'js',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    sourcemap: 'inline',
    sourcefile: fileURLToPath(url),
  });
  return { ...result, source: out.code };
}
