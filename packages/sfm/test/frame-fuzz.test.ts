import { FrameDecoder, FrameError, RawFrameDecoder, encodeFrame } from '../src';
import { Prng } from './prng';

/**
 * Seeded fuzz: random, truncated, corrupted and oversized frames, pushed in random chunks.
 * Every case must end in decoded values or a FrameError: nothing else thrown, nothing hung,
 * memory bounded.
 */
const CASES = 12_000;
const MAX_FRAME_BYTES = 1024 * 1024;

function randomValue(rng: Prng, depth = 0): unknown {
  const kinds = depth > 3 ? 8 : 14;
  switch (rng.int(kinds)) {
    case 0:
      return rng.int(1000) - 500;
    case 1:
      return rng.next() * 1e6;
    case 2:
      return 'txt'.repeat(rng.int(20));
    case 3:
      return rng.chance(0.5);
    case 4:
      return rng.chance(0.5) ? null : undefined;
    case 5:
      return BigInt(rng.int(1e9)) ** BigInt(1 + rng.int(4)) * (rng.chance(0.5) ? -1n : 1n);
    case 6:
      return new Date(rng.int(2e12));
    case 7:
      return rng.bytes(rng.int(40));
    case 8:
      return Array.from({ length: rng.int(5) }, () => randomValue(rng, depth + 1));
    case 9:
      return Object.fromEntries(Array.from({ length: rng.int(5) }, (_, i) => [`k${i}`, randomValue(rng, depth + 1)]));
    case 10:
      return new Map(Array.from({ length: rng.int(4) }, () => [randomValue(rng, depth + 1), randomValue(rng, depth + 1)]));
    case 11:
      return new Set(Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1)));
    case 12:
      return Object.assign(new RangeError(`e${rng.int(10)}`), { code: 'E_FUZZ' });
    default:
      return new Float32Array(rng.int(6));
  }
}

type Case = { kind: string; stream: Uint8Array; value?: unknown };

function header(length: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, length);
  return bytes;
}

function makeCase(rng: Prng): Case {
  const value = randomValue(rng);
  const frame = encodeFrame(value);
  switch (rng.int(7)) {
    case 0:
      return { kind: 'valid', stream: frame, value };
    case 1:
      return { kind: 'truncated', stream: frame.subarray(0, rng.int(frame.byteLength)) };
    case 2: {
      const corrupted = new Uint8Array(frame);
      for (let n = 1 + rng.int(4); n > 0; n--) corrupted[4 + rng.int(corrupted.byteLength - 4)] = rng.int(256);
      return { kind: 'corrupted payload', stream: corrupted };
    }
    case 3: {
      const garbage = rng.bytes(rng.int(200));
      return { kind: 'garbage payload', stream: Buffer.concat([header(garbage.byteLength), garbage]) };
    }
    case 4:
      return { kind: 'garbage stream', stream: rng.bytes(rng.int(300)) };
    case 5: {
      const length = MAX_FRAME_BYTES + 1 + rng.int(2 ** 32 - MAX_FRAME_BYTES - 1);
      return { kind: 'oversized', stream: Buffer.concat([header(length), rng.bytes(rng.int(50))]) };
    }
    default: {
      const wrong = new Uint8Array(frame);
      new DataView(wrong.buffer).setUint32(0, rng.int(frame.byteLength * 2));
      return { kind: 'wrong length', stream: wrong };
    }
  }
}

/** Pushes `stream` in random chunks, then ends: returns the values or the FrameError. */
function run(decoder: FrameDecoder | RawFrameDecoder, stream: Uint8Array, rng: Prng): unknown[] | FrameError {
  const values: unknown[] = [];
  try {
    for (let at = 0; at < stream.byteLength; ) {
      const size = rng.chance(0.2) ? 1 : 1 + rng.int(64);
      values.push(...decoder.push(stream.subarray(at, at + size)));
      at += size;
    }
    decoder.end();
    return values;
  } catch (error) {
    if (FrameError.isInstance(error)) return error;
    throw error;
  }
}

test(`${CASES} random, truncated, corrupted and oversized frames: values or FrameError, nothing else`, () => {
  const rng = new Prng(0x5f3759df);
  const counts = new Map<string, number>();
  const unexpected: string[] = [];
  let slowest = 0;
  global.gc?.();
  const before = process.memoryUsage();

  for (let i = 0; i < CASES; i++) {
    const c = makeCase(rng);
    const started = performance.now();
    let outcome: unknown[] | FrameError;
    try {
      outcome = run(new FrameDecoder({ maxFrameBytes: MAX_FRAME_BYTES }), c.stream, rng);
      // The raw decoder splits the same stream the same way, and fails only on framing.
      const raw = run(new RawFrameDecoder({ maxFrameBytes: MAX_FRAME_BYTES }), c.stream, rng);
      if (!FrameError.isInstance(outcome) && FrameError.isInstance(raw)) unexpected.push(`case ${i}: raw failed alone`);
    } catch (error) {
      unexpected.push(`case ${i} (${c.kind}): threw ${String(error)}`);
      continue;
    }
    slowest = Math.max(slowest, performance.now() - started);
    const key = `${c.kind}: ${FrameError.isInstance(outcome) ? outcome.code : 'decoded'}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (c.kind === 'valid' && (FrameError.isInstance(outcome) || !isEqual(outcome, [c.value]))) {
      unexpected.push(`case ${i}: a valid frame did not decode to its value`);
    }
    if (c.kind === 'oversized' && !(FrameError.isInstance(outcome) && outcome.code === 'ERR_FRAME_TOO_LARGE')) {
      unexpected.push(`case ${i}: oversized frame not refused`);
    }
  }

  const after = process.memoryUsage();
  if (process.env.FUZZ_VERBOSE) console.log(Object.fromEntries(counts), { slowest, before, after });
  expect(unexpected).toEqual([]);
  expect(slowest).toBeLessThan(1000);
  expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(64 * 1024 * 1024);
  expect(after.heapUsed - before.heapUsed).toBeLessThan(256 * 1024 * 1024);
  // Every kind of input, and both outcomes, actually happened.
  const keys = [...counts.keys()];
  for (const kind of ['valid: decoded', 'truncated: ERR_FRAME_TRUNCATED', 'oversized: ERR_FRAME_TOO_LARGE']) {
    expect(keys).toContain(kind);
  }
  expect(keys.some((k) => k.endsWith('ERR_FRAME_DECODE'))).toBe(true);
  expect(keys.some((k) => k.startsWith('corrupted payload: decoded'))).toBe(true);
  // The codec still works after all that.
  expect(new FrameDecoder().push(encodeFrame({ still: 'fine' }))).toEqual([{ still: 'fine' }]);
});

function isEqual(a: unknown, b: unknown): boolean {
  try {
    expect(a).toEqual(b);
    return true;
  } catch {
    return false;
  }
}
