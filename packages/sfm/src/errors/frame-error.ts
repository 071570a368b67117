import { SfmError, hasMarker, markPrototype } from './sfm-error';

const marker = Symbol.for('@river/sfm/FrameError');

export type FrameErrorCode =
  /** A frame's advertised length exceeds `maxFrameBytes` (or the 4-byte limit when encoding). */
  | 'ERR_FRAME_TOO_LARGE'
  /** A complete frame whose payload the codec could not decode; `cause` is the `CodecError`. */
  | 'ERR_FRAME_DECODE'
  /** `end()` was called with part of a frame still buffered. */
  | 'ERR_FRAME_TRUNCATED';

/** Bad input on a framed byte stream. After one, the stream is out of sync: close it. */
export class FrameError extends SfmError {
  constructor(
    readonly code: FrameErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static override isInstance(error: unknown): error is FrameError {
    return hasMarker(error, marker);
  }

  static {
    markPrototype(this, marker, 'FrameError');
  }
}
