// The two corpora of bench:peers: the paper-shaped set (generated, wfreq/data.ts) and a real
// text corpus from a Debian package, read where the package installs it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { ensureDataset, FULL_SPEC, QUICK_SPEC } from '../wfreq/data';
import type { CountSummary } from '../wfreq/reference';

export type SetName = 'paper' | 'debian';
export const SET_NAMES: readonly SetName[] = ['paper', 'debian'];

/**
 * The real corpus: the Linux 6.1 kernel documentation as Debian packages it (linux-doc-6.1, in
 * Debian 12): its HTML pages and their reStructuredText sources (`*.rst.txt`), ~6,400 files,
 * ~150 MB of English technical prose and markup, read as they are installed.
 */
export const DEBIAN_CORPUS = {
  package: 'linux-doc-6.1',
  dir: '/usr/share/doc/linux-doc-6.1/html',
  extensions: ['.html', '.txt'],
} as const;

/** The corpus is not installed (or --corpus names a folder without files). */
export class CorpusMissingError extends Error {
  readonly code = 'PEERS_CORPUS_MISSING';
  constructor(message: string) {
    super(message);
    this.name = 'CorpusMissingError';
  }
}

export interface Corpus {
  set: SetName;
  /** One line for the report: what it is and where it came from. */
  description: string;
  files: string[];
  bytes: number;
  /** The counts every program must produce, when known before the run (the generator's). */
  expected?: CountSummary;
}

/** The paper-shaped set (63,362 files, 285 MB; `quick`: 2,000 files), generated once and cached. */
export async function paperCorpus(quick: boolean, onGenerate?: (why: string) => void): Promise<Corpus> {
  const ds = await ensureDataset(quick ? QUICK_SPEC : FULL_SPEC, { onGenerate });
  const m = ds.manifest!;
  return {
    set: 'paper',
    description: `paper-shaped set (wfreq/data.ts, ${quick ? 'quick' : 'full'}): ${m.files} generated files, ${(m.bytes / 1e6).toFixed(1)} MB, ${m.expected.unique} distinct words`,
    files: ds.files,
    bytes: ds.bytes,
    expected: m.expected,
  };
}

/** Every regular file under `dir` (skipping dot-entries), optionally only those ending in `extensions`, sorted. */
function listFiles(dir: string, extensions?: readonly string[]): { files: string[]; bytes: number } {
  const files: string[] = [];
  let bytes = 0;
  const walk = (d: string, depth: number) => {
    if (depth > 32) return;
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full, depth + 1);
      else if (entry.isFile() && (!extensions || extensions.includes(extname(entry.name)))) {
        files.push(full);
        bytes += statSync(full).size;
      }
    }
  };
  walk(dir, 0);
  files.sort();
  return { files, bytes };
}

/**
 * The real corpus: `dir` (every file in it) when given, else the Debian package's files. Throws
 * CorpusMissingError, saying how to get it, when it is not there. `quick` takes every 12th file of
 * the Debian package's (a folder given with --corpus is counted whole).
 */
export function debianCorpus(quick: boolean, dir?: string): Corpus {
  const custom = dir !== undefined;
  const root = resolve(dir ?? DEBIAN_CORPUS.dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new CorpusMissingError(
      custom
        ? `--corpus ${root}: no such folder`
        : `the real-text corpus is not installed: ${root} is missing. It comes from the Debian package ${DEBIAN_CORPUS.package} ` +
            `(the Linux 6.1 kernel documentation, ~150 MB of HTML and reStructuredText). Install it with ` +
            `\`apt-get install ${DEBIAN_CORPUS.package}\` as root (\`pnpm --filter @trickle/benchmarks run bench:peers:corpus\`), ` +
            `or count another folder of text files with --corpus DIR.`,
    );
  }
  const listed = listFiles(root, custom ? undefined : DEBIAN_CORPUS.extensions);
  if (listed.files.length === 0) throw new CorpusMissingError(`${root}: no ${custom ? '' : `${DEBIAN_CORPUS.extensions.join('/')} `}files to count`);
  let files = listed.files;
  let bytes = listed.bytes;
  if (quick && !custom) {
    files = files.filter((_, i) => i % 12 === 0);
    bytes = files.reduce((sum, f) => sum + statSync(f).size, 0);
  }
  const what = custom ? `files under ${root}` : `Debian package ${DEBIAN_CORPUS.package}: ${DEBIAN_CORPUS.extensions.map((e) => `*${e}`).join(' and ')} under ${root}`;
  return {
    set: 'debian',
    description: `${what}${quick && files.length < listed.files.length ? ` (quick: every 12th of ${listed.files.length})` : ''}: ${files.length} files, ${(bytes / 1e6).toFixed(1)} MB`,
    files,
    bytes,
  };
}
