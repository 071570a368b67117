// The paper's worker and merge functions (Example 7), with the exact tokenisation of
// examples/src/paper/ex7-wfreq.ts: `text.split(/\s+/)`, empty tokens ignored. Every count in
// the benchmark — reference, baselines, Trickle runs — must agree with this.
import { readFileSync } from 'node:fs';

/** Adds the tokens of `text` to `m`. */
export function countText(text: string, m: Map<string, number>): Map<string, number> {
  for (const t of text.split(/\s+/)) {
    if (t) m.set(t, (m.get(t) ?? 0) + 1);
  }
  return m;
}

/** Counts the words of every file (read as UTF-8) into one map: the paper's `wordcount`. */
export function wordcount(files: readonly string[], into: Map<string, number> = new Map()): Map<string, number> {
  for (const filename of files) countText(readFileSync(filename, 'utf8'), into);
  return into;
}

/** Adds every count of `d` to `into`. */
export function mergeInto(into: Map<string, number>, d: Map<string, number>): Map<string, number> {
  for (const [w, c] of d) into.set(w, (into.get(w) ?? 0) + c);
  return into;
}

/** The paper's `mergecounts`: combines a list of word→count maps. */
export function mergecounts(dlist: Iterable<Map<string, number>>): Map<string, number> {
  const m = new Map<string, number>();
  for (const d of dlist) mergeInto(m, d);
  return m;
}

/** Splits `items` into consecutive chunks of `size` (the last may be shorter). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
