/**
 * The glue between codecs and cbor-x. cbor-x keeps its extensions in module-wide tables, shared
 * by every encoder; per-codec extensions are built on top of that as follows:
 *
 * - For every class that some codec has an extension for, one hook is registered with cbor-x,
 *   once. It asks the codec that is encoding *right now* (`active`, set around each call) for
 *   its extension for the value: if it has one, the hook writes that tag and data; if not, it
 *   writes the value as cbor-x would without the hook (see `plainForm`).
 * - For every tag that some codec uses, one decoder is registered with cbor-x, once. It hands the
 *   content to the active codec's extension for that tag, or returns a `Tag` (what cbor-x
 *   returns for unknown tags) when that codec has none.
 *
 * Encoding and decoding are synchronous, so "the codec running now" is well defined; nested
 * calls save and restore it.
 */
import { Encoder, Tag, addExtension, type Extension } from 'cbor-x';
import type { CodecExtension } from './codec-extension';
import type { ExtensionRegistry } from './extension-registry';

/** The cbor-x encoder/decoder all codecs share: standard CBOR maps, Maps and Sets kept. */
export const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });

let active: ExtensionRegistry | undefined;
const hookedClasses = new Set<object>();
const hookedTags = new Set<number>();

/** Makes sure cbor-x calls back into the active codec for these extensions' classes and tags. */
export function hookExtensions(extensions: Iterable<CodecExtension>): void {
  for (const { type, tag } of extensions) {
    if (!hookedClasses.has(type)) {
      hookedClasses.add(type);
      addExtension(classHook(type));
    }
    if (!hookedTags.has(tag)) {
      hookedTags.add(tag);
      addExtension({ tag, decode: (data) => decodeTag(tag, data) });
    }
  }
}

/** Runs `action` (a cbor-x encode or decode) with `registry` as the active codec's extensions. */
export function withRegistry<T>(registry: ExtensionRegistry, action: () => T): T {
  const previous = active;
  active = registry;
  try {
    return action();
  } finally {
    active = previous;
  }
}

function classHook(type: abstract new (...args: never[]) => object): Extension {
  // cbor-x calls getTag and then encode for the same value, with nothing in between.
  let pending: CodecExtension | undefined;
  return {
    Class: type,
    getTag(value) {
      pending = active?.forValue(value);
      return pending ? pending.tag : value instanceof Error ? CBOR_X_ERROR_TAG : undefined;
    },
    encode(value, encodeInner) {
      const extension = pending;
      pending = undefined;
      encodeInner(extension ? extension.encode(value) : plainForm(value));
    },
  };
}

function decodeTag(tag: number, data: unknown): unknown {
  const extension = active?.forTag(tag);
  return extension ? extension.decode(data) : new Tag(data, tag);
}

/** cbor-x's own Error tag (generic object, `[name, message]`), used outside any codec. */
const CBOR_X_ERROR_TAG = 27;

const typedArrayClasses = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
] as const;
type TypedArrayClass = { new (buffer: ArrayBuffer, byteOffset: number, length: number): ArrayBufferView; readonly BYTES_PER_ELEMENT: number };

/**
 * What cbor-x writes, without hooks, for a value of a hooked class that the running codec has
 * no extension for: a built-in it derives from as that built-in, an iterable as an array, any
 * other object as a plain record of its own enumerable properties.
 */
function plainForm(value: object): unknown {
  if (value instanceof Error) return [value.name, value.message]; // only outside a codec
  if (value instanceof Date) return new Date(value.getTime());
  if (value instanceof Map) return new Map(value);
  if (value instanceof Set) return new Set(value);
  if (value instanceof RegExp) return new RegExp(value.source, value.flags);
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) {
    if (Buffer.isBuffer(value) || value instanceof DataView) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    const base: TypedArrayClass = typedArrayClasses.find((c) => value instanceof c) ?? Uint8Array;
    return new base(value.buffer as ArrayBuffer, value.byteOffset, value.byteLength / base.BYTES_PER_ELEMENT);
  }
  if (Symbol.iterator in value) return Array.from(value as Iterable<unknown>);
  return { ...value };
}
