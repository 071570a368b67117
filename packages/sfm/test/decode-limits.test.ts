/**
 * The decode limits (src/decode-limits.ts): what a peer can make the decoder do is linear in what
 * it sent. Deep nesting, large bignums, tags cbor-x gives a costly or stateful meaning to, wrong
 * tag contents and hash-colliding Map/Set keys are refused with CodecError ERR_CODEC_LIMIT before
 * anything is built; everything the codec writes still decodes, and a refusal leaves the codec
 * working.
 */
import { Codec, CodecError, decode, defineExtension, encode } from '../src';
import { DEFAULT_DECODE_LIMITS, checkDecodeLimits } from '../src/decode-limits';
import { Prng } from './prng';

const { maxDepth, maxBignumBytes } = DEFAULT_DECODE_LIMITS;

/** The CodecError `decode(bytes)` throws (fails the test if it does not throw one). */
function refusal(bytes: Uint8Array, codec?: Codec): CodecError {
  let caught: unknown;
  try {
    (codec ?? { decode }).decode(bytes);
  } catch (error) {
    caught = error;
  }
  if (!CodecError.isInstance(caught)) throw new Error(`expected a CodecError, got ${String(caught)}`);
  // A refusal leaves the codec as it was.
  expect(decode(encode({ ok: [1, 'two', new Map([[3, 4]])] }))).toEqual({ ok: [1, 'two', new Map([[3, 4]])] });
  return caught;
}

