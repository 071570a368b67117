/**
 * The bounds every decode checks before cbor-x builds anything, so that what a peer sends costs
 * time linear in its size with a small constant: one pass over the bytes, without recursion and
 * without allocating the values. Refused (`CodecError` `ERR_CODEC_LIMIT`):
 *
 * - nesting deeper than `maxDepth` arrays, maps and tags (cbor-x reads recursively: past a few
 *   thousand levels it exhausts the stack, which took 5 to 100 ms to fail);
 * - a bignum (tag 2/3) over `maxBignumBytes`; bignums are then read in linear time (cbor-x's own
 *   reader is quadratic: 64 KiB took over 2 s);
 * - tags this codec does not write and cbor-x gives a costly or stateful meaning to: 0 (date
 *   string), 4/5 (decimal and big floats), 6/51 and 216–255 etc. (packed values), 14/15 (bundled
 *   strings), 25/256 (string references), 28/29 (shared references, which cbor-x may read
 *   twice), 0xdff9–0xffff (records: cbor-x keeps their definitions after the decode, for every
 *   later one), 55799 and the other cbor-x ranges — unless the codec has an extension for the tag;
 * - a known tag around the wrong kind of content (a typed array or bignum that is not a byte
 *   string, a Set that is not an array, a Map that is not a map, a Date that is not a number);
 * - simple values cbor-x reads from packed tables (anything but false, true, null, undefined);
 * - a Map or Set whose number or BigInt keys collide in V8's hash tables: V8 hashes numbers and
 *   BigInts without a seed (a BigInt by its lowest 64 bits only), so crafted keys all land in one
 *   bucket and building the collection is quadratic (40,000 such BigInts took 22 s). The key
 *   hashes V8 will compute are computed here, and a collection whose insertions would walk more
 *   than `maxHashSteps` bucket entries per key on average (random keys walk about one) is refused.
 */
import { CodecError } from './errors/codec-error';

