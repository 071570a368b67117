/**
 * Packing a tick's messages for a MessagePort: every `(uuid, body, flags)` of one flush goes into
 * one ArrayBuffer that is transferred, not cloned, so a burst of N messages costs one buffer and
 * one post instead of N structured clones. Entry layout: u8 flags, u16 uuid length, uuid (UTF-8),
 * u32 body length, body. Bodies read back are views into the one buffer (no copy).
 */

export interface PackedEntry {
  /** dest (VR → engine) or src (engine → VR). */
  uuid: string;
  body: Uint8Array;
  flags: number;
}

/** Packs entries; returns a Uint8Array over its own ArrayBuffer (safe to transfer). */
export function packEntries(entries: ArrayLike<PackedEntry> & Iterable<PackedEntry>): Uint8Array<ArrayBuffer> {
  let size = 0;
  const lens = new Array<number>(entries.length);
  let i = 0;
  for (const e of entries) {
    const n = Buffer.byteLength(e.uuid);
    lens[i++] = n;
    size += 1 + 2 + n + 4 + e.body.byteLength;
  }
  const buf = Buffer.from(new ArrayBuffer(size));
  let at = 0;
  i = 0;
  for (const e of entries) {
    buf[at] = e.flags;
    buf.writeUInt16BE(lens[i]!, at + 1);
    at += 3;
    at += buf.write(e.uuid, at, lens[i++]!, 'utf8');
    buf.writeUInt32BE(e.body.byteLength, at);
    at += 4;
    buf.set(e.body, at);
    at += e.body.byteLength;
  }
  return new Uint8Array(buf.buffer, 0, size);
}

/** Calls `fn` for every entry of a packed buffer, in order. */
export function unpackEntries(packed: Uint8Array, fn: (uuid: string, body: Uint8Array, flags: number) => void): void {
  const buf = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  let at = 0;
  const end = packed.byteLength;
  while (at < end) {
    const flags = buf[at]!;
    const n = buf.readUInt16BE(at + 1);
    at += 3;
    const uuid = buf.toString('utf8', at, at + n);
    at += n;
    const len = buf.readUInt32BE(at);
    at += 4;
    fn(uuid, packed.subarray(at, at + len), flags);
    at += len;
  }
}

/** Port item kind of a packed run of messages (see protocol.ts: ToEngine / ToVR). */
export const PACKED = 5;

/**
 * Replaces every run of message items (`[0, uuid, body, flags?]`) in an outbox with one
 * `[PACKED, bytes]` item; returns what to post and the buffers to transfer.
 */
export function packOutbox<T extends readonly unknown[]>(items: T[]): { items: unknown[]; transfer: ArrayBuffer[] } {
  const out: unknown[] = [];
  const transfer: ArrayBuffer[] = [];
  let run: PackedEntry[] = [];
  const close = () => {
    if (run.length === 0) return;
    const packed = packEntries(run);
    out.push([PACKED, packed]);
    transfer.push(packed.buffer);
    run = [];
  };
  for (const item of items) {
    if (item[0] === 0) run.push({ uuid: item[1] as string, body: item[2] as Uint8Array, flags: (item[3] as number | undefined) ?? 0 });
    else {
      close();
      out.push(item);
    }
  }
  close();
  return { items: out, transfer };
}
