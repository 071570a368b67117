// Micro benchmark of @river/sfm: mailbox matching and codec throughput, beside JSON on the
// same data in the same run. Not a test.
//   pnpm --filter @trickle/benchmarks build && node benchmarks/dist/micro/sfm.js [--out results.json]
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { cpus, platform, arch, totalmem } from 'node:os';
import { FrameDecoder, Mailbox, decode, encode, encodeFrame, type Message } from '@river/sfm';

const TRIALS = 5;

interface Result {
  name: string;
  unit: string;
  /** Median of the trials. */
  value: number;
  trials: number[];
  note?: string;
}

/** Runs `trial` (which returns ops done) TRIALS times after one warm-up; ops per second. */
async function measure(trial: () => Promise<number> | number): Promise<number[]> {
  await trial();
  const rates: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const started = process.hrtime.bigint();
    const ops = await trial();
    rates.push(ops / (Number(process.hrtime.bigint() - started) / 1e9));
  }
  return rates;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function mailboxHead(): Promise<number[]> {
  const mb = new Mailbox();
  const pattern = { tag: 'ping' };
  return measure(async () => {
    const n = 1_000_000;
    for (let i = 0; i < n; i++) {
      mb.put({ tag: 'ping', i });
      await mb.recv(pattern);
    }
    return n;
  });
}

function mailboxHeadTry(): Promise<number[]> {
  const mb = new Mailbox();
  const pattern = { tag: 'ping' };
  return measure(() => {
    const n = 1_000_000;
    for (let i = 0; i < n; i++) {
      mb.put({ tag: 'ping', i });
      mb.tryRecv(pattern);
    }
    return n;
  });
}

async function mailboxWaiting(): Promise<number[]> {
  const mb = new Mailbox();
  const pattern = { tag: 'ping' };
  return measure(async () => {
    const n = 1_000_000;
    for (let i = 0; i < n; i++) {
      const got = mb.recv(pattern);
      mb.put({ tag: 'ping', i });
      await got;
    }
    return n;
  });
}

async function mailboxBehind(queued: number): Promise<number[]> {
  const mb = new Mailbox();
  for (let i = 0; i < queued; i++) mb.put({ tag: 'noise', i });
  const pattern = { tag: 'ping' };
  return measure(async () => {
    const n = 2_000;
    for (let i = 0; i < n; i++) {
      mb.put({ tag: 'ping', i });
      await mb.recv(pattern);
    }
    return n;
  });
}

/** A ~1 KB JSON-compatible record, shaped like a reply message. */
function record(): Message {
  return {
    tag: 'result',
    id: 123456,
    src: '6f1c2a9e-3b7d-4c1e-9a2f-0d8e5b7c4a31',
    dest: 'b2d4f6a8-1c3e-4a5b-8d7f-9e0a1b2c3d4e',
    ok: true,
    elapsedMs: 12.5,
    values: Array.from({ length: 40 }, (_, i) => i * 3.25),
    words: ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa'],
    stats: { min: 0, max: 126.75, mean: 63.375, count: 40, labels: { unit: 'ms', host: 'vm-3.local' } },
    rows: Array.from({ length: 8 }, (_, i) => ({ word: `word${i}`, count: i * 17, ratio: i / 8 })),
  };
}

function wordCounts(): Map<string, number> {
  const map = new Map<string, number>();
  for (let i = 0; i < 10_000; i++) map.set(`word${i.toString(36)}x${i % 97}`, (i * 7919) % 100_000);
  return map;
}

interface CodecRun {
  opsPerSec: number[];
  bytes: number;
}

function codecRun(value: unknown, iterations: number): Promise<CodecRun> {
  const bytes = encode(value).byteLength;
  return measure(() => {
    for (let i = 0; i < iterations; i++) decode(encode(value));
    return iterations;
  }).then((opsPerSec) => ({ opsPerSec, bytes }));
}

function jsonRun(value: unknown, iterations: number, toJson: (v: unknown) => unknown, fromJson: (v: unknown) => unknown): Promise<CodecRun> {
  const bytes = Buffer.byteLength(JSON.stringify(toJson(value)));
  return measure(() => {
    for (let i = 0; i < iterations; i++) fromJson(JSON.parse(JSON.stringify(toJson(value))));
    return iterations;
  }).then((opsPerSec) => ({ opsPerSec, bytes }));
}

