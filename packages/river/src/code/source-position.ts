/**
 * Where shipped code was written, so that its stack frames where it runs name the user's file
 * and line: found on the sending side (`sourcePositionOf`: V8's location of the function, mapped
 * through the script's source map when it has one — tsx's TypeScript, with source maps enabled),
 * applied on the receiving side (`compileShipped`: the source is compiled under that file name,
 * its lines offset to that line).
 */
import { findSourceMap } from 'node:module';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileFunction, constants } from 'node:vm';

import { functionOrigin } from './function-origin';

export interface SourcePosition {
  /** The file (a path) the function was written in. */
  file: string;
  /** 1-based line of the function's first character. */
  line: number;
  /** 1-based column of it. */
  column: number;
  /**
   * When the source that travels is compiled code (tsx's TypeScript, often all on one line): a
   * map from positions in it to the file's, entries `[line, column, fileLine, fileColumn]`
   * (line 0-based from the function's first line, column 0-based — on line 0 from the function's
   * first character —, fileLine and fileColumn 1-based), in order.
   */
  map?: number[][];
}

const MAX_MAP_ENTRIES = 4000;

function pathOf(url: string): string | undefined {
  if (url.startsWith('file:')) return fileURLToPath(url);
  return isAbsolute(url) ? url : undefined;
}

type Entry = { originalSource?: string; originalLine?: number; originalColumn?: number };

/** The user's file and line of `fn`, or undefined when V8 cannot tell (eval'd code, no inspector). */
export function sourcePositionOf(fn: Function): SourcePosition | undefined {
  const text = Function.prototype.toString.call(fn);
  if (positions.has(text)) return positions.get(text);
  const position = findPosition(fn);
  if (positions.size >= 1000) positions.delete(positions.keys().next().value!);
  positions.set(text, position);
  return position;
}

/** By source text, like functionOrigin. */
const positions = new Map<string, SourcePosition | undefined>();

function findPosition(fn: Function): SourcePosition | undefined {
  const origin = functionOrigin(fn);
  if (!origin?.url) return undefined;
  const file = pathOf(origin.url);
  if (!file) return undefined;
  let sourceMap: ReturnType<typeof findSourceMap> | undefined;
  try {
    sourceMap = findSourceMap(origin.url) ?? findSourceMap(file);
  } catch {
    sourceMap = undefined;
  }
  if (!sourceMap) return { file, line: origin.line + 1, column: origin.column + 1 };
  const first = sourceMap.findEntry(origin.line, origin.column) as Entry;
  if (!first?.originalSource || first.originalLine === undefined) return { file, line: origin.line + 1, column: origin.column + 1 };
  const text = Function.prototype.toString.call(fn);
  const map: number[][] = [];
  let line = 0;
  let column = 0;
  let last = '';
  for (let i = 0; i < text.length && map.length < MAX_MAP_ENTRIES; i++) {
    if (i === 0 || /[\s(){}[\];,.=+\-*/!?:<>&|"'`]/.test(text[i - 1]!)) {
      const e = sourceMap.findEntry(origin.line + line, (line === 0 ? origin.column : 0) + column) as Entry;
      if (e?.originalLine !== undefined && (pathOf(e.originalSource ?? '') ?? e.originalSource) === (pathOf(first.originalSource) ?? first.originalSource)) {
        const key = `${e.originalLine}:${e.originalColumn}`;
        if (key !== last) {
          map.push([line, column, e.originalLine + 1, (e.originalColumn ?? 0) + 1]);
          last = key;
        }
      }
    }
    if (text[i] === '\n') {
      line++;
      column = 0;
    } else {
      column++;
    }
  }
  return { file: pathOf(first.originalSource) ?? first.originalSource, line: first.originalLine + 1, column: (first.originalColumn ?? 0) + 1, map };
}

let compiled = 0;

/**
 * `import()` inside shipped code, as in the main context (Node >= 20.12); without it, an import()
 * there fails with Node's own message. (A custom loader would need --experimental-vm-modules.)
 */
function dynamicImport(): number | undefined {
  return (constants as { USE_MAIN_CONTEXT_DEFAULT_LOADER?: number } | undefined)?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
}
/** Shipped code compiled with a map: its file name here → where it was written. */
const mapped = new Map<string, { position: SourcePosition; sourceLine: number }>();
const MAX_MAPPED = 2000;

/**
 * Compiles `body` (a function body whose shipped source starts on its line `sourceLine`, 1-based)
 * with `params`, in this realm. With a position and no map (the source is the file's own text),
 * under the user's file name, its lines offset to the user's: its stack frames read
 * `at foo (/app/work.js:12:9)`. With a map (compiled TypeScript), under `river-shipped:<n>`,
 * which `mapShippedStack` turns into the user's file and line. Returns the function and the
 * file name it was compiled under.
 */
export function compileShipped(
  body: string,
  params: string[],
  position: SourcePosition | undefined,
  sourceLine: number,
): { fn: (...args: unknown[]) => unknown; filename: string } {
  const valid = position !== undefined && typeof position.file === 'string' && Number.isSafeInteger(position.line) && position.line >= 1;
  const withMap = valid && Array.isArray(position.map) && position.map.length > 0;
  const filename = valid && !withMap ? position.file : `river-shipped:${++compiled}`;
  const lineOffset = valid && !withMap ? position.line - sourceLine : 0;
  const fn = compileFunction(body, params, { filename, lineOffset, importModuleDynamically: dynamicImport() }) as (...args: unknown[]) => unknown;
  if (withMap) {
    if (mapped.size >= MAX_MAPPED) mapped.delete(mapped.keys().next().value!);
    mapped.set(filename, { position: position!, sourceLine });
  }
  return { fn, filename };
}

/** `stack` with frames of mapped shipped code (`river-shipped:<n>:L:C`) at the user's file:line:column. */
export function mapShippedStack(stack: string): string {
  if (mapped.size === 0 || !stack.includes('river-shipped:')) return stack;
  return stack.replace(/river-shipped:(\d+):(\d+):(\d+)/g, (whole, n: string, l: string, c: string) => {
    const entry = mapped.get(`river-shipped:${n}`);
    if (!entry) return whole;
    const line = Number(l) - entry.sourceLine;
    const column = Number(c) - 1;
    let best: number[] | undefined;
    for (const m of entry.position.map!) {
      if (m[0]! < line || (m[0] === line && m[1]! <= column)) best = m;
      else break;
    }
    return best ? `${entry.position.file}:${best[2]}:${best[3]}` : `${entry.position.file}:${entry.position.line}:${entry.position.column}`;
  });
}
