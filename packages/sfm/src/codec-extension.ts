/**
 * How a codec carries values of one class: instances of `type` (subclasses included, unless a
 * more specific extension exists) are written as CBOR tag `tag` around `encode(value)`; on
 * reading, that tag's content is handed to `decode`. `data` comes off the wire: `decode` must
 * check it and throw on anything unexpected (the codec turns that into a `CodecError`).
 */
export interface CodecExtension<T extends object = object> {
  /**
   * CBOR tag number: an integer from 256 to 2^32 - 1 that `isReservedTag` does not reserve.
   * Prefer tags below 1300: cbor-x's tag table stays fast only while every tag is (see extensions.ts).
   */
  readonly tag: number;
  /** The class whose instances this extension writes. */
  readonly type: abstract new (...args: never[]) => T;
  /** The value to write inside the tag: anything the codec carries (other extensions included). */
  encode(value: T): unknown;
  /** The value to hand back for the tag's content (need not be a `T`, e.g. a proxy). */
  decode(data: unknown): unknown;
}

/** Identity function that types `encode`'s parameter from `type`: `defineExtension({ tag, type: Ref, encode: (ref) => ref.id, … })`. */
export function defineExtension<T extends object>(extension: CodecExtension<T>): CodecExtension<T> {
  return extension;
}
