import { Codec, CodecError, SFM_TAGS, decode, defaultCodec, defineExtension, encode } from '../src';

const roundTrip = <T>(value: T): T => decode(encode(value)) as T;

describe('codec round trips', () => {
  test.each<[string, unknown]>([
    ['integers', [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -24, -25, -(2 ** 32), -(2 ** 53)]],
    ['floats', [0.5, -1.25, Math.PI, 1e300, -1e-300, Number.MAX_VALUE, Number.MIN_VALUE]],
    ['non-finite numbers', [Number.NaN, Infinity, -Infinity]],
    ['strings', ['', 'ascii', 'ünïcødé', '日本語', '😀 emoji', 'x'.repeat(100_000)]],
    ['booleans, null and undefined', [true, false, null, undefined]],
    ['a record with undefined values', { a: undefined, b: null, c: [undefined] }],
    ['nested structures', { a: [1, { b: [2, [3, { c: 'deep' }]] }], m: new Map([['k', new Set([1, 2])]]) }],
    ['a record with keys named like Object.prototype members', { constructor: 2, toString: 'x', hasOwnProperty: null }],
  ])('%s', (_name, value) => {
    expect(roundTrip(value)).toEqual(value);
  });

  test('a "__proto__" key cannot pollute a prototype: cbor-x renames it to "__proto_"', () => {
    const back = roundTrip(JSON.parse('{"__proto__": {"polluted": true}}') as object);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(back).toEqual({ __proto_: { polluted: true } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('Map with keys of every kind, order kept', () => {
    const objectKey = { id: 1 };
    const map = new Map<unknown, unknown>([
      ['s', 1],
      [2, 'two'],
      [-3.5, 'float'],
      [10n, 'bigint'],
      [true, 'bool'],
      [null, 'null'],
      [undefined, 'undefined'],
      [objectKey, 'object'],
      [[1, 2], 'array'],
    ]);
    const back = roundTrip(map);
    expect(back).toBeInstanceOf(Map);
    expect([...back.keys()]).toEqual([...map.keys()]);
    expect([...back.values()]).toEqual([...map.values()]);
    expect(roundTrip(new Map())).toEqual(new Map());
  });

  test('Map stays a Map and a record stays a record', () => {
    expect(roundTrip({ m: new Map([['a', 1]]), o: { a: 1 } })).toEqual({ m: new Map([['a', 1]]), o: { a: 1 } });
    expect(roundTrip(new Map([['a', 1]]))).toBeInstanceOf(Map);
    expect(roundTrip({ a: 1 })).not.toBeInstanceOf(Map);
  });

  test('Set', () => {
    const set = new Set<unknown>([1, 'a', null, [1], { b: 2 }, 3n]);
    const back = roundTrip(set);
    expect(back).toBeInstanceOf(Set);
    expect([...back]).toEqual([...set]);
  });

  test('Date, to the millisecond, before and after 1970, and invalid', () => {
    for (const ms of [0, 1, 1_700_000_000_123, -1, -86_400_000_123, 8.64e15]) {
      const back = roundTrip(new Date(ms));
      expect(back).toBeInstanceOf(Date);
      expect(back.getTime()).toBe(ms);
    }
    expect(Number.isNaN(roundTrip(new Date(Number.NaN)).getTime())).toBe(true);
  });

  test('BigInt: small, 64-bit edges, huge, negative', () => {
    for (const n of [0n, 1n, -1n, 42n, -42n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n, -(2n ** 64n), -(2n ** 64n) - 1n, 3n ** 200n, -(7n ** 150n)]) {
      const back = roundTrip(n);
      expect(typeof back).toBe('bigint');
      expect(back).toBe(n);
    }
  });

  test.each([
    new Int8Array([-128, 0, 127]),
    new Uint8Array([0, 1, 255]),
    new Uint8ClampedArray([0, 128, 255]),
    new Int16Array([-32768, 1, 32767]),
    new Uint16Array([0, 65535]),
    new Int32Array([-(2 ** 31), 2 ** 31 - 1]),
    new Uint32Array([0, 2 ** 32 - 1]),
    new Float32Array([1.5, -0.25, Infinity]),
    new Float64Array([Math.PI, -Number.MAX_VALUE, Number.NaN]),
    new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
    new BigUint64Array([0n, 2n ** 64n - 1n]),
  ])('typed array %p keeps its class and contents', (array) => {
    const back = roundTrip(array);
    expect(back.constructor).toBe(array.constructor);
    expect(back).toEqual(array);
  });

  test('typed array views carry only the bytes they view', () => {
    const whole = new Int16Array([1, 2, 3, 4, 5]);
    const view = whole.subarray(1, 3);
    expect(roundTrip(view)).toEqual(new Int16Array([2, 3]));
    const bytes = new Uint8Array([9, 8, 7, 6]).subarray(1, 3);
    expect(roundTrip(bytes)).toEqual(new Uint8Array([8, 7]));
  });

  test('Buffer stays a Buffer, Uint8Array stays a Uint8Array', () => {
    const buffer = roundTrip(Buffer.from('hello'));
    expect(Buffer.isBuffer(buffer)).toBe(true);
    expect(buffer.toString()).toBe('hello');
    const bytes = roundTrip(new Uint8Array([1, 2]));
    expect(Buffer.isBuffer(bytes)).toBe(false);
    expect(bytes).toBeInstanceOf(Uint8Array);
  });

  test('ArrayBuffer and DataView, each with a buffer of its own', () => {
    const arrayBuffer = new Uint8Array([1, 2, 3]).buffer;
    const back = roundTrip(arrayBuffer);
    expect(back).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(back)]).toEqual([1, 2, 3]);
    const view = new DataView(new Uint8Array([0, 1, 2, 3, 4]).buffer, 1, 3);
    const viewBack = roundTrip(view);
    expect(viewBack).toBeInstanceOf(DataView);
    expect(viewBack.byteLength).toBe(3);
    expect(viewBack.getUint8(0)).toBe(1);
    expect(viewBack.buffer.byteLength).toBe(3);
  });

  test('encode returns bytes with an ArrayBuffer of their own, safe to transfer', () => {
    const bytes = encode({ a: 1 });
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
    const again = encode({ b: 2 });
    const moved = structuredClone(bytes, { transfer: [bytes.buffer] });
    expect(decode(moved)).toEqual({ a: 1 });
    expect(decode(again)).toEqual({ b: 2 });
    expect(decode(encode({ c: 3 }))).toEqual({ c: 3 });
  });

  test('decode accepts a view into a larger buffer', () => {
    const payload = encode(['x', 1]);
    const framed = new Uint8Array(payload.byteLength + 10);
    framed.set(payload, 5);
    expect(decode(framed.subarray(5, 5 + payload.byteLength))).toEqual(['x', 1]);
  });
});

describe('codec: errors', () => {
  test('name, message, stack, code and other own properties', () => {
    const error = Object.assign(new Error('disk full'), { code: 'ENOSPC', errno: -28, path: '/tmp/x' });
    const back = roundTrip(error);
    expect(back).toBeInstanceOf(Error);
    expect(back.name).toBe('Error');
    expect(back.message).toBe('disk full');
    expect(back.stack).toBe(error.stack);
    expect(back).toMatchObject({ code: 'ENOSPC', errno: -28, path: '/tmp/x' });
    expect(Object.keys(back).sort()).toEqual(['code', 'errno', 'path']);
  });

  test('standard subclasses keep their class', () => {
    for (const error of [new TypeError('t'), new RangeError('r'), new SyntaxError('s'), new ReferenceError('x'), new EvalError('e'), new URIError('u')]) {
      const back = roundTrip(error);
      expect(back.constructor).toBe(error.constructor);
      expect(back.name).toBe(error.name);
      expect(back.message).toBe(error.message);
    }
  });

  test('a custom error class keeps its name (as an Error)', () => {
    class QuotaError extends Error {
      override name = 'QuotaError';
      readonly limit = 10;
    }
    const back = roundTrip(new QuotaError('over quota'));
    expect(back).toBeInstanceOf(Error);
    expect(back.name).toBe('QuotaError');
    expect(back.limit).toBe(10);
    expect(String(back)).toBe('QuotaError: over quota');
  });

  test('cause, recursively, of any kind', () => {
    const root = Object.assign(new RangeError('root'), { code: 'E_ROOT' });
    const middle = new TypeError('middle', { cause: root });
    const top = new Error('top', { cause: middle });
    const back = roundTrip(top);
    const backMiddle = back.cause as TypeError;
    expect(backMiddle).toBeInstanceOf(TypeError);
    expect(backMiddle.message).toBe('middle');
    expect(backMiddle.cause).toBeInstanceOf(RangeError);
    expect(backMiddle.cause).toMatchObject({ message: 'root', code: 'E_ROOT' });
    expect((backMiddle.cause as Error).stack).toBe(root.stack);
    expect(roundTrip(new Error('x', { cause: { reason: 42 } })).cause).toEqual({ reason: 42 });
    expect(Object.hasOwn(roundTrip(new Error('x', { cause: undefined })), 'cause')).toBe(true);
    expect(Object.hasOwn(roundTrip(new Error('x')), 'cause')).toBe(false);
  });

  test('a cycle of causes is cut instead of recursing forever', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    const back = roundTrip(a);
    expect((back.cause as Error).message).toBe('b');
    expect(Object.hasOwn(back.cause as Error, 'cause')).toBe(false);
  });

  test('AggregateError keeps its errors; an error without stack stays without', () => {
    const back = roundTrip(new AggregateError([new TypeError('one'), 'two'], 'both'));
    expect(back).toBeInstanceOf(AggregateError);
    expect(back.errors[0]).toBeInstanceOf(TypeError);
    expect(back.errors[1]).toBe('two');
    const bare = new Error('bare');
    delete bare.stack;
    expect(roundTrip(bare).stack).toBeUndefined();
  });

  test('errors nested in data', () => {
    const back = roundTrip({ results: [1, new Error('failed')], map: new Map([['e', new TypeError('t')]]) });
    expect(back.results[1]).toBeInstanceOf(Error);
    expect(back.map.get('e')).toBeInstanceOf(TypeError);
  });

  test('an error whose data is malformed does not decode', () => {
    // The error tag around the integer 1.
    expect(SFM_TAGS.error).toBe(1200);
    expect(() => decode(new Uint8Array([0xd9, 0x04, 0xb0, 0x01]))).toThrow(CodecError);
    expect(decode(new Uint8Array([0xd9, 0x04, 0xb0, 0xa2, 0x64, ...Buffer.from('name'), 0x61, 0x45, 0x67, ...Buffer.from('message'), 0x60]))).toEqual(
      Object.assign(new Error(''), { name: 'E' }),
    );
  });
});

describe('codec: failures', () => {
  const encodeError = (value: unknown): unknown => {
    try {
      encode(value);
    } catch (error) {
      return error;
    }
    throw new Error('expected encode to fail');
  };

  test.each<[string, unknown]>([
    ['a function', { f: () => 1 }],
    ['a symbol', [Symbol('s')]],
    ['a cycle', (() => {
      const o: Record<string, unknown> = {};
      o.self = o;
      return o;
    })()],
  ])('encoding %s raises CodecError ERR_CODEC_ENCODE with a cause', (_name, value) => {
    const error = encodeError(value);
    expect(CodecError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_CODEC_ENCODE' });
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(decode(encode({ ok: true }))).toEqual({ ok: true }); // the codec still works
  });

  test.each<[string, Uint8Array]>([
    ['no bytes', new Uint8Array([])],
    ['a truncated array', new Uint8Array([0x83, 0x01])],
    ['trailing bytes', new Uint8Array([0x01, 0x02])],
    ['a break code alone', new Uint8Array([0xff])],
    ['a huge length', new Uint8Array([0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
  ])('decoding %s raises CodecError ERR_CODEC_DECODE', (_name, bytes) => {
    let caught: unknown;
    try {
      decode(bytes);
    } catch (error) {
      caught = error;
    }
    expect(CodecError.isInstance(caught)).toBe(true);
    expect(caught).toMatchObject({ code: 'ERR_CODEC_DECODE' });
    expect(decode(encode([1, 'ok']))).toEqual([1, 'ok']);
  });

  test('decoding something that is not bytes', () => {
    expect(() => decode('text' as unknown as Uint8Array)).toThrow(CodecError);
  });

  test('an unknown tag decodes as a tagged value, not an error', () => {
    expect(decode(new Uint8Array([0xd9, 0xc3, 0x50, 0x05]))).toMatchObject({ tag: 50000, value: 5 });
  });
});

describe('codec extensions', () => {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  class Point3 extends Point {
    constructor(
      x: number,
      y: number,
      readonly z: number,
    ) {
      super(x, y);
    }
  }
  class Ref {
    constructor(readonly id: string) {}
  }
  const pointExt = defineExtension({
    tag: 50001,
    type: Point,
    encode: (p) => [p.x, p.y],
    decode: (data) => {
      if (!Array.isArray(data) || data.length !== 2) throw new TypeError('bad point');
      return new Point(data[0] as number, data[1] as number);
    },
  });
  const point3Ext = defineExtension({
    tag: 50002,
    type: Point3,
    encode: (p) => ({ xyz: [p.x, p.y, p.z] }),
    decode: (data) => {
      const [x, y, z] = (data as { xyz: number[] }).xyz;
      return new Point3(x, y, z);
    },
  });
  const refExt = defineExtension({
    tag: 50003,
    type: Ref,
    encode: (r) => r.id,
    decode: (id) => new Ref(String(id)),
  });

  test('a codec round-trips its own types, nested anywhere', () => {
    const codec = new Codec({ extensions: [pointExt, refExt] });
    const value = {
      p: new Point(1, 2),
      list: [new Ref('a'), new Map([[new Ref('key'), new Point(3, 4)]])],
      err: Object.assign(new Error('e'), { at: new Point(5, 6) }),
    };
    const back = codec.decode(codec.encode(value)) as typeof value;
    expect(back.p).toBeInstanceOf(Point);
    expect(back.p).toEqual(new Point(1, 2));
    expect(back.list[0]).toEqual(new Ref('a'));
    const [[key, point]] = [...(back.list[1] as Map<Ref, Point>)];
    expect(key).toBeInstanceOf(Ref);
    expect(point).toBeInstanceOf(Point);
    expect((back.err as unknown as { at: Point }).at).toBeInstanceOf(Point);
  });

  test('the tag is written as the extension says', () => {
    const codec = new Codec({ extensions: [refExt] });
    // tag 50003 = 0xd9 0xc3 0x53, then the text "a"
    expect([...codec.encode(new Ref('a'))]).toEqual([0xd9, 0xc3, 0x53, 0x61, 0x61]);
  });

  test('extensions stay with their codec: others write and read the class as plain data', () => {
    const withPoints = new Codec({ extensions: [pointExt] });
    const bytes = withPoints.encode(new Point(1, 2));
    expect(decode(bytes)).toMatchObject({ tag: 50001, value: [1, 2] }); // default codec: unknown tag
    const plain = defaultCodec.decode(defaultCodec.encode(new Point(1, 2)));
    expect(plain).toEqual({ x: 1, y: 2 });
    expect(plain).not.toBeInstanceOf(Point);
    const other = new Codec({ extensions: [refExt] });
    expect(other.decode(other.encode(new Point(7, 8)))).toEqual({ x: 7, y: 8 });
    expect(other.decode(bytes)).toMatchObject({ tag: 50001 });
  });

  test('a class first written as plain data is hooked once a codec gets an extension for it', () => {
    class Late {
      constructor(readonly v: number) {}
    }
    expect(decode(encode(new Late(1)))).toEqual({ v: 1 });
    const codec = new Codec({
      extensions: [defineExtension({ tag: 50020, type: Late, encode: (l) => l.v, decode: (v) => new Late(Number(v)) })],
    });
    expect(codec.decode(codec.encode(new Late(2)))).toBeInstanceOf(Late);
    expect(decode(encode(new Late(3)))).toEqual({ v: 3 });
  });

  test('two codecs may give one class different tags', () => {
    const a = new Codec({ extensions: [pointExt] });
    const b = new Codec({ extensions: [{ ...pointExt, tag: 50100 }] });
    expect(a.decode(a.encode(new Point(1, 1)))).toBeInstanceOf(Point);
    expect(b.decode(b.encode(new Point(1, 1)))).toBeInstanceOf(Point);
    expect(a.decode(b.encode(new Point(1, 1)))).toMatchObject({ tag: 50100 });
  });

  test('the most specific extension wins; a subclass without one uses its base class', () => {
    class Point4 extends Point {}
    const codec = new Codec({ extensions: [pointExt, point3Ext] });
    expect(codec.decode(codec.encode(new Point3(1, 2, 3)))).toEqual(new Point3(1, 2, 3));
    const four = codec.decode(codec.encode(new Point4(1, 2)));
    expect(four).toBeInstanceOf(Point);
    expect(four).not.toBeInstanceOf(Point4);
    const onlyBase = new Codec({ extensions: [pointExt] });
    expect(onlyBase.decode(onlyBase.encode(new Point3(1, 2, 3)))).toEqual(new Point(1, 2));
  });

  test('an extension for an Error subclass, or for Error itself, applies to that codec only', () => {
    class RemoteError extends Error {}
    const remoteExt = defineExtension({
      tag: 50004,
      type: RemoteError,
      encode: (e) => e.message,
      decode: (m) => new RemoteError(`remote: ${String(m)}`),
    });
    const codec = new Codec({ extensions: [remoteExt] });
    expect((codec.decode(codec.encode(new RemoteError('x'))) as Error).message).toBe('remote: x');
    expect(codec.decode(codec.encode(new TypeError('y')))).toBeInstanceOf(TypeError);
    const errorsAsText = new Codec({
      extensions: [defineExtension({ tag: 50005, type: Error, encode: (e) => e.message, decode: (m) => `was: ${String(m)}` })],
    });
    expect(errorsAsText.decode(errorsAsText.encode(new TypeError('z')))).toBe('was: z');
    const back = roundTrip(new RemoteError('plain'));
    expect(back).toBeInstanceOf(Error);
    expect(back.message).toBe('plain');
  });

  test('a failing extension decode raises CodecError with its error as cause', () => {
    const codec = new Codec({ extensions: [pointExt] });
    const broken = new Uint8Array([0xd9, 0xc3, 0x51, 0x81, 0x01]); // tag 50001 around [1]
    expect(() => codec.decode(broken)).toThrow(CodecError);
    try {
      codec.decode(broken);
    } catch (error) {
      expect((error as Error).cause).toEqual(new TypeError('bad point'));
    }
  });

  test('extension encode may return values of other extensions', () => {
    class Line {
      constructor(
        readonly from: Point,
        readonly to: Point,
      ) {}
    }
    const lineExt = defineExtension({
      tag: 50006,
      type: Line,
      encode: (l) => [l.from, l.to],
      decode: (data) => {
        const [from, to] = data as [Point, Point];
        return new Line(from, to);
      },
    });
    const codec = new Codec({ extensions: [pointExt, lineExt] });
    const back = codec.decode(codec.encode(new Line(new Point(0, 0), new Point(1, 1)))) as Line;
    expect(back.to).toBeInstanceOf(Point);
  });

  test('an extension cannot encode from inside an encode', () => {
    const nested = new Codec({
      extensions: [defineExtension({ tag: 50007, type: Ref, encode: (r) => encode(r.id), decode: (d) => d })],
    });
    expect(() => nested.encode(new Ref('x'))).toThrow(CodecError);
    expect(decode(encode('still fine'))).toBe('still fine');
  });

  test('invalid extensions are refused at construction', () => {
    const ok = { type: Ref, encode: () => 1, decode: () => 1 };
    for (const tag of [SFM_TAGS.error, 1219, 258, 259, 55799, 0xdfff, 1, 255, -1, 1.5, 2 ** 32]) {
      expect(() => new Codec({ extensions: [{ ...ok, tag }] })).toThrow(RangeError);
    }
    expect(() => new Codec({ extensions: [{ ...ok, tag: 50000, type: Map }] })).toThrow(TypeError);
    expect(() => new Codec({ extensions: [{ ...ok, tag: 50000, type: Uint8Array }] })).toThrow(TypeError);
    expect(() => new Codec({ extensions: [{ ...ok, tag: 50000 }, { ...ok, tag: 50000, type: Point }] })).toThrow(TypeError);
    expect(() => new Codec({ extensions: [{ ...ok, tag: 50000, encode: 'no' as unknown as () => 1 }] })).toThrow(TypeError);
    expect(new Codec({ extensions: [{ ...ok, tag: 1220 }] }).extensions.map((e) => e.tag)).toContain(1220);
  });

  test('the default codec is unaffected by other codecs', () => {
    const value = { d: new Date(5), s: new Set([1]), e: new Error('x'), b: new Uint8Array([1]) };
    new Codec({ extensions: [pointExt, point3Ext, refExt] });
    const back = roundTrip(value);
    expect(back.d).toEqual(new Date(5));
    expect(back.s).toEqual(new Set([1]));
    expect(back.e).toBeInstanceOf(Error);
    expect(back.b).toEqual(new Uint8Array([1]));
  });

  test('two copies of the package that share one cbor-x (as pnpm installs them) both work', () => {
    const sharedCbor: unknown = jest.requireActual('cbor-x');
    let copy: typeof import('../src') | undefined;
    jest.isolateModules(() => {
      jest.doMock('cbor-x', () => sharedCbor);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      copy = require('../src') as typeof import('../src');
    });
    const other = copy as typeof import('../src');
    expect(other.Codec).not.toBe(Codec);
    const theirs = new other.Codec({ extensions: [refExt] });
    const ours = new Codec({ extensions: [pointExt] });
    for (const codec of [ours, theirs, defaultCodec, other.defaultCodec]) {
      const error = Object.assign(new TypeError('t'), { code: 'E_T' });
      const back = codec.decode(codec.encode(error)) as TypeError;
      expect(back).toBeInstanceOf(TypeError);
      expect(back.stack).toBe(error.stack);
      expect(back).toMatchObject({ code: 'E_T' });
    }
    expect(theirs.decode(theirs.encode(new Ref('r')))).toEqual(new Ref('r'));
    expect(ours.decode(ours.encode(new Ref('r')))).toEqual({ id: 'r' });
    expect(ours.decode(ours.encode(new Point(1, 2)))).toBeInstanceOf(Point);
    expect(theirs.decode(theirs.encode(new Point(1, 2)))).toEqual({ x: 1, y: 2 });
  });
});
