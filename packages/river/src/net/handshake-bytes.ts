/**
 * What a frame may contain before its sender is authenticated: the handshake's shapes are arrays,
 * maps, text, byte strings, integers and simple values, a few levels deep. This walks the CBOR
 * bytes (RFC 8949 §3) without decoding them and refuses anything else — tags (bignums, typed
 * arrays, records: costly or pointless to decode for a stranger), indefinite lengths, deep
 * nesting — so the general decoder only ever sees a small, plain value from an unauthenticated
 * peer. Linear in the frame's size, which is itself capped at a few KiB.
 */
import { ProtocolError } from '../errors/protocol-error';

/** Deepest nesting of arrays and maps a handshake frame needs (HELLO/AUTH/READY: 3). */
const MAX_DEPTH = 4;

export function assertHandshakeBytes(bytes: Uint8Array): void {
  const end = skipItem(bytes, 0, 0);
  if (end !== bytes.byteLength) refuse('trailing bytes after the frame value');
}

/** Returns the offset after the item at `at`. */
function skipItem(b: Uint8Array, at: number, depth: number): number {
  if (at >= b.byteLength) refuse('truncated value');
  const initial = b[at]!;
  const major = initial >> 5;
  const info = initial & 0x1f;
  at += 1;
  if (info === 31) refuse('indefinite-length item');
  if (info >= 28) refuse('reserved additional information');
  let arg = info;
  if (info >= 24) {
    const size = 1 << (info - 24); // 1, 2, 4 or 8 bytes
    if (at + size > b.byteLength) refuse('truncated value');
    arg = 0;
    for (let i = 0; i < size; i++) arg = arg * 256 + b[at + i]!;
    at += size;
  }
  switch (major) {
    case 0:
    case 1:
    case 7:
      return at;
    case 2:
    case 3:
      if (at + arg > b.byteLength) refuse('truncated string');
      return at + arg;
    case 4:
    case 5: {
      if (depth >= MAX_DEPTH) refuse('nesting too deep');
      const items = major === 5 ? arg * 2 : arg;
      // Each item takes at least one byte: a count beyond what is left is a lie.
      if (items > b.byteLength - at) refuse('truncated container');
      for (let i = 0; i < items; i++) at = skipItem(b, at, depth + 1);
      return at;
    }
    default:
      return refuse('a tagged value (no tags are accepted before authentication)');
  }
}

function refuse(why: string): never {
  throw new ProtocolError({ message: `malformed handshake frame: ${why}` });
}
