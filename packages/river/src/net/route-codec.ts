/**
 * The hot path of the wire: ROUTE frames written and read by hand. The bytes are exactly the CBOR
 * any decoder reads as `[10, dest, src, body]` or `[10, dest, src, body, flags]` (array, unsigned
 * int, two text strings, a byte string, an unsigned int), so this is an optimisation, not a second
 * format: a frame from a general CBOR encoder (e.g. with the body tagged as a typed array) is
 * read by the general path. Pure functions over bytes; tested byte by byte.
 */
import { FRAME_HEADER_BYTES } from '@river/sfm';

import { FrameKind, type RouteFrame } from '../protocol';

function headerSize(len: number): number {
  return len < 24 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
}

function writeHeader(buf: Buffer, at: number, major: number, len: number): number {
  const m = major << 5;
  if (len < 24) {
    buf[at] = m | len;
    return at + 1;
  }
  if (len < 0x100) {
    buf[at] = m | 24;
    buf[at + 1] = len;
    return at + 2;
  }
  if (len < 0x10000) {
    buf[at] = m | 25;
    buf.writeUInt16BE(len, at + 1);
    return at + 3;
  }
  buf[at] = m | 26;
  buf.writeUInt32BE(len, at + 1);
  return at + 5;
}

/** One complete frame (4-byte length + CBOR payload) carrying a ROUTE. */
export function encodeRouteFrame(dest: string, src: string, body: Uint8Array, flags = 0): Uint8Array {
  const destLen = Buffer.byteLength(dest);
  const srcLen = Buffer.byteLength(src);
  const payload =
    1 + 1 + headerSize(destLen) + destLen + headerSize(srcLen) + srcLen + headerSize(body.byteLength) + body.byteLength + (flags ? headerSize(flags) : 0);
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload);
  buf.writeUInt32BE(payload, 0);
  let at = FRAME_HEADER_BYTES;
  buf[at++] = flags ? 0x85 : 0x84; // array(5) / array(4)
  buf[at++] = FrameKind.ROUTE; // unsigned int 10
  at = writeHeader(buf, at, 3, destLen);
  at += buf.write(dest, at, 'utf8');
  at = writeHeader(buf, at, 3, srcLen);
  at += buf.write(src, at, 'utf8');
  at = writeHeader(buf, at, 2, body.byteLength);
  buf.set(body, at);
  at += body.byteLength;
  if (flags) writeHeader(buf, at, 0, flags);
  return buf;
}

/** Reads a length argument; returns [value, next offset] or undefined when malformed/unsupported. */
function readLength(p: Uint8Array, at: number, major: number): [number, number] | undefined {
  const b = p[at];
  if (b === undefined || b >> 5 !== major) return undefined;
  const info = b & 0x1f;
  if (info < 24) return [info, at + 1];
  if (info === 24 && at + 1 < p.length) return [p[at + 1]!, at + 2];
  if (info === 25 && at + 2 < p.length) return [(p[at + 1]! << 8) | p[at + 2]!, at + 3];
  if (info === 26 && at + 4 < p.length) return [((p[at + 1]! << 24) >>> 0) + ((p[at + 2]! << 16) | (p[at + 3]! << 8) | p[at + 4]!), at + 5];
  return undefined;
}

/**
 * A ROUTE frame's payload read by hand, or undefined when the payload is anything else (or any
 * variant this reader does not take): the caller then decodes it as general CBOR. The body is a
 * view into `payload` (no copy).
 */
export function decodeRoutePayload(payload: Uint8Array): RouteFrame | undefined {
  const first = payload[0];
  if ((first !== 0x84 && first !== 0x85) || payload[1] !== FrameKind.ROUTE) return undefined;
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = 2;
  const d = readLength(payload, at, 3);
  if (!d || d[1] + d[0] > payload.length) return undefined;
  const dest = buf.toString('utf8', d[1], d[1] + d[0]);
  at = d[1] + d[0];
  const s = readLength(payload, at, 3);
  if (!s || s[1] + s[0] > payload.length) return undefined;
  const src = buf.toString('utf8', s[1], s[1] + s[0]);
  at = s[1] + s[0];
  const b = readLength(payload, at, 2);
  if (!b || b[1] + b[0] > payload.length) return undefined;
  const body = payload.subarray(b[1], b[1] + b[0]);
  at = b[1] + b[0];
  if (first === 0x84) return at === payload.length ? [FrameKind.ROUTE, dest, src, body] : undefined;
  const f = readLength(payload, at, 0);
  if (!f || f[1] !== payload.length) return undefined;
  return [FrameKind.ROUTE, dest, src, body, f[0]];
}
