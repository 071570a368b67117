/**
 * The hot path of the RAI messages: the body `{ tag: 'trickle:rai', b: <batch> }` written and read
 * by hand. The bytes are exactly the CBOR any SFM decoder reads as that message (a map of two
 * text keys, `b` a byte string), so this is an optimisation, not a second format: River carries
 * the body as is (`sendEncoded`), the other end takes it before River decodes it
 * (`interceptFrom`), and a body in any other form (e.g. from a general encoder) is read by the
 * general path. Each batch is built once, in its final place, instead of being copied into an
 * SFM message and decoded back out of it. Pure functions over bytes.
 */
import { decode } from '@river/sfm';
import type { BatchHeader } from '../worker/batch';
import { RAI_TAG } from './tags';

/** `{` (map of 2) `"tag": "trickle:rai", "b":` — everything before the byte string's header. */
const PREFIX = Buffer.concat([
  Buffer.from([0xa2]),
  textString('tag'),
  textString(RAI_TAG),
  textString('b'),
]);

function textString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length >= 24) throw new RangeError('rai-body: tag too long for a one-byte header');
  return Buffer.concat([Buffer.from([0x60 | bytes.length]), bytes]);
}

/** Size of a CBOR byte-string header for `length` bytes (shortest form). */
function byteStringHeaderSize(length: number): number {
  return length < 24 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}

/** Writes the body's header (before a batch of `batchBytes` bytes) into `out`. */
export const raiBodyHeader: BatchHeader = {
  size: (batchBytes) => PREFIX.length + byteStringHeaderSize(batchBytes),
  write(out, batchBytes) {
    out.set(PREFIX, 0);
    let at = PREFIX.length;
    if (batchBytes < 24) {
      out[at] = 0x40 | batchBytes;
    } else if (batchBytes < 0x100) {
      out[at] = 0x58;
      out[at + 1] = batchBytes;
    } else if (batchBytes < 0x10000) {
      out[at] = 0x59;
      out[at + 1] = batchBytes >>> 8;
      out[at + 2] = batchBytes & 0xff;
    } else {
      out[at] = 0x5a;
      out[at + 1] = batchBytes >>> 24;
      out[at + 2] = (batchBytes >>> 16) & 0xff;
      out[at + 3] = (batchBytes >>> 8) & 0xff;
      out[at + 4] = batchBytes & 0xff;
    }
  },
};

/**
 * The batch in a body written as above (a view, no copy), or undefined when `body` is anything
 * else: the caller then lets the general path decode it.
 */
export function raiBatchOf(body: Uint8Array): Uint8Array | undefined {
  const n = PREFIX.length;
  if (body.length <= n) return undefined;
  for (let i = 0; i < n; i++) if (body[i] !== PREFIX[i]) return undefined;
  const first = body[n]!;
  let length: number;
  let at: number;
  if (first >= 0x40 && first < 0x58) {
    length = first - 0x40;
    at = n + 1;
  } else if (first === 0x58 && body.length >= n + 2) {
    length = body[n + 1]!;
    at = n + 2;
  } else if (first === 0x59 && body.length >= n + 3) {
    length = (body[n + 1]! << 8) | body[n + 2]!;
    at = n + 3;
  } else if (first === 0x5a && body.length >= n + 5) {
    length = body[n + 1]! * 0x1000000 + ((body[n + 2]! << 16) | (body[n + 3]! << 8) | body[n + 4]!);
    at = n + 5;
  } else {
    return undefined;
  }
  return at + length === body.length ? body.subarray(at) : undefined;
}

/**
 * The batch a RAI message body carries — read by hand in the usual form, else decoded — or
 * undefined when the body is another message (`river:exit`, a bounce, `trickle:end`).
 */
export function readRaiBody(body: Uint8Array): Uint8Array | undefined {
  const batch = raiBatchOf(body);
  if (batch !== undefined) return batch;
  let msg: unknown;
  try {
    msg = decode(body);
  } catch {
    return undefined;
  }
  const { tag, b } = (msg ?? {}) as { tag?: unknown; b?: unknown };
  return tag === RAI_TAG && b instanceof Uint8Array ? b : undefined;
}
