/**
 * A small, deterministic text data set for the wfreq demo and its test: `files` files of words
 * drawn with Zipf-like frequencies from a fixed vocabulary. (The benchmark has its own,
 * paper-sized generator.)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'so', 'ta', 'vi', 'ze', 'po', 'qu', 'di'];

/** A seeded PRNG (mulberry32): the same seed gives the same data everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes the data set into `dir` as file0000.txt, file0001.txt, … and returns their paths. */
export function writeWordFiles(dir: string, files = 400, wordsPerFile = 600, seed = 7): string[] {
  mkdirSync(dir, { recursive: true });
  const random = prng(seed);
  const vocabulary = Array.from({ length: 2000 }, (_, i) => {
    let word = '';
    for (let n = i + 1; n > 0; n = Math.floor(n / SYLLABLES.length)) word += SYLLABLES[n % SYLLABLES.length];
    return word;
  });
  // Zipf-like: rank r is drawn with probability ~ 1/r, by inverting the harmonic CDF roughly.
  const pick = () => vocabulary[Math.min(vocabulary.length - 1, Math.floor(Math.exp(random() * Math.log(vocabulary.length + 1)) - 1))];
  const paths: string[] = [];
  for (let f = 0; f < files; f++) {
    const lines: string[] = [];
    for (let w = 0; w < wordsPerFile; w += 12) lines.push(Array.from({ length: 12 }, pick).join(' '));
    const path = join(dir, `file${String(f).padStart(4, '0')}.txt`);
    writeFileSync(path, lines.join('\n') + '\n');
    paths.push(path);
  }
  return paths;
}

/** The sequential reference count: total words and unique words. */
export function countWords(paths: string[]): { words: number; unique: number; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  let words = 0;
  for (const path of paths) {
    for (const t of readFileSync(path, 'utf8').split(/\s+/)) {
      if (!t) continue;
      counts.set(t, (counts.get(t) ?? 0) + 1);
      words++;
    }
  }
  return { words, unique: counts.size, counts };
}