function framesRun(): Promise<number[]> {
  const frames = Buffer.concat(Array.from({ length: 1000 }, () => encodeFrame(record())));
  return measure(() => {
    const decoder = new FrameDecoder();
    let n = 0;
    // 64 KiB chunks, as a socket delivers them.
    for (let at = 0; at < frames.byteLength; at += 65536) n += decoder.push(frames.subarray(at, at + 65536)).length;
    return n;
  });
}

async function main(): Promise<void> {
  const outIndex = process.argv.indexOf('--out');
  const out = outIndex > 0 ? process.argv[outIndex + 1] : undefined;
  const cborX = createRequire(require.resolve('@river/sfm'))('cbor-x') as { isNativeAccelerationEnabled: boolean };
  const results: Result[] = [];
  const add = (name: string, unit: string, trials: number[], note?: string): void => {
    results.push({ name, unit, value: median(trials), trials, note });
    console.log(`${name.padEnd(58)} ${format(median(trials)).padStart(12)} ${unit}${note ? `  (${note})` : ''}`);
  };

  console.log(`@river/sfm micro benchmark — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}`);
  console.log(`cbor-x native string extraction (cbor-extract): ${cborX.isNativeAccelerationEnabled ? 'on' : 'off'}\n`);

  add('mailbox: put + await recv(pattern), match at head', 'msg/s', await mailboxHead());
  add('mailbox: put + tryRecv(pattern), match at head', 'msg/s', await mailboxHeadTry());
  add('mailbox: recv(pattern) waiting, then put', 'msg/s', await mailboxWaiting());
  add('mailbox: put + await recv(pattern), behind 10,000 others', 'msg/s', await mailboxBehind(10_000));

  const rec = record();
  const recCodec = await codecRun(rec, 50_000);
  const recJson = await jsonRun(rec, 50_000, (v) => v, (v) => v);
  addCodec(add, '~1 KB record', recCodec, recJson);

  const map = wordCounts();
  const mapCodec = await codecRun(map, 300);
  const mapJsonObject = await jsonRun(
    map,
    300,
    (v) => Object.fromEntries(v as Map<string, number>),
    (v) => new Map(Object.entries(v as Record<string, number>)),
  );
  const mapJsonEntries = await jsonRun(
    map,
    300,
    (v) => [...(v as Map<string, number>)],
    (v) => new Map(v as [string, number][]),
  );
  addCodec(add, 'Map of 10,000 string→number', mapCodec, mapJsonObject, 'JSON of Object.fromEntries, parsed back into a Map');
  add('  JSON of the entries array, parsed back into a Map', 'ops/s', mapJsonEntries.opsPerSec, `${mapJsonEntries.bytes} B`);
  add('  codec ÷ JSON (entries array), ops/s', '×', ratio(mapCodec.opsPerSec, mapJsonEntries.opsPerSec));

  add('frames: FrameDecoder.push, ~1 KB record frames, 64 KiB chunks', 'frames/s', await framesRun());

  if (out) {
    const report = {
      date: new Date().toISOString(),
      command: `node benchmarks/dist/micro/sfm.js${out ? ` --out ${out}` : ''}`,
      machine: { node: process.version, platform: platform(), arch: arch(), cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
      cborNativeExtract: cborX.isNativeAccelerationEnabled,
      trials: TRIALS,
      results,
    };
    writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
    console.log(`\nwrote ${out}`);
  }
}

function addCodec(
  add: (name: string, unit: string, trials: number[], note?: string) => void,
  label: string,
  codec: CodecRun,
  json: CodecRun,
  jsonNote = 'JSON.stringify + JSON.parse',
): void {
  add(`codec: encode + decode, ${label}`, 'ops/s', codec.opsPerSec, `${codec.bytes} B CBOR`);
  add(`  codec MB/s (CBOR bytes)`, 'MB/s', codec.opsPerSec.map((r) => (r * codec.bytes) / 1e6));
  add(`  JSON: ${label}`, 'ops/s', json.opsPerSec, `${json.bytes} B JSON; ${jsonNote}`);
  add(`  JSON MB/s (JSON bytes)`, 'MB/s', json.opsPerSec.map((r) => (r * json.bytes) / 1e6));
  add(`  codec ÷ JSON, ops/s`, '×', ratio(codec.opsPerSec, json.opsPerSec));
}

/** Per-trial ratios (trials paired in order). */
function ratio(a: number[], b: number[]): number[] {
  return a.map((x, i) => x / b[i]);
}

function format(n: number): string {
  if (n >= 1000) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(2);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
