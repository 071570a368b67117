// The sequential reference count that every run is checked against, and the check itself.
//
// A count is summarised as total tokens, unique tokens and an order-independent 64-bit checksum
// over all word→count pairs (two independent 32-bit hash lanes, each summed mod 2^32), so a run
// done in another process only has to send back its summary. The checksum of a word is over its
// UTF-16 code units.
import { wordcount } from './wordcount';

export interface CountSummary {
  /** Tokens counted (sum of all counts). */
  total: number;
  /** Distinct tokens. */
  unique: number;
  /** 16 hex digits; independent of insertion order. */
  checksum: string;
}

export interface Reference extends CountSummary {
  /** Files counted. */
  files: number;
  /** Wall time of the sequential count, seconds. */
  seconds: number;
  /** The reference counts themselves, for naming the words that differ on a mismatch. */
  counts?: Map<string, number>;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Accumulates word→count pairs into a summary; order of `add` calls does not matter. */
export class SummaryBuilder {
  private a = 0;
  private b = 0;
  total = 0;
  unique = 0;

  add(word: string, count: number): void {
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let i = 0; i < word.length; i++) {
      const c = word.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    // Count enters both lanes; word length too (so "ab"+1 and "a"+… cannot trade places).
    h1 = fmix32(h1 ^ Math.imul(count, 0x9e3779b1) ^ word.length);
    h2 = fmix32((h2 + Math.imul(count, 0x85ebca77)) ^ Math.imul(word.length, 0x27d4eb2f));
    this.a = (this.a + h1) >>> 0;
    this.b = (this.b + h2) >>> 0;
    this.total += count;
    this.unique += 1;
  }

  summary(): CountSummary {
    return {
      total: this.total,
      unique: this.unique,
      checksum: this.a.toString(16).padStart(8, '0') + this.b.toString(16).padStart(8, '0'),
    };
  }
}

/** Total, unique and checksum of a word→count map. */
export function summarize(counts: Map<string, number>): CountSummary {
  const b = new SummaryBuilder();
  for (const [w, c] of counts) b.add(w, c);
  return b.summary();
}

/** The sequential count of `files` (the paper's wordcount over everything, in one process). */
export function computeReference(files: readonly string[], keepCounts = true): Reference {
  const started = performance.now();
  const counts = wordcount(files);
  const seconds = (performance.now() - started) / 1000;
  return { ...summarize(counts), files: files.length, seconds, ...(keepCounts ? { counts } : {}) };
}

export class WordCountMismatchError extends Error {
  constructor(
    message: string,
    readonly expected: CountSummary,
    readonly actual: CountSummary,
  ) {
    super(message);
    this.name = 'WordCountMismatchError';
  }
}

function sameSummary(a: CountSummary, b: CountSummary): boolean {
  return a.total === b.total && a.unique === b.unique && a.checksum === b.checksum;
}

function describeMismatch(label: string, expected: CountSummary, actual: CountSummary): string {
  const parts: string[] = [];
  if (actual.total !== expected.total) parts.push(`total tokens ${actual.total} ≠ reference ${expected.total}`);
  if (actual.unique !== expected.unique) parts.push(`unique tokens ${actual.unique} ≠ reference ${expected.unique}`);
  if (actual.checksum !== expected.checksum) parts.push(`checksum ${actual.checksum} ≠ reference ${expected.checksum}`);
  return `WORD COUNT MISMATCH in ${label}: ${parts.join('; ')}`;
}

/**
 * Checks a run's summary (e.g. sent back by an initiator process) against the reference; throws
 * a {@link WordCountMismatchError} on any difference.
 */
export function verifySummary(actual: CountSummary, reference: CountSummary, label = 'run'): void {
  if (
    !actual ||
    typeof actual.total !== 'number' ||
    typeof actual.unique !== 'number' ||
    typeof actual.checksum !== 'string'
  ) {
    throw new WordCountMismatchError(`WORD COUNT MISMATCH in ${label}: no valid summary (${JSON.stringify(actual)})`, reference, actual);
  }
  if (!sameSummary(actual, reference)) {
    throw new WordCountMismatchError(describeMismatch(label, reference, actual), reference, actual);
  }
}

/**
 * Checks a run's counts against the reference; throws a {@link WordCountMismatchError} naming
 * (when the reference kept its counts) up to five words that differ.
 */
export function verify(result: Map<string, number>, reference: CountSummary & { counts?: Map<string, number> }, label = 'run'): CountSummary {
  if (!(result instanceof Map)) {
    throw new WordCountMismatchError(
      `WORD COUNT MISMATCH in ${label}: expected a Map of word → count, got ${Object.prototype.toString.call(result)}`,
      reference,
      { total: NaN, unique: NaN, checksum: '' },
    );
  }
  const actual = summarize(result);
  if (sameSummary(actual, reference)) return actual;
  let message = describeMismatch(label, reference, actual);
  if (reference.counts) {
    const diffs: string[] = [];
    for (const [w, c] of reference.counts) {
      const got = result.get(w);
      if (got !== c) diffs.push(`${JSON.stringify(w)}: ${got ?? 'missing'} (reference ${c})`);
      if (diffs.length >= 5) break;
    }
    if (diffs.length < 5) {
      for (const [w, c] of result) {
        if (!reference.counts.has(w)) diffs.push(`${JSON.stringify(w)}: ${c} (not in reference)`);
        if (diffs.length >= 5) break;
      }
    }
    if (diffs.length) message += `; e.g. ${diffs.join(', ')}`;
  }
  throw new WordCountMismatchError(message, reference, actual);
}
