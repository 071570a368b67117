/**
 * The glue between codecs and cbor-x. cbor-x keeps its extensions in module-wide tables, shared
 * by every encoder; per-codec extensions are built on top of that as follows:
 *
 * - One hook is registered with cbor-x for all classes that any codec has an extension for (its
 *   `Symbol.hasInstance` answers "is this value of such a class?"; one check per object, however
 *   many classes, where a hook per class would cost an `instanceof` each). For a value of such a
 *   class, the hook asks the codec that is encoding *right now* (`active`, set around each call)
 *   for its extension: if it has one, the hook writes that tag and data; if not, it writes the
 *   value as cbor-x would without the hook (see `plainForm`).
 * - For every tag that some codec uses, one decoder is registered with cbor-x, once. It hands the
 *   content to the active codec's extension for that tag, or returns a `Tag` (what cbor-x
 *   returns for unknown tags) when that codec has none.
 *
 * Encoding and decoding are synchronous, so "the codec running now" is well defined; nested
 * decodes save and restore it.
 */
import { Encoder, Tag, addExtension } from 'cbor-x';
import type { CodecExtension } from './codec-extension';
import type { ExtensionRegistry } from './extension-registry';

/** The cbor-x encoder/decoder all codecs share: standard CBOR maps, Maps and Sets kept. */
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });

/**
 * What the hooks read. It lives on cbor-x's `Encoder` class, not in this module, so that two
 * copies of @river/sfm loaded in one process but sharing one cbor-x (as pnpm installs them) also
 * share it: otherwise the copy that hooked last would not see the other copy's codecs.
 */
interface BridgeState {
  /** The registry of the codec that is encoding or decoding right now. */
  active: ExtensionRegistry | undefined;
  /** Whether a cbor-x encode is running (cbor-x keeps its encoder state in module variables). */
  encoding: boolean;
  /** Prototypes of the classes some codec has an extension for. */
  readonly hookedPrototypes: WeakSet<object>;
  /** Per prototype: is it, or anything up its chain, in `hookedPrototypes`? */
  hookedCache: WeakMap<object, boolean>;
  readonly hookedTags: Set<number>;
}
const stateKey = Symbol.for('@river/sfm/cbor-bridge');
const state: BridgeState = (Encoder as unknown as Record<symbol, BridgeState | undefined>)[stateKey] ?? installHook();

/** Makes sure cbor-x calls back into the active codec for these extensions' classes and tags. */
export function hookExtensions(extensions: Iterable<CodecExtension>): void {
  for (const { type, tag } of extensions) {
    if (!state.hookedPrototypes.has(type.prototype)) {
      state.hookedPrototypes.add(type.prototype);
      state.hookedCache = new WeakMap();
    }
    if (!state.hookedTags.has(tag)) {
      state.hookedTags.add(tag);
      addExtension({ tag, decode: (data) => decodeTag(tag, data) });
    }
  }
}

/** cbor-x's encoding of `value` with `registry` active: a view into cbor-x's reusable buffer. */
export function encodeWith(registry: ExtensionRegistry, value: unknown): Uint8Array {
  if (state.encoding) throw new Error('cannot encode from inside an extension while encoding');
  const previous = state.active;
  state.active = registry;
  state.encoding = true;
  try {
    return cbor.encode(value);
  } finally {
    state.active = previous;
    state.encoding = false;
  }
}

/** cbor-x's decoding of `bytes` with `registry` active (decodes may nest: cbor-x allows it). */
export function decodeWith(registry: ExtensionRegistry, bytes: Uint8Array): unknown {
  const previous = state.active;
  state.active = registry;
  try {
    return cbor.decode(bytes);
  } finally {
    state.active = previous;
  }
}

/**
 * Bignums (tags 2 and 3) read in linear time: cbor-x's own reader shifts a BigInt once per byte,
 * quadratic in the size (a 64 KiB bignum took over 2 s). Their size is bounded before (see
 * decode-limits.ts).
 */
function readBignum(data: unknown): bigint {
  if (!(data instanceof Uint8Array)) throw new TypeError('a bignum must be a byte string');
  if (data.byteLength === 0) return 0n;
  return BigInt(`0x${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex')}`);
}

/** Registers the one class hook with cbor-x and creates the state it reads. */
function installHook(): BridgeState {
  addExtension({ tag: 2, decode: (data) => readBignum(data) });
  addExtension({ tag: 3, decode: (data) => -1n - readBignum(data) });
  const created: BridgeState = {
    active: undefined,
    encoding: false,
    hookedPrototypes: new WeakSet(),
    hookedCache: new WeakMap(),
    hookedTags: new Set(),
  };
  (Encoder as unknown as Record<symbol, BridgeState>)[stateKey] = created;
  // cbor-x tests `value instanceof Class`; this "class" answers for every hooked class at once.
  const HookedClasses = class {
    static [Symbol.hasInstance](value: unknown): boolean {
      return typeof value === 'object' && value !== null && isHooked(created, value);
    }
  };
  // cbor-x calls getTag and then encode for the same value, with nothing in between.
  let pending: CodecExtension | undefined;
  addExtension({
    Class: HookedClasses,
    getTag(value) {
      pending = created.active?.forValue(value);
      return pending ? pending.tag : value instanceof Error ? CBOR_X_ERROR_TAG : undefined;
    },
    encode(value, encodeInner) {
      const extension = pending;
      pending = undefined;
      encodeInner(extension ? extension.encode(value) : plainForm(value));
    },
  });
  return created;
}

function isHooked(state: BridgeState, value: object): boolean {
  const proto: object | null = Object.getPrototypeOf(value);
  if (proto === null) return false;
  let hooked = state.hookedCache.get(proto);
  if (hooked === undefined) {
    hooked = false;
    for (let p: object | null = proto; p !== null; p = Object.getPrototypeOf(p)) {
      if (state.hookedPrototypes.has(p)) {
        hooked = true;
        break;
      }
    }
    state.hookedCache.set(proto, hooked);
  }
  return hooked;
}

function decodeTag(tag: number, data: unknown): unknown {
  const extension = state.active?.forTag(tag);
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
