/**
 * Room for a transport's own header in front of a batch, written into the same buffer (the River
 * link puts the SFM message header there: see river/rai-body.ts), so a batch is built once, in
 * its final place.
 */
export interface BatchHeader {
  /** Header bytes before a batch of `batchBytes` bytes. */
  size(batchBytes: number): number;
  /** Writes the header at the start of `out`. */
  write(out: Uint8Array, batchBytes: number): void;
}

/** A batch is flushed before it would grow past this (a single larger message goes alone). */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;

/**
 * Coalesces the messages posted to a port within one tick into a single postMessage: one buffer
 * of length-prefixed messages (transferred, not copied). A postMessage costs microseconds of its
 * own, so pipelined requests (100,000 forks) and their replies go much faster in batches.
 * Order is kept.
 */
export class MessageBatcher {
  private batch: Uint8Array[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(
    private readonly post: (message: Uint8Array, transfer: ArrayBuffer[]) => void,
    private readonly header?: BatchHeader,
  ) {}

  push(bytes: Uint8Array): void {
    // Batches coalesce small messages; a large one is not copied into a batch with others (and
    // a batch never grows past what one message may carry because of its neighbours).
    if (this.bytes + bytes.byteLength > MAX_BATCH_BYTES && this.batch.length > 0) this.flush();
    this.batch.push(bytes);
    this.bytes += bytes.byteLength;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const batchBytes = this.bytes + 4 * batch.length;
    this.bytes = 0;
    let offset = this.header ? this.header.size(batchBytes) : 0;
    const out = new Uint8Array(offset + batchBytes);
    this.header?.write(out, batchBytes);
    const view = new DataView(out.buffer);
    for (const bytes of batch) {
      view.setUint32(offset, bytes.byteLength);
      out.set(bytes, offset + 4);
      offset += 4 + bytes.byteLength;
    }
    this.post(out, [out.buffer]);
  }
}

/**
 * Calls `receive` for each message in a buffer posted by a MessageBatcher. A malformed buffer (a
 * length prefix that runs past its end) never throws: the entries before it are delivered, the
 * rest is dropped, and it returns false.
 */
export function unbatch(message: Uint8Array, receive: (bytes: Uint8Array) => void): boolean {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const end = message.byteLength;
  let offset = 0;
  while (offset + 4 <= end) {
    const length = view.getUint32(offset);
    if (length > end - offset - 4) return false;
    receive(message.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return offset === end;
}
