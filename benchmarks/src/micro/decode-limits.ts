// What costly CBOR costs the decoder, before and after @river/sfm's decode limits: each input is
// decoded by cbor-x as it comes (in a child process that never loads @river/sfm, which replaces
// cbor-x's bignum reader process-wide) and by @river/sfm's `decode` (which refuses or decodes it).
// Also the share of decode time the limits check takes on ordinary payloads. Not a test.
//   pnpm --filter @trickle/benchmarks build && node benchmarks/dist/micro/decode-limits.js [--out-dir DIR]
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { decode, encode } from '@river/sfm';

import { flag, machineSummary, median, runMain } from './harness';

const OUT_DIR = flag('--out-dir', join(__dirname, '..', '..', 'results'));
/** Largest time one "before" decode may take (it is killed past this and reported as such). */
const BEFORE_TIMEOUT_MS = 60_000;

const b = (...parts: (number | Uint8Array)[]) => Buffer.concat(parts.map((p) => (typeof p === 'number' ? Uint8Array.of(p) : p)));

function unseededHash(key: number): number {
  let h = key >>> 0;
  h = (~h + (h << 15)) >>> 0;
  h = (h ^ (h >>> 12)) >>> 0;
  h = (h + (h << 2)) >>> 0;
  h = (h ^ (h >>> 4)) >>> 0;
  h = Math.imul(h, 2057) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) & 0x3fffffff;
}

/** The adversarial inputs: name → bytes. */
function inputs(): Record<string, Uint8Array> {
  const bignum = (n: number) => b(0xc2, 0x5a, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255, new Uint8Array(n).fill(0xff));
  const colliding: number[] = [];
  for (let i = 1; colliding.length < 20_000; i++) if ((unseededHash(i) & 0xfff) === 0) colliding.push(i);
  let shared = b(0x00);
  for (let i = 19; i >= 0; i--) shared = b(0xd8, 0x1c, 0xd9, 0x01, 0x03, 0xa2, 0x61, 0x6b, shared, 0x61, 0x72, 0xd8, 0x1d, 0x18, i);
  return {
    'bignum 64 KiB (at the limit)': bignum(64 * 1024),
    'bignum 1 MiB': bignum(1 << 20),
    'arrays nested 100,000 deep': b(new Uint8Array(100_000).fill(0x81), 0x00),
    'shared references nested 20 deep (tags 28/29)': shared,
    'Set of 20,000 int keys in one V8 hash bucket': b(0xd9, 0x01, 0x02, encode(colliding)),
    'Set of 20,000 BigInts equal in their lowest 64 bits': b(0xd9, 0x01, 0x02, encode(Array.from({ length: 20_000 }, (_, i) => (BigInt(i + 1) << 64n) | 7n))),
  };
}

/** Milliseconds cbor-x alone takes on `bytes` (a fresh process, cbor-x's own tag readers), or a note. */
function before(bytes: Uint8Array): string {
  const cborx = require.resolve('cbor-x', { paths: [dirname(require.resolve('@river/sfm/package.json'))] });
  const script = `
    const { Encoder } = require(${JSON.stringify(cborx)});
    const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });
    const bytes = require('node:fs').readFileSync(0);
    const t = process.hrtime.bigint();
    let note = '';
    try { cbor.decode(bytes); } catch (e) { note = ' (then threw: ' + String(e.message).slice(0, 40) + ')'; }
    console.log((Number(process.hrtime.bigint() - t) / 1e6).toFixed(1) + ' ms' + note);`;
  try {
    return execFileSync(process.execPath, ['-e', script], { input: bytes, encoding: 'utf8', timeout: BEFORE_TIMEOUT_MS, maxBuffer: 1 << 20 }).trim();
  } catch (error) {
    if ((error as { signal?: string }).signal === 'SIGTERM') return `over ${BEFORE_TIMEOUT_MS / 1000} s (killed)`;
    throw error;
  }
}

function after(bytes: Uint8Array): string {
  const times: number[] = [];
  let outcome = 'decoded';
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    try {
      decode(bytes);
    } catch (error) {
      outcome = `refused: ${(error as { code?: string }).code}`;
    }
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return `${median(times).toFixed(2)} ms, ${outcome}`;
}

/** Median ms of `fn` over `n` runs. */
function time(n: number, fn: () => void): number {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    fn();
    xs.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(xs);
}

async function main(): Promise<void> {
  const rows: string[] = [];
  for (const [name, bytes] of Object.entries(inputs())) {
    rows.push(`| ${name} | ${bytes.byteLength.toLocaleString('en')} | ${before(bytes)} | ${after(bytes)} |`);
    console.log(rows[rows.length - 1]);
  }
  // The check's share of ordinary decodes.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { checkDecodeLimits } = require(join(dirname(require.resolve('@river/sfm/package.json')), 'dist', 'decode-limits.js')) as {
    checkDecodeLimits: (bytes: Uint8Array, hasExtension: (tag: number) => boolean) => void;
  };
  const ordinary: Record<string, Uint8Array> = {
    '100,000 small ints': encode(Array.from({ length: 100_000 }, (_, i) => i)),
    '10,000 small objects': encode(Array.from({ length: 10_000 }, (_, i) => ({ a: i, b: `s${i}`, c: [1, 2, 3], d: 1.5 }))),
    'Map of 50,000 int keys': encode(new Map(Array.from({ length: 50_000 }, (_, i) => [i, `v${i}`]))),
    'a 1 MiB Buffer': encode(Buffer.alloc(1 << 20, 7)),
    'one small request': encode({ tag: 'call', id: 12, args: [1, 'two', { three: 3 }] }),
  };
  const share: string[] = [];
  for (const [name, bytes] of Object.entries(ordinary)) {
    const n = bytes.byteLength < 1000 ? 20_000 : 40;
    const check = time(n, () => checkDecodeLimits(bytes, () => false));
    const full = time(n, () => decode(bytes));
    share.push(`| ${name} | ${bytes.byteLength.toLocaleString('en')} | ${(check * 1000).toFixed(1)} µs | ${(full * 1000).toFixed(1)} µs | ${Math.round((check / full) * 100)}% |`);
    console.log(share[share.length - 1]);
  }
  const machine = machineSummary();
  const md = `# Decode limits: costly CBOR before and after

\`node benchmarks/dist/micro/decode-limits.js\` (${new Date().toISOString().slice(0, 10)}; ${machine.cpu}, ${machine.cores} cores, ${machine.node}; load average at the end ${machine.loadavgAtEnd.join(' / ')} — a shared machine: times are noisy).

"Before" is cbor-x 1.6.9 as @river/sfm used it (a fresh process); "after" is \`@river/sfm\` \`decode\`, median of 5, including the limits check.

| input | bytes | before | after |
| --- | ---: | --- | --- |
${rows.join('\n')}

The limits check's share of an ordinary decode (median times):

| payload | bytes | check | decode (check included) | share |
| --- | ---: | ---: | ---: | ---: |
${share.join('\n')}
`;
  const file = join(OUT_DIR, 'decode-limits.md');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, md);
  console.log(`written ${file}`);
}

runMain(main);