export interface DecodeLimits {
  /** Deepest nesting of arrays, maps and tags. */
  readonly maxDepth: number;
  /** Largest bignum (tag 2/3) magnitude, in bytes. */
  readonly maxBignumBytes: number;
  /** Most hash-bucket entries a Map or Set may walk per key, on average (plus a fixed 4,096). */
  readonly maxHashSteps: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({
  maxDepth: 512,
  maxBignumBytes: 64 * 1024,
  maxHashSteps: 8,
});

/** Tags cbor-x reads for this codec (table in docs/protocol.md), with what their content must be. */
const enum Content {
  Any,
  Bytes,
  Array,
  Map,
  Number,
}
const TYPED_ARRAY_TAGS = [64, 68, 69, 70, 71, 72, 77, 78, 79, 85, 86, 65, 66, 67, 73, 74, 75, 81, 82];
const BUILTIN_TAGS = new Map<number, Content>([
  [1, Content.Number],
  [2, Content.Bytes],
  [3, Content.Bytes],
  [27, Content.Array],
  [258, Content.Array],
  [259, Content.Map],
  ...TYPED_ARRAY_TAGS.map((t) => [t, Content.Bytes] as [number, Content]),
]);

/** An unregistered tag that cbor-x returns as a plain `Tag` (no special meaning to it). */
function isInertTag(tag: number): boolean {
  return (tag >= 256 && tag < 27647 && tag !== 258 && tag !== 259 && tag !== 256) || (tag > 32767 && tag < 0xdff9 && tag !== 55799);
}

const KIND_ARRAY = 0;
const KIND_MAP = 1;
/** A tag's one content item. */
const KIND_TAG = 2;

function limitError(message: string): CodecError {
  return new CodecError('ERR_CODEC_LIMIT', message);
}

function malformed(at: number, why: string): CodecError {
  return new CodecError('ERR_CODEC_DECODE', `malformed CBOR at byte ${at}: ${why}`);
}

/**
 * Checks that `bytes` hold exactly one CBOR item within `limits` that the codec can decode in
 * linear time; throws `CodecError` (`ERR_CODEC_LIMIT`, or `ERR_CODEC_DECODE` for bytes that are
 * not well-formed) otherwise. `hasExtension(tag)`: whether the codec has an extension for `tag`.
 *
 * A hot path (it runs before every decode): one loop, the open containers in typed arrays.
 */
export function checkDecodeLimits(bytes: Uint8Array, hasExtension: (tag: number) => boolean, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): void {
  const end = bytes.length;
  const maxDepth = limits.maxDepth;
  // The open containers, innermost at depth - 1: what kind, items still to come (-1 for an
  // indefinite length, which a break byte ends), items seen (a map's keys are the even ones),
  // the tag of a tag frame, and for a Map or Set the V8 hashes of its keys (-1: seeded, ignored).
  // (Scratch arrays kept between calls: a call never runs inside another.)
  if (scratch.kinds.length < maxDepth) scratch = newScratch(maxDepth);
  const { kinds, remaining, seen, tags, hashes } = scratch;
  let depth = 0;
  let pos = 0;
  let hi64 = 0;
  let lo64 = 0;

  for (;;) {
    // Fast path: a run of scalars (numbers, strings, simple values) inside an array or a plain
    // map needs no check but its bounds, so it is skipped in one tight loop.
    if (depth > 0 && remaining[depth - 1]! > 1 && kinds[depth - 1] !== KIND_TAG && hashes[depth - 1] === undefined) {
      const t = depth - 1;
      let left = remaining[t]!;
      let skipped = 0;
      while (left > 1 && pos < end) {
        const ib = bytes[pos]!;
        const mj = ib >> 5;
        const inf = ib & 0x1f;
        let next: number;
        if (mj === 0 || mj === 1) {
          if (inf < 24) next = pos + 1;
          else if (inf < 28) next = pos + 1 + (1 << (inf - 24));
          else break;
        } else if (mj === 2 || mj === 3) {
          let len: number;
          if (inf < 24) {
            len = inf;
            next = pos + 1;
          } else if (inf === 24 && pos + 1 < end) {
            len = bytes[pos + 1]!;
            next = pos + 2;
          } else if (inf === 25 && pos + 2 < end) {
            len = (bytes[pos + 1]! << 8) | bytes[pos + 2]!;
            next = pos + 3;
          } else break; // longer strings, and malformed ones, take the general path
          next += len;
        } else if (mj === 7) {
          if (inf >= 20 && inf <= 23) next = pos + 1;
          else if (inf === 25) next = pos + 3;
          else if (inf === 26) next = pos + 5;
          else if (inf === 27) next = pos + 9;
          else break;
        } else break;
        if (next > end) break; // truncated: the general path says so
        pos = next;
        left--;
        skipped++;
      }
      remaining[t] = left;
      seen[t]! += skipped;
    }
    // Fast path for a Map (tag 259) whose keys are text strings, as word counts are: a run of
    // pairs of a short text key and a scalar value. A text key is hashed with a seed by V8 (it
    // cannot be made to collide), so it only takes its place in the key list (-1).
    if (depth > 0 && kinds[depth - 1] === KIND_MAP && remaining[depth - 1]! > 2 && seen[depth - 1]! % 2 === 0 && hashes[depth - 1] !== undefined) {
      const t = depth - 1;
      const keys = hashes[t]!;
      let left = remaining[t]!;
      let skipped = 0;
      while (left > 2 && pos < end) {
        // The key: a text string with its length in the initial byte or the next one or two.
        const kb = bytes[pos]!;
        if (kb >> 5 !== 3) break;
        const kinf = kb & 0x1f;
        let next: number;
        if (kinf < 24) next = pos + 1 + kinf;
        else if (kinf === 24 && pos + 1 < end) next = pos + 2 + bytes[pos + 1]!;
        else if (kinf === 25 && pos + 2 < end) next = pos + 3 + ((bytes[pos + 1]! << 8) | bytes[pos + 2]!);
        else break;
        if (next >= end) break; // truncated, or no room for a value: the general path says so
        // The value: an integer, a float, false/true/null/undefined, or a short text string.
        const vb = bytes[next]!;
        const vmj = vb >> 5;
        const vinf = vb & 0x1f;
        let after: number;
        if (vmj === 0 || vmj === 1) {
          if (vinf < 24) after = next + 1;
          else if (vinf < 28) after = next + 1 + (1 << (vinf - 24));
          else break;
        } else if (vmj === 3 && vinf < 24) {
          after = next + 1 + vinf;
        } else if (vmj === 7) {
          if (vinf >= 20 && vinf <= 23) after = next + 1;
          else if (vinf === 25) after = next + 3;
          else if (vinf === 26) after = next + 5;
          else if (vinf === 27) after = next + 9;
          else break;
        } else break;
        if (after > end) break;
        keys.push(-1);
        pos = after;
        left -= 2;
        skipped += 2;
      }
      remaining[t] = left;
      seen[t]! += skipped;
    }
    if (pos >= end) throw malformed(pos, 'truncated');
    const initial = bytes[pos]!;
    const top = depth - 1;
    if (initial === 0xff) {
      // The break byte ends an indefinite-length container.
      if (depth === 0 || remaining[top] !== -1 || (kinds[top] === KIND_MAP && seen[top]! % 2 === 1)) throw malformed(pos, 'unexpected break');
      pos++;
      const closing = hashes[top];
      if (closing !== undefined) {
        hashes[top] = undefined;
        checkHashSteps(closing, limits);
      }
      depth--;
    } else {
      pos++;
      const major = initial >> 5;
      const info = initial & 0x1f;
      // A key of a Map or Set, whose hash V8 computes?
      const collection = depth > 0 ? hashes[top] : undefined;
      const keyOf = collection !== undefined && (kinds[top] === KIND_ARRAY || seen[top]! % 2 === 0) ? collection : undefined;
      const inTag = depth > 0 && kinds[top] === KIND_TAG ? tags[top]! : -1;
      if (inTag >= 0) checkContent(inTag, major, info, hasExtension);
      // The argument.
      let arg = info;
      if (info >= 24) {
        if (info === 24) {
          if (pos + 1 > end) throw malformed(pos, 'truncated');
          arg = bytes[pos]!;
          pos += 1;
        } else if (info === 25) {
          if (pos + 2 > end) throw malformed(pos, 'truncated');
          arg = (bytes[pos]! << 8) | bytes[pos + 1]!;
          pos += 2;
        } else if (info === 26) {
          if (pos + 4 > end) throw malformed(pos, 'truncated');
          arg = ((bytes[pos]! << 24) >>> 0) + ((bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!);
          pos += 4;
        } else if (info === 27) {
          if (pos + 8 > end) throw malformed(pos, 'truncated');
          hi64 = ((bytes[pos]! << 24) >>> 0) + ((bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!);
          lo64 = ((bytes[pos + 4]! << 24) >>> 0) + ((bytes[pos + 5]! << 16) | (bytes[pos + 6]! << 8) | bytes[pos + 7]!);
          arg = hi64 * 0x100000000 + lo64;
          pos += 8;
        } else if (info === 31 && (major === 4 || major === 5)) {
          arg = -1; // indefinite length
        } else if (!(info === 31 && (major === 2 || major === 3))) {
          if (major !== 7) throw malformed(pos - 1, `reserved additional information ${info}`);
        }
      }
      let opened = false;
      switch (major) {
        case 0:
        case 1:
          // Integers: up to 4-byte arguments they are numbers; 8-byte ones are BigInts.
          if (keyOf !== undefined) keyOf.push(info === 27 ? bigIntHash(hi64, lo64, major === 1) : numberHash(major === 0 ? arg : -1 - arg));
          break;
        case 2:
        case 3:
          if (info === 31) throw limitError('indefinite-length strings are not read');
          if (arg > end - pos) throw malformed(pos, 'truncated string');
          if ((inTag === 2 || inTag === 3) && !hasExtension(inTag)) {
            if (arg > limits.maxBignumBytes) throw limitError(`a bignum of ${arg} bytes (the limit is ${limits.maxBignumBytes})`);
            // A bignum that is a key: its tag frame holds the collection.
            const tagKeyOf = hashes[top];
            if (tagKeyOf !== undefined) {
              hashes[top] = undefined;
              tagKeyOf.push(bignumHash(bytes, pos, arg, inTag === 3));
            }
          } else if (keyOf !== undefined) {
            keyOf.push(-1); // strings (and byte strings, which are objects) are hashed with a seed
          }
          pos += arg;
          break;
        case 4:
        case 5:
          if (keyOf !== undefined) keyOf.push(-1);
          // Every item takes at least one byte: a count beyond what is left is a lie.
          if (arg > (end - pos) / (major === 5 ? 2 : 1)) throw malformed(pos, 'truncated container');
          if (arg !== 0) {
            if (depth >= maxDepth) throw limitError(`nesting deeper than ${maxDepth} levels`);
            kinds[depth] = major === 4 ? KIND_ARRAY : KIND_MAP;
            remaining[depth] = arg === -1 ? -1 : major === 5 ? arg * 2 : arg;
            seen[depth] = 0;
            // The content of tag 258 (Set) or 259 (Map) becomes a V8 hash table.
            hashes[depth] = (inTag === 258 && major === 4) || (inTag === 259 && major === 5) ? (hasExtension(inTag) ? undefined : []) : undefined;
            depth++;
            opened = true;
          }
          break;
        case 6: {
          if (info === 31) throw malformed(pos - 1, 'indefinite tag');
          const tag = arg;
          if (!BUILTIN_TAGS.has(tag) && !isInertTag(tag) && !hasExtension(tag)) throw limitError(`tag ${tag} is not one this codec reads`);
          if (depth >= maxDepth) throw limitError(`nesting deeper than ${maxDepth} levels`);
          kinds[depth] = KIND_TAG;
          remaining[depth] = 1;
          seen[depth] = 0;
          tags[depth] = tag;
          // A tagged key: a BigInt (tag 2/3) is hashed from its content, anything else is an object.
          hashes[depth] = undefined;
          if (keyOf !== undefined) {
            if ((tag === 2 || tag === 3) && !hasExtension(tag)) hashes[depth] = keyOf;
            else keyOf.push(-1);
          }
          depth++;
          opened = true;
          break;
        }
        default:
          // Major 7: false, true, null, undefined and floats; cbor-x reads other simple values
          // from packed-value tables, which this codec never sends.
          if (info >= 20 && info <= 23) {
            if (keyOf !== undefined) keyOf.push(-1);
          } else if (info === 25 || info === 26 || info === 27) {
            if (keyOf !== undefined) {
              pos -= info === 25 ? 2 : info === 26 ? 4 : 8;
              keyOf.push(numberHash(floatAt(bytes, pos, info)));
              pos += info === 25 ? 2 : info === 26 ? 4 : 8;
            }
          } else {
            throw limitError(`simple value ${info === 24 ? arg : info} is not one this codec reads`);
          }
      }
      if (opened) continue;
    }
    // An item is complete: count it in its container and close the containers it fills.
    for (;;) {
      if (depth === 0) {
        if (pos !== end) throw malformed(pos, `${end - pos} bytes after the value`);
        return;
      }
      const t = depth - 1;
      seen[t]!++;
      if (remaining[t] === -1) break;
      if (--remaining[t]! > 0) break;
      const closing = hashes[t];
      if (closing !== undefined && kinds[t] !== KIND_TAG) {
        hashes[t] = undefined;
        checkHashSteps(closing, limits);
      }
      hashes[t] = undefined;
      depth--;
    }
  }
}

function newScratch(size: number) {
  return {
    kinds: new Uint8Array(size),
    remaining: new Float64Array(size),
    seen: new Float64Array(size),
    tags: new Float64Array(size),
    hashes: new Array<number[] | undefined>(size).fill(undefined),
  };
}
let scratch = newScratch(DEFAULT_DECODE_LIMITS.maxDepth);

/** A float key's value (half, single or double precision). */
function floatAt(bytes: Uint8Array, at: number, info: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, info === 25 ? 2 : info === 26 ? 4 : 8);
  return info === 25 ? halfToNumber(view.getUint16(0)) : info === 26 ? view.getFloat32(0) : view.getFloat64(0);
}

/** V8's hash of a BigInt read from an 8-byte integer: its magnitude (n, or n + 1 when negative) by its lowest 64 bits. */
function bigIntHash(hi: number, lo: number, negative: boolean): number {
  if (negative) {
    lo = (lo + 1) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
    return longHash(hi, lo);
  }
  return hi === 0 && lo === 0 ? 0 : longHash(hi, lo);
}

/** The content of tag `tag` must be what the codec writes there. */
function checkContent(tag: number, major: number, info: number, hasExtension: (tag: number) => boolean): void {
  if (hasExtension(tag)) return;
  const wanted = BUILTIN_TAGS.get(tag);
  if (wanted === undefined || wanted === Content.Any) return;
  const ok =
    wanted === Content.Bytes
      ? major === 2
      : wanted === Content.Array
        ? major === 4
        : wanted === Content.Map
          ? major === 5
          : major === 0 || major === 1 || (major === 7 && info >= 25 && info <= 27);
  if (!ok) throw limitError(`tag ${tag} around the wrong kind of value (${['an unsigned integer', 'a negative integer', 'a byte string', 'a text string', 'an array', 'a map', 'a tag', 'a simple value or float'][major]})`);
}

/**
 * Simulates V8's insertion of these keys into an OrderedHashMap/Set (capacity doubling from 4,
 * buckets = capacity / 2, a new key walks its bucket's chain) and refuses it when the walk is
 * more than `maxHashSteps` per key on average. Keys hashed with a seed (-1) count as not
 * colliding with anything.
 */
function checkHashSteps(hashes: number[], limits: DecodeLimits): void {
  const n = hashes.length;
  if (n < 64) return;
  // Keys that are all seeded (strings, objects) walk nothing that can be forced: no tables to build.
  let numeric = false;
  for (let i = 0; i < n; i++) {
    if (hashes[i]! >= 0) {
      numeric = true;
      break;
    }
  }
  if (!numeric) return;
  let steps = 0;
  const budget = limits.maxHashSteps * n + 4096;
  let counts = new Uint32Array(0);
  for (let capacity = 4; capacity / 2 < n; capacity *= 2) {
    const buckets = capacity / 2;
    const mask = buckets - 1;
    if (counts.length !== buckets) counts = new Uint32Array(buckets);
    else counts.fill(0);
    // The keys inserted before this table was made are rehashed into it…
    const first = capacity === 4 ? 0 : capacity / 2;
    for (let i = 0; i < first; i++) {
      const h = hashes[i]!;
      if (h >= 0) counts[h & mask]!++;
    }
    // …and each new one walks its bucket.
    const last = Math.min(capacity, n);
    for (let i = first; i < last; i++) {
      const h = hashes[i]!;
      if (h < 0) continue;
      steps += counts[h & mask]!;
      counts[h & mask]!++;
    }
    if (steps > budget) {
      throw limitError(`a Map or Set of ${n} entries whose number or BigInt keys collide in V8's hash table (${steps} bucket steps to build it, the limit is ${budget})`);
    }
  }
}

/** V8's hash of a number key (`Object::GetSimpleHash`): int32 values by their value, others by their bits. */
function numberHash(value: number): number {
  if (Number.isNaN(value)) return 0x7fffffff;
  if (value >= -0x80000000 && value <= 0x7fffffff && Math.trunc(value) === value) return unseededHash(value | 0);
  f64[0] = value;
  return longHash(u32[LITTLE ? 1 : 0]!, u32[LITTLE ? 0 : 1]!);
}

/** V8's hash of a BigInt read from a tag 2/3 byte string: its magnitude's lowest 64 bits. */
function bignumHash(bytes: Uint8Array, at: number, length: number, negative: boolean): number {
  let hi = 0;
  let lo = 0;
  let zero = true;
  for (let i = Math.max(0, length - 8); i < length; i++) {
    const b = bytes[at + i]!;
    hi = ((hi << 8) | (lo >>> 24)) >>> 0;
    lo = ((lo << 8) | b) >>> 0;
  }
  for (let i = 0; i < length && zero; i++) if (bytes[at + i] !== 0) zero = false;
  if (negative) {
    // tag 3 holds n for the value -1 - n: the magnitude is n + 1.
    lo = (lo + 1) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
    zero = false;
  }
  return zero ? 0 : longHash(hi, lo);
}

/** V8's `ComputeUnseededHash` (Thomas Wang's 32-bit integer hash). */
function unseededHash(key: number): number {
  let h = key >>> 0;
  h = (~h + (h << 15)) >>> 0;
  h = (h ^ (h >>> 12)) >>> 0;
  h = (h + (h << 2)) >>> 0;
  h = (h ^ (h >>> 4)) >>> 0;
  h = Math.imul(h, 2057) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h & 0x3fffffff;
}

/** V8's `ComputeLongHash` of the 64-bit value hi:lo, on 32-bit halves. */
function longHash(hi: number, lo: number): number {
  // hash = ~hash + (hash << 18)
  let sl = (lo << 18) >>> 0;
  let sh = ((hi << 18) | (lo >>> 14)) >>> 0;
  [hi, lo] = add64(~hi >>> 0, ~lo >>> 0, sh, sl);
  // hash ^= hash >>> 31
  [hi, lo] = [hi, (lo ^ (((lo >>> 31) | (hi << 1)) >>> 0)) >>> 0];
  hi = (hi ^ (hi >>> 31)) >>> 0;
  // hash *= 21
  [hi, lo] = mul64small(hi, lo, 21);
  // hash ^= hash >>> 11
  lo = (lo ^ (((lo >>> 11) | (hi << 21)) >>> 0)) >>> 0;
  hi = (hi ^ (hi >>> 11)) >>> 0;
  // hash += hash << 6
  sl = (lo << 6) >>> 0;
  sh = ((hi << 6) | (lo >>> 26)) >>> 0;
  [hi, lo] = add64(hi, lo, sh, sl);
  // hash ^= hash >>> 22
  lo = (lo ^ (((lo >>> 22) | (hi << 10)) >>> 0)) >>> 0;
  hi = (hi ^ (hi >>> 22)) >>> 0;
  return lo & 0x3fffffff;
}

function add64(ah: number, al: number, bh: number, bl: number): [number, number] {
  const lo = al + bl;
  const carry = lo > 0xffffffff ? 1 : 0;
  return [(ah + bh + carry) >>> 0, lo >>> 0];
}

function mul64small(hi: number, lo: number, k: number): [number, number] {
  const l = lo * k; // < 2^37: exact
  const carry = Math.floor(l / 0x100000000);
  return [(Math.imul(hi, k) + carry) >>> 0, l >>> 0];
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** An IEEE 754 half-precision float. */
function halfToNumber(half: number): number {
  const exponent = (half >> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  const sign = half & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? Number.NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
