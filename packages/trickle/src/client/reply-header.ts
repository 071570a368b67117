/**
 * The head of an encoded reply, read without decoding it: `{ id, ok, … }` as the RAI server
 * writes every reply (a CBOR map of 3 whose first keys are "id" — an unsigned integer — and "ok";
 * cbor-x writes an object's map header in its 3-byte form, other encoders in the 1-byte one).
 * Lets the client act on a reply's arrival (a scheduler hands out the next chunk) before the
 * possibly large value is decoded. Anything in another form gives undefined: the caller then
 * decodes first, as always. Pure function over bytes.
 */

/** `"id":` */
const ID_KEY = [0x62, 0x69, 0x64];
/** `"ok":` */
const OK_KEY = [0x62, 0x6f, 0x6b];
const CBOR_FALSE = 0xf4;
const CBOR_TRUE = 0xf5;

export interface ReplyHeader {
  id: number;
  ok: boolean;
}

export function peekReplyHeader(bytes: Uint8Array): ReplyHeader | undefined {
  if (bytes.length < 9) return undefined;
  // A map of 3 entries: 0xa3, or with its length in 1 or 2 bytes (0xb8 03, 0xb9 00 03).
  let at: number;
  if (bytes[0] === 0xa3) at = 1;
  else if (bytes[0] === 0xb8 && bytes[1] === 3) at = 2;
  else if (bytes[0] === 0xb9 && bytes[1] === 0 && bytes[2] === 3) at = 3;
  else return undefined;
  for (let i = 0; i < ID_KEY.length; i++) if (bytes[at + i] !== ID_KEY[i]) return undefined;
  at += ID_KEY.length;
  const first = bytes[at++]!;
  let id: number;
  if (first < 0x18) id = first;
  else if (first === 0x18) id = bytes[at++]!;
  else if (first === 0x19) {
    id = (bytes[at]! << 8) | bytes[at + 1]!;
    at += 2;
  } else if (first === 0x1a) {
    id = bytes[at]! * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
    at += 4;
  } else return undefined; // 64-bit ids (and anything else): decode first
  if (at > bytes.length) return undefined;
  if (at + OK_KEY.length + 1 > bytes.length) return undefined;
  for (let i = 0; i < OK_KEY.length; i++) if (bytes[at + i] !== OK_KEY[i]) return undefined;
  const ok = bytes[at + OK_KEY.length];
  return ok === CBOR_TRUE ? { id, ok: true } : ok === CBOR_FALSE ? { id, ok: false } : undefined;
}
