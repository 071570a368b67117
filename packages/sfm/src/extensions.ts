/**
 * The one place where CBOR tags are assigned. docs/protocol.md ("SFM codec and frames") shows
 * this table; change both together.
 *
 * Standard tags that cbor-x writes and reads for us:
 *   1 Date (epoch seconds) · 2/3 BigInt beyond 64 bits · 64–87 typed arrays (RFC 8746)
 *   258 Set · 259 Map (explicit map, so Maps stay Maps) · 27 Error (cbor-x's own, read only)
 * Tags this project assigns (block 1200–1299, private: not registered with IANA):
 *   1200–1219 @river/sfm · 1220–1259 @river/engine · 1260–1299 @trickle/core
 *
 * Why so low: cbor-x looks decoders up in an array indexed by tag, which V8 keeps dense (fast)
 * only while no tag lies far beyond cbor-x's own (the largest is 259). One tag near 2000 or
 * above turns it into a dictionary and slows the decoding of every tagged value (Date, Map, Set,
 * typed arrays) by about a quarter (measured with a tag of 41000).
 */
import type { CodecExtension } from './codec-extension';
import { errorFromData, errorToData } from './error-data';

export const SFM_TAGS = {
  /** An Error: { name, message, stack?, cause?, errors?, props? }. */
  error: 1200,
  /** An ArrayBuffer: its bytes (an untagged byte string). */
  arrayBuffer: 1201,
  /** A DataView: the bytes it views. */
  dataView: 1202,
} as const;

/** First and last tag of the block this project (SFM, River, Trickle) assigns. */
export const PROJECT_TAG_RANGE = { first: 1200, last: 1299 } as const;
const SFM_TAG_RANGE = { first: 1200, last: 1219 } as const;

/**
 * Tags an extension may not use: below 256 (the core tags, which cbor-x mostly handles
 * itself), those cbor-x gives a meaning to, and the block reserved for SFM itself.
 */
export function isReservedTag(tag: number): boolean {
  return (
    tag < 256 ||
    tag === 258 || // Set
    tag === 259 || // explicit Map
    tag === 55799 || // self-described CBOR
    (tag >= 0xdff9 && tag <= 0xdfff) || // cbor-x records and bundled strings
    tag === 0x53687264 || // cbor-x shared structures ('Shrd')
    (tag >= SFM_TAG_RANGE.first && tag <= SFM_TAG_RANGE.last)
  );
}

/** Extensions every codec has; a codec's own extension for `Error` replaces the first one. */
export const builtinExtensions: readonly CodecExtension[] = [
  {
    tag: SFM_TAGS.error,
    type: Error,
    encode: (error: Error) => errorToData(error, SFM_TAGS.error),
    decode: (data) => errorFromData(data),
  } satisfies CodecExtension<Error>,
  {
    tag: SFM_TAGS.arrayBuffer,
    type: ArrayBuffer,
    encode: (buffer: ArrayBuffer) => Buffer.from(buffer),
    decode: (data) => copyBytes(data).buffer,
  } satisfies CodecExtension<ArrayBuffer>,
  {
    tag: SFM_TAGS.dataView,
    type: DataView,
    encode: (view: DataView) => Buffer.from(view.buffer, view.byteOffset, view.byteLength),
    decode: (data) => new DataView(copyBytes(data).buffer),
  } satisfies CodecExtension<DataView>,
];

/** A fresh copy (with its own ArrayBuffer) of a decoded byte string. */
function copyBytes(data: unknown): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new TypeError('expected a byte string');
  return new Uint8Array(data);
}
