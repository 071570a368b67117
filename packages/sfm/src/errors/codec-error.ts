import { SfmError, hasMarker, markPrototype } from './sfm-error';

const marker = Symbol.for('@river/sfm/CodecError');

export type CodecErrorCode =
  /** The value holds something the codec cannot carry (a function, a symbol, a cycle…). */
  | 'ERR_CODEC_ENCODE'
  /** The bytes are not one well-formed value this codec understands. */
  | 'ERR_CODEC_DECODE'
  /**
   * The bytes are well-formed but over a decode limit (nesting, bignum size, a tag this codec
   * does not read, hash-colliding Map or Set keys): see `DecodeLimits` and docs/protocol.md.
   */
  | 'ERR_CODEC_LIMIT';

/** Encoding or decoding failed; `cause` holds the underlying error. */
export class CodecError extends SfmError {
  constructor(
    readonly code: CodecErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static override isInstance(error: unknown): error is CodecError {
    return hasMarker(error, marker);
  }

  static {
    markPrototype(this, marker, 'CodecError');
  }
}
