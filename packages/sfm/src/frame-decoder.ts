import { defaultCodec, type Codec } from './codec';
import { FrameSplitter } from './frame-splitter';

export interface RawFrameDecoderOptions {
  /**
   * Largest payload accepted, checked against the 4-byte header before anything is allocated
   * for the body (default 64 MiB). A bigger frame raises FrameError ERR_FRAME_TOO_LARGE.
   */
  readonly maxFrameBytes?: number;
}

export interface FrameDecoderOptions extends RawFrameDecoderOptions {
  /** The codec that decodes payloads (default: `defaultCodec`). */
  readonly codec?: Codec;
}

/**
 * Streaming frame decoder: feed it a byte stream in chunks of any size (a socket's data
 * events) and get back the values of the frames each chunk completes, often none.
 * Truncated, oversized or undecodable input raises `FrameError`; after one, the decoder stays
 * failed (every later call throws it again), since the stream can no longer be trusted.
 */
export class FrameDecoder {
  private readonly splitter: FrameSplitter;
  private readonly codec: Codec;

  constructor(options: FrameDecoderOptions = {}) {
    this.splitter = new FrameSplitter(options.maxFrameBytes);
    this.codec = options.codec ?? defaultCodec;
  }

  get maxFrameBytes(): number {
    return this.splitter.maxFrameBytes;
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.splitter.bufferedBytes;
  }

  /** The values of the frames that `chunk` completes, in order. */
  push(chunk: Uint8Array): unknown[] {
    const payloads: Uint8Array<ArrayBuffer>[] = [];
    this.splitter.push(chunk, payloads);
    const values = new Array<unknown>(payloads.length);
    for (let i = 0; i < payloads.length; i++) {
      try {
        // Each payload has its own buffer, which nothing writes to again: decoded byte
        // strings may share it safely.
        values[i] = this.codec.decode(payloads[i]);
      } catch (error) {
        throw this.splitter.fail('ERR_FRAME_DECODE', `undecodable ${payloads[i].byteLength}-byte frame`, { cause: error });
      }
    }
    return values;
  }

  /** The stream is over: throws FrameError ERR_FRAME_TRUNCATED if a frame was left incomplete. */
  end(): void {
    this.splitter.end();
  }
}

/**
 * The raw mode of `FrameDecoder`: returns each frame's payload bytes without decoding them, for
 * code that routes frames it does not need to read. Every payload is a Uint8Array with its own
 * ArrayBuffer of exactly its size, so it can be kept, modified or transferred to a worker.
 */
export class RawFrameDecoder {
  private readonly splitter: FrameSplitter;

  constructor(options: RawFrameDecoderOptions = {}) {
    this.splitter = new FrameSplitter(options.maxFrameBytes);
  }

  get maxFrameBytes(): number {
    return this.splitter.maxFrameBytes;
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.splitter.bufferedBytes;
  }

  /** The payloads of the frames that `chunk` completes, in order. */
  push(chunk: Uint8Array): Uint8Array<ArrayBuffer>[] {
    const payloads: Uint8Array<ArrayBuffer>[] = [];
    this.splitter.push(chunk, payloads);
    return payloads;
  }

  /** The stream is over: throws FrameError ERR_FRAME_TRUNCATED if a frame was left incomplete. */
  end(): void {
    this.splitter.end();
  }
}
