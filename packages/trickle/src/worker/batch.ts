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

  constructor(private readonly post: (message: Uint8Array, transfer: ArrayBuffer[]) => void) {}

  push(bytes: Uint8Array): void {
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
    const out = new Uint8Array(this.bytes + 4 * batch.length);
    this.bytes = 0;
    const view = new DataView(out.buffer);
    let offset = 0;
    for (const bytes of batch) {
      view.setUint32(offset, bytes.byteLength);
      out.set(bytes, offset + 4);
      offset += 4 + bytes.byteLength;
    }
    this.post(out, [out.buffer]);
  }
}

/** Calls `receive` for each message in a buffer posted by a MessageBatcher. */
export function unbatch(message: Uint8Array, receive: (bytes: Uint8Array) => void): void {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  let offset = 0;
  while (offset < message.byteLength) {
    const length = view.getUint32(offset);
    receive(message.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
}
