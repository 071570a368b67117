import { decodeWith, encodeWith, hookExtensions } from './cbor-bridge';
import type { CodecExtension } from './codec-extension';
import { checkDecodeLimits } from './decode-limits';
import { CodecError } from './errors/codec-error';
import { ExtensionRegistry } from './extension-registry';
import { builtinExtensions, isReservedTag } from './extensions';

export interface CodecOptions {
  /** Extra value types, each written as its own CBOR tag. See `CodecExtension`. */
  readonly extensions?: readonly CodecExtension[];
}

/**
 * The wire codec: CBOR (RFC 8949) through cbor-x, carrying everything CBOR carries plus
 * `undefined`, Map (any keys), Set, Date, BigInt, typed arrays, Buffer, ArrayBuffer, DataView
 * and Error (name, message, stack, cause, own enumerable properties). A codec's extensions
 * apply to that codec only, even though cbor-x's own extension table is process-wide.
 */
export class Codec {
  private readonly registry: ExtensionRegistry;

  constructor(options: CodecOptions = {}) {
    const own = options.extensions ?? [];
    own.forEach(checkExtension);
    this.registry = new ExtensionRegistry([...builtinExtensions, ...own]);
    hookExtensions(this.registry.extensions);
  }

  private readonly hasExtension = (tag: number): boolean => this.registry.forTag(tag) !== undefined;

  /** This codec's extensions, built-in ones included. */
  get extensions(): readonly CodecExtension[] {
    return this.registry.extensions;
  }

  /** The CBOR encoding of `value`, in a Uint8Array of its own (safe to keep or transfer). */
  encode(value: unknown): Uint8Array<ArrayBuffer> {
    return this.encodeWithRoom(value, 0);
  }

  /**
   * Like `encode`, with `room` free bytes before the CBOR (a frame header goes there).
   * @internal
   */
  encodeWithRoom(value: unknown, room: number): Uint8Array<ArrayBuffer> {
    let view: Uint8Array;
    try {
      view = encodeWith(this.registry, value);
    } catch (error) {
      throw new CodecError('ERR_CODEC_ENCODE', `cannot encode value: ${describe(error)}`, { cause: error });
    }
    // `view` points into cbor-x's reusable buffer: copy it out at once.
    const bytes = new Uint8Array(room + view.byteLength);
    bytes.set(view, room);
    return bytes;
  }

  /**
   * The value encoded in `bytes` (exactly one CBOR item). Decoded `Uint8Array`s and `Buffer`s
   * may share memory with `bytes`: do not modify `bytes` afterwards.
   */
  decode(bytes: Uint8Array): unknown {
    if (!(bytes instanceof Uint8Array)) {
      throw new CodecError('ERR_CODEC_DECODE', 'cannot decode: expected a Uint8Array', {
        cause: new TypeError(`expected a Uint8Array, got ${typeof bytes}`),
      });
    }
    // Read through a Buffer view (no copy) so that byte strings come back as Buffers, as they
    // were sent; tagged Uint8Arrays still come back as Uint8Arrays.
    const source = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Before cbor-x builds anything: whatever the bytes, decoding them costs linear time.
    checkDecodeLimits(source, this.hasExtension);
    try {
      return decodeWith(this.registry, source);
    } catch (error) {
      throw new CodecError('ERR_CODEC_DECODE', `cannot decode ${bytes.byteLength} bytes: ${describe(error)}`, { cause: error });
    }
  }
}

/** Classes cbor-x writes itself (or SFM's built-in extensions cover): not for extensions. */
const builtinTypes = new Set<unknown>([
  Object, Array, Map, Set, Date, RegExp, Function, Promise, ArrayBuffer, SharedArrayBuffer, DataView, Buffer,
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
]);

function checkExtension(extension: CodecExtension): void {
  const { tag, type } = extension;
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xffffffff || isReservedTag(tag)) {
    throw new RangeError(`extension tag ${String(tag)} is reserved or not a CBOR tag (use 256..2^32-1, see docs/protocol.md)`);
  }
  if (typeof type !== 'function' || typeof type.prototype !== 'object' || type.prototype === null) {
    throw new TypeError(`extension for tag ${tag}: type must be a class`);
  }
  if (builtinTypes.has(type)) {
    throw new TypeError(`extension for tag ${tag}: ${type.name} is written by the codec itself`);
  }
  if (typeof extension.encode !== 'function' || typeof extension.decode !== 'function') {
    throw new TypeError(`extension for tag ${tag}: encode and decode must be functions`);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The codec with no extensions beyond the built-in ones. */
export const defaultCodec = new Codec();

/** `defaultCodec.encode(value)`. */
export function encode(value: unknown): Uint8Array<ArrayBuffer> {
  return defaultCodec.encode(value);
}

/** `defaultCodec.decode(bytes)`. */
export function decode(bytes: Uint8Array): unknown {
  return defaultCodec.decode(bytes);
}
