import { FrameError } from './errors/frame-error';
import { FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD_BYTES } from './frame';

/** The `maxFrameBytes` of a decoder that is not given one: 64 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** A frame's body buffer starts at most this big and doubles as bytes arrive. */
const INITIAL_BODY_BYTES = 64 * 1024;

/**
 * The byte state machine under both frame decoders: cuts a byte stream, split anywhere, into
 * frame payloads. Each payload is copied once into a Uint8Array of its own, exactly its size.
 * A large body is not allocated up front but grown as its bytes arrive, so a peer that
 * advertises a big frame and then stalls holds no more memory than it has sent.
 * Any FrameError leaves the splitter failed: later calls throw the same error.
 */
export class FrameSplitter {
  readonly maxFrameBytes: number;
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  /** The body being filled, while one is; `bodyLength` is its advertised size. */
  private body: Uint8Array<ArrayBuffer> | undefined;
  private bodyLength = 0;
  private bodyFilled = 0;
  private failure: FrameError | undefined;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 0 || maxFrameBytes > MAX_FRAME_PAYLOAD_BYTES) {
      throw new RangeError(`maxFrameBytes must be an integer from 0 to ${MAX_FRAME_PAYLOAD_BYTES}, got ${String(maxFrameBytes)}`);
    }
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received that belong to a frame not yet complete. */
  get bufferedBytes(): number {
    return this.body ? FRAME_HEADER_BYTES + this.bodyFilled : this.headerFilled;
  }

  /** Appends to `payloads` every payload that `chunk` completes. */
  push(chunk: Uint8Array, payloads: Uint8Array<ArrayBuffer>[]): void {
    if (this.failure) throw this.failure;
    const end = chunk.byteLength;
    let at = 0;
    while (at < end) {
      if (this.body) {
        at = this.fillBody(chunk, at);
        if (this.bodyFilled === this.bodyLength) {
          payloads.push(this.body);
          this.body = undefined;
        }
        continue;
      }
      let length: number;
      if (this.headerFilled === 0 && end - at >= FRAME_HEADER_BYTES) {
        length = readUint32(chunk, at);
        at += FRAME_HEADER_BYTES;
      } else {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFilled, end - at);
        this.header.set(chunk.subarray(at, at + take), this.headerFilled);
        this.headerFilled += take;
        at += take;
        if (this.headerFilled < FRAME_HEADER_BYTES) break;
        this.headerFilled = 0;
        length = readUint32(this.header, 0);
      }
      if (length > this.maxFrameBytes) {
        throw this.fail('ERR_FRAME_TOO_LARGE', `frame of ${length} bytes exceeds maxFrameBytes (${this.maxFrameBytes})`);
      }
      if (end - at >= length) {
        // The whole body is in this chunk: one exact copy.
        const payload = new Uint8Array(length);
        payload.set(chunk.subarray(at, at + length));
        payloads.push(payload);
        at += length;
      } else {
        this.body = new Uint8Array(Math.min(length, Math.max(INITIAL_BODY_BYTES, end - at)));
        this.bodyLength = length;
        this.bodyFilled = 0;
      }
    }
  }

  /** Declares the stream finished: throws ERR_FRAME_TRUNCATED if a frame is incomplete. */
  end(): void {
    if (this.failure) throw this.failure;
    const buffered = this.bufferedBytes;
    if (buffered > 0) {
      const expected = this.body ? `${FRAME_HEADER_BYTES + this.bodyLength}-byte frame` : 'frame header';
      throw this.fail('ERR_FRAME_TRUNCATED', `stream ended inside a ${expected} (${buffered} bytes received)`);
    }
  }

  /** Marks the splitter failed (for the frame decoder's own errors too) and returns the error. */
  fail(code: FrameError['code'], message: string, options?: { cause?: unknown }): FrameError {
    this.body = undefined;
    this.failure = new FrameError(code, message, options);
    return this.failure;
  }

  private fillBody(chunk: Uint8Array, at: number): number {
    let body = this.body as Uint8Array<ArrayBuffer>;
    const take = Math.min(this.bodyLength - this.bodyFilled, chunk.byteLength - at);
    if (this.bodyFilled + take > body.byteLength) {
      // Grow geometrically: each byte is copied a bounded number of times.
      const grown = new Uint8Array(Math.min(this.bodyLength, Math.max(body.byteLength * 2, this.bodyFilled + take)));
      grown.set(body.subarray(0, this.bodyFilled));
      this.body = body = grown;
    }
    body.set(chunk.subarray(at, at + take), this.bodyFilled);
    this.bodyFilled += take;
    return at + take;
  }
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) >>> 0) + (bytes[at + 1] << 16) + (bytes[at + 2] << 8) + bytes[at + 3];
}