const bytesOf = (...parts: (number | Uint8Array)[]) => Uint8Array.from(parts.flatMap((p) => (typeof p === 'number' ? [p] : [...p])));
/** CBOR head of major type `major` with argument `n`. */
function head(major: number, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return bytesOf(m | n);
  if (n < 0x100) return bytesOf(m | 24, n);
  if (n < 0x10000) return bytesOf(m | 25, n >> 8, n & 0xff);
  return bytesOf(m | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}
const tagged = (tag: number, content: Uint8Array) => bytesOf(head(6, tag), content);
/** A CBOR array of these items (each already encoded). */
const arrayOf = (items: Uint8Array[]) => bytesOf(head(4, items.length), ...items);

describe('nesting', () => {
  const nested = (levels: number) => bytesOf(...new Array<number>(levels).fill(0x81), 0x00);

  test(`${maxDepth} levels of arrays decode; one more is refused before cbor-x recurses`, () => {
    let value: unknown = decode(nested(maxDepth));
    for (let i = 0; i < maxDepth; i++) value = (value as unknown[])[0];
    expect(value).toBe(0);
    const error = refusal(nested(maxDepth + 1));
    expect(error).toMatchObject({ code: 'ERR_CODEC_LIMIT', message: `nesting deeper than ${maxDepth} levels` });
  });

  test('maps and tags count as levels too; 100,000 levels are refused like 513', () => {
    const maps = bytesOf(...new Array<number[]>(maxDepth + 1).fill([0xa1, 0x61, 0x6b]).flat(), 0x00);
    expect(refusal(maps).code).toBe('ERR_CODEC_LIMIT');
    const tags = bytesOf(...new Array<number[]>(maxDepth + 1).fill([0xd9, 0x04, 0xb0]).flat(), 0x00); // tag 1200 nested
    expect(refusal(tags).code).toBe('ERR_CODEC_LIMIT');
    expect(refusal(new Uint8Array(100_000).fill(0x81)).code).toBe('ERR_CODEC_LIMIT');
  });
});

describe('bignums', () => {
  test('are read in linear time and exactly: random sizes up to the limit, both signs', () => {
    const prng = new Prng(2);
    for (const size of [9, 10, 17, 100, 1000, 4096, maxBignumBytes]) {
      const hex = Array.from(prng.bytes(size), (b) => b.toString(16).padStart(2, '0')).join('');
      const magnitude = BigInt(`0x1${hex}`) >> 4n; // a leading 1 keeps the size
      for (const value of [magnitude, -magnitude]) expect(decode(encode(value))).toBe(value);
    }
    expect(decode(bytesOf(0xc2, 0x40))).toBe(0n); // an empty byte string is 0
    expect(decode(bytesOf(0xc3, 0x40))).toBe(-1n);
  });

  test(`one over ${maxBignumBytes} bytes is refused, whatever the sign`, () => {
    const big = bytesOf(0x5a, 0, 1, 0, 1, new Uint8Array(maxBignumBytes + 1).fill(0xff));
    for (const tag of [0xc2, 0xc3]) {
      const error = refusal(bytesOf(tag, big));
      expect(error).toMatchObject({ code: 'ERR_CODEC_LIMIT', message: `a bignum of ${maxBignumBytes + 1} bytes (the limit is ${maxBignumBytes})` });
    }
    // 8 MiB, the size that kept a VM at 100% CPU for 50 s.
    expect(refusal(bytesOf(0xc2, 0x5a, 0, 0x80, 0, 0, new Uint8Array(8 << 20))).code).toBe('ERR_CODEC_LIMIT');
  });
});

describe('tags', () => {
  test.each([
    [0, 'date string', head(3, 3)],
    [4, 'decimal fraction', bytesOf(0x82, 0x01, 0x02)],
    [5, 'big float', bytesOf(0x82, 0x01, 0x02)],
    [6, 'packed reference', bytesOf(0x01)],
    [14, 'bundled string', bytesOf(0x01)],
    [15, 'bundled string', bytesOf(0x01)],
    [25, 'string reference', bytesOf(0x01)],
    [28, 'shareable', bytesOf(0x80)],
    [29, 'shared reference', bytesOf(0x00)],
    [51, 'packed table', bytesOf(0x84, 0x81, 0x01, 0x80, 0x80, 0x00)],
    [216, 'packed suffix', bytesOf(0x01)],
    [230, 'packed prefix', bytesOf(0x01)],
    [256, 'string reference namespace', bytesOf(0x01)],
    [28704, 'packed prefix', bytesOf(0x01)],
    [0xdff9, 'bundled strings', bytesOf(0x01)],
    [0xdffe, 'record definition', bytesOf(0x01)],
    [0xdfff, 'record definitions', bytesOf(0x83, 0x19, 0xe0, 0x00, 0x81, 0x61, 0x61, 0x01)],
    [0xe000, 'record', bytesOf(0x81, 0x01)],
    [55799, 'self-described CBOR', bytesOf(0x01)],
    [0x53687264, 'shared structures', bytesOf(0x01)],
    [1879052288, 'packed prefix', bytesOf(0x01)],
  ])('tag %i (%s, which this codec never writes) is refused', (tag, _what, content) => {
    const error = refusal(tagged(tag, content));
    expect(error).toMatchObject({ code: 'ERR_CODEC_LIMIT', message: `tag ${tag} is not one this codec reads` });
  });

  test('shared references nested 30 deep (tags 28/29: cbor-x may read one twice) are refused at once', () => {
    let inner = bytesOf(0xd8, 0x1d, 0x00); // tag 29 (sharedref 0)
    for (let i = 0; i < 30; i++) inner = bytesOf(0xd8, 0x1c, 0xd9, 0x01, 0x03, 0xa1, 0x61, 0x6b, inner); // tag 28 (tag 259 {k: …})
    expect(refusal(inner).code).toBe('ERR_CODEC_LIMIT');
  });

  test.each([
    ['a bignum around a text string', tagged(2, head(3, 0))],
    ['a Set around a map', tagged(258, bytesOf(0xa0))],
    ['a Map around an array', tagged(259, bytesOf(0x80))],
    ['a Uint8Array around a number', tagged(64, bytesOf(0x05))],
    ['a Float64Array around an array', tagged(86, bytesOf(0x81, 0x01))],
    ['a Date around a string', tagged(1, bytesOf(0x61, 0x78))],
    ['a RegExp/Error (tag 27) around a number', tagged(27, bytesOf(0x01))],
  ])('%s is refused', (_what, bytes) => {
    expect(refusal(bytes)).toMatchObject({ code: 'ERR_CODEC_LIMIT', message: expect.stringMatching(/^tag \d+ around the wrong kind of value/) });
  });

  test('simple values from packed tables are refused; false, true, null, undefined and floats are not', () => {
    for (const bytes of [bytesOf(0xe0), bytesOf(0xf3), bytesOf(0xf8, 0x20)]) expect(refusal(bytes).code).toBe('ERR_CODEC_LIMIT');
    expect(decode(bytesOf(0x85, 0xf4, 0xf5, 0xf6, 0xf7, 0xf9, 0x3c, 0x00))).toEqual([false, true, null, undefined, 1]);
  });

  test("unknown tags outside cbor-x's special ranges still decode as Tag; an extension's tag decodes with it", () => {
    expect(decode(tagged(50_000, bytesOf(0x05)))).toMatchObject({ tag: 50_000, value: 5 });
    expect(decode(tagged(1299, bytesOf(0x05)))).toMatchObject({ tag: 1299, value: 5 });
    class Pt {
      constructor(readonly x: number) {}
    }
    // A tag an extension claims is read by it, even in a range cbor-x would otherwise refuse here.
    const codec = new Codec({ extensions: [defineExtension({ tag: 30_000, type: Pt, encode: (p) => p.x, decode: (x) => new Pt(x as number) })] });
    expect(codec.decode(codec.encode(new Pt(3)))).toEqual(new Pt(3));
    expect(refusal(tagged(30_000, bytesOf(0x03))).code).toBe('ERR_CODEC_LIMIT'); // the default codec has no such extension
  });
});

describe('Map and Set keys that collide in V8 hash tables', () => {
  /** V8's ComputeUnseededHash, to find int32 keys that share a bucket (as an attacker would). */
  function unseeded(key: number): number {
    let h = key >>> 0;
    h = (~h + (h << 15)) >>> 0;
    h = (h ^ (h >>> 12)) >>> 0;
    h = (h + (h << 2)) >>> 0;
    h = (h ^ (h >>> 4)) >>> 0;
    h = Math.imul(h, 2057) >>> 0;
    return ((h ^ (h >>> 16)) >>> 0) & 0x3fffffff;
  }
  const colliding = (n: number) => {
    const keys: number[] = [];
    for (let i = 1; keys.length < n; i++) if ((unseeded(i) & 0xfff) === 0) keys.push(i);
    return keys;
  };
  const setOf = (items: unknown[]) => tagged(258, encode(items));
  const mapOf = (keys: unknown[]) => tagged(259, bytesOf(head(5, keys.length), ...keys.map((k) => bytesOf(encode(k), 0x01))));

  test('a Set or Map of int keys in one bucket is refused', () => {
    const keys = colliding(5000);
    for (const bytes of [setOf(keys), mapOf(keys)]) {
      expect(refusal(bytes)).toMatchObject({ code: 'ERR_CODEC_LIMIT', message: expect.stringMatching(/a Map or Set of 5000 entries whose number or BigInt keys collide in V8's hash table/) });
    }
  });

  test('a Set of BigInts that differ only above their lowest 64 bits (V8 hashes those only) is refused, 8-byte integers too', () => {
    const bignums = Array.from({ length: 5000 }, (_, i) => (BigInt(i + 1) << 64n) | 12345n);
    expect(refusal(setOf(bignums)).code).toBe('ERR_CODEC_LIMIT');
    const negatives = Array.from({ length: 5000 }, (_, i) => -((BigInt(i + 1) << 64n) | 12345n));
    expect(refusal(setOf(negatives)).code).toBe('ERR_CODEC_LIMIT');
    // 8-byte integers are BigInts: as keys alongside their colliding bignums.
    expect(refusal(setOf([12345n, ...bignums.slice(0, 3000)])).code).toBe('ERR_CODEC_LIMIT');
  });

  test('string keys in a Map (its fast path) keep their places: colliding int keys after many string keys are still refused', () => {
    const strings = Array.from({ length: 3000 }, (_, i) => `w${i}`);
    const ints = colliding(5000);
    expect(refusal(mapOf([...strings, ...ints]))).toMatchObject({ code: 'ERR_CODEC_LIMIT', message: expect.stringMatching(/a Map or Set of 8000 entries/) });
    // Interleaved: string keys between the colliding ones.
    const mixed = ints.flatMap((k, i) => [k, `s${i}`]);
    expect(refusal(mapOf(mixed)).code).toBe('ERR_CODEC_LIMIT');
  });

  test('a string-keyed Map decodes exactly, whatever its values: scalars of every width, long keys and values, containers', () => {
    const prng = new Prng(3);
    const value = (i: number): unknown =>
      [i, -i, 2 ** 40 + i, -(2 ** 33) - i, i / 3, true, false, null, undefined, `v${i}`, 'x'.repeat(30 + (i % 50)), [i], { i }, new Uint8Array([i & 0xff])][i % 14];
    const key = (i: number) => (i % 97 === 0 ? `long key ${'k'.repeat(300)} ${i}` : i % 89 === 0 ? `ünïcödé ${i}` : `k${i}`);
    const map = new Map(Array.from({ length: 20_000 }, (_, i) => [key(i), value(i)]));
    expect(decode(encode(map))).toEqual(map);
    // Cut anywhere inside its run of pairs: a decode error, never anything else.
    const bytes = encode(map);
    for (let i = 0; i < 200; i++) {
      const cut = 10 + prng.int(bytes.length - 20);
      expect(refusal(bytes.subarray(0, cut)).code).toBe('ERR_CODEC_DECODE');
    }
  });

  test('ordinary collections are not refused: sequential, random, float, BigInt and string keys, large ones', () => {
    const prng = new Prng(9);
    const cases: unknown[] = [
      new Set(Array.from({ length: 200_000 }, (_, i) => i)),
      new Set(Array.from({ length: 100_000 }, () => prng.int(2 ** 31) - 2 ** 30)),
      new Set(Array.from({ length: 50_000 }, (_, i) => i * 1.5)),
      new Set(Array.from({ length: 50_000 }, (_, i) => i * 4096)),
      new Set(Array.from({ length: 20_000 }, () => (BigInt(prng.int(2 ** 30)) << 80n) + BigInt(prng.int(2 ** 30)))),
      new Set(Array.from({ length: 20_000 }, (_, i) => BigInt(i) * 2n ** 40n)),
      new Map(Array.from({ length: 100_000 }, (_, i) => [i * 7, { v: i }])),
      new Map(Array.from({ length: 50_000 }, (_, i) => [`w${i}`, i])),
      new Set(colliding(40)), // a few collisions are normal
    ];
    for (const value of cases) expect(decode(encode(value))).toEqual(value);
  });
});

test('checkDecodeLimits reads exactly one well-formed item and nothing else (malformed input is ERR_CODEC_DECODE)', () => {
  const no = () => false;
  expect(() => checkDecodeLimits(bytesOf(0x83, 0x01), no)).toThrow(expect.objectContaining({ code: 'ERR_CODEC_DECODE' }));
  expect(() => checkDecodeLimits(bytesOf(0x01, 0x02), no)).toThrow(/1 bytes after the value/);
  expect(() => checkDecodeLimits(bytesOf(0xff), no)).toThrow(/unexpected break/);
  expect(() => checkDecodeLimits(bytesOf(0x9f, 0x01, 0xff), no)).not.toThrow();
  expect(() => checkDecodeLimits(bytesOf(0xbf, 0x01, 0xff), no)).toThrow(/unexpected break/); // a key without a value
  expect(() => checkDecodeLimits(bytesOf(0x1c), no)).toThrow(/reserved additional information 28/);
  expect(() => checkDecodeLimits(bytesOf(0x9a, 0xff, 0xff, 0xff, 0xff), no)).toThrow(/truncated container/);
  // Random bytes: never anything but a CodecError, never a hang.
  const prng = new Prng(5);
  for (let i = 0; i < 5000; i++) {
    try {
      checkDecodeLimits(prng.bytes(1 + prng.int(64)), no);
    } catch (error) {
      expect(CodecError.isInstance(error)).toBe(true);
    }
  }
});
