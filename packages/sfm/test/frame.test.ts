import {
  Codec,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameError,
  RawFrameDecoder,
  decode,
  defineExtension,
  encode,
  encodeFrame,
  encodeFrameBytes,
} from '../src';

const header = (length: number): Uint8Array => {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, length);
  return bytes;
};

const concat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);

const frameError = (action: () => unknown): FrameError => {
  try {
    action();
  } catch (error) {
    if (FrameError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a FrameError');
};

const samples: unknown[] = [
  { tag: 'ping', id: 1 },
  'a string long enough to straddle chunks: ' + 'x'.repeat(300),
  new Map<unknown, unknown>([[1, new Set([2n ** 70n])], ['k', new Date(7)]]),
  [undefined, null, new Float64Array([1.5]), Buffer.from('buf'), new TypeError('t')],
];

describe('encodeFrame', () => {
  test('4-byte big-endian length, then the CBOR payload', () => {
    const frame = encodeFrame({ a: 1 });
    const payload = encode({ a: 1 });
    expect(frame.byteLength).toBe(FRAME_HEADER_BYTES + payload.byteLength);
    expect([...frame.subarray(0, 4)]).toEqual([0, 0, 0, payload.byteLength]);
    expect(frame.subarray(4)).toEqual(payload);
    expect(frame.buffer.byteLength).toBe(frame.byteLength);
  });

  test('a length of 256 and more uses the higher header bytes', () => {
    const frame = encodeFrame('y'.repeat(70_000));
    const length = new DataView(frame.buffer).getUint32(0);
    expect(length).toBe(frame.byteLength - 4);
    expect(frame[1]).toBe(1); // 70,005 = 0x00 01 11 75
  });

  test('encodeFrameBytes frames any bytes as they are', () => {
    const frame = encodeFrameBytes(new Uint8Array([7, 8, 9]));
    expect([...frame]).toEqual([0, 0, 0, 3, 7, 8, 9]);
    expect([...encodeFrameBytes(new Uint8Array(0))]).toEqual([0, 0, 0, 0]);
  });

  test('encodeFrame with a codec uses its extensions', () => {
    class Id {
      constructor(readonly value: string) {}
    }
    const codec = new Codec({
      extensions: [defineExtension({ tag: 50010, type: Id, encode: (id) => id.value, decode: (v) => new Id(String(v)) })],
    });
    const [value] = new FrameDecoder({ codec }).push(encodeFrame(new Id('x'), codec));
    expect(value).toEqual(new Id('x'));
  });
});

describe('FrameDecoder', () => {
  test('several frames in one chunk', () => {
    const stream = concat(...samples.map((v) => encodeFrame(v)));
    expect(new FrameDecoder().push(stream)).toEqual(samples);
  });

  test.each(samples.map((value, i) => [i, value]))('sample %i split at every byte boundary', (_i, value) => {
    const frame = encodeFrame(value);
    for (let cut = 0; cut <= frame.byteLength; cut++) {
      const decoder = new FrameDecoder();
      const first = decoder.push(frame.subarray(0, cut));
      const second = decoder.push(frame.subarray(cut));
      expect([...first, ...second]).toEqual([value]);
      expect(decoder.bufferedBytes).toBe(0);
      decoder.end();
    }
  });

  test('three frames split at every pair of boundaries', () => {
    const values = [{ a: 1 }, 'two', [3n]];
    const stream = concat(...values.map((v) => encodeFrame(v)));
    for (let i = 0; i <= stream.byteLength; i++) {
      for (let j = i; j <= stream.byteLength; j++) {
        const decoder = new FrameDecoder();
        const out = [...decoder.push(stream.subarray(0, i)), ...decoder.push(stream.subarray(i, j)), ...decoder.push(stream.subarray(j))];
        expect(out).toEqual(values);
      }
    }
  });

  test('one byte at a time: a frame completes on its last byte, not before', () => {
    const frames = samples.map((v) => encodeFrame(v));
    const stream = concat(...frames);
    const decoder = new FrameDecoder();
    const ends = new Set<number>();
    let at = 0;
    for (const frame of frames) ends.add((at += frame.byteLength));
    const out: unknown[] = [];
    for (let i = 0; i < stream.byteLength; i++) {
      const got = decoder.push(stream.subarray(i, i + 1));
      expect(got.length).toBe(ends.has(i + 1) ? 1 : 0);
      out.push(...got);
    }
    expect(out).toEqual(samples);
    expect(decoder.bufferedBytes).toBe(0);
  });

  test('decoded values do not change when the caller reuses its chunk buffer', () => {
    const frame = encodeFrame({ bytes: Buffer.from('original') });
    const chunk = Buffer.from(frame);
    const decoder = new FrameDecoder();
    const firstHalf = decoder.push(chunk.subarray(0, 10));
    const [value] = decoder.push(chunk.subarray(10));
    chunk.fill(0);
    expect(firstHalf).toEqual([]);
    expect((value as { bytes: Buffer }).bytes.toString()).toBe('original');
  });

  test('an empty chunk is fine; a zero-length frame is a decode error', () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    expect(frameError(() => decoder.push(header(0))).code).toBe('ERR_FRAME_DECODE');
  });

  test('an undecodable payload raises ERR_FRAME_DECODE with the CodecError as cause', () => {
    const error = frameError(() => new FrameDecoder().push(concat(header(2), new Uint8Array([0x82, 0x01]))));
    expect(error.code).toBe('ERR_FRAME_DECODE');
    expect(error.cause).toMatchObject({ code: 'ERR_CODEC_DECODE' });
  });

  test('a frame over maxFrameBytes is refused from its header alone', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 100 });
    expect(decoder.push(encodeFrameBytes(encode('x'.repeat(90))))).toEqual(['x'.repeat(90)]);
    expect(decoder.push(header(101).subarray(0, 3))).toEqual([]);
    const error = frameError(() => decoder.push(header(101).subarray(3)));
    expect(error.code).toBe('ERR_FRAME_TOO_LARGE');
    expect(error.message).toContain('101');
  });

  test('an advertised 4 GiB frame is rejected at once, without allocating it', () => {
    const before = process.memoryUsage();
    const started = process.hrtime.bigint();
    const decoder = new FrameDecoder({ maxFrameBytes: 2 ** 32 - 1 });
    // 0xffffffff fits the limit: it is accepted, but must not be allocated before its bytes come.
    expect(decoder.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(7);
    const bounded = new FrameDecoder();
    expect(frameError(() => bounded.push(new Uint8Array([0xff, 0xff, 0xff, 0xff]))).code).toBe('ERR_FRAME_TOO_LARGE');
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    const after = process.memoryUsage();
    expect(elapsedMs).toBeLessThan(100);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(1024 * 1024);
    expect(after.rss - before.rss).toBeLessThan(64 * 1024 * 1024);
  });

  test('a big frame grows its buffer as bytes arrive', () => {
    const value = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < value.length; i++) value[i] = i % 251;
    const frame = encodeFrame(value);
    const decoder = new FrameDecoder();
    const chunkSize = 16 * 1024;
    const out: unknown[] = [];
    for (let i = 0; i < frame.byteLength; i += chunkSize) out.push(...decoder.push(frame.subarray(i, i + chunkSize)));
    expect(out).toHaveLength(1);
    expect(out[0]).toBeInstanceOf(Uint8Array);
    expect(Buffer.compare(out[0] as Uint8Array, value)).toBe(0);
  });

  test('after an error the decoder stays failed', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 10 });
    const error = frameError(() => decoder.push(header(11)));
    expect(frameError(() => decoder.push(encodeFrame(1)))).toBe(error);
    expect(frameError(() => decoder.end())).toBe(error);
  });

  test('end() reports a partial frame as ERR_FRAME_TRUNCATED', () => {
    const frame = encodeFrame({ a: 'b' });
    for (const cut of [1, 3, 4, frame.byteLength - 1]) {
      const decoder = new FrameDecoder();
      decoder.push(frame.subarray(0, cut));
      const error = frameError(() => decoder.end());
      expect(error.code).toBe('ERR_FRAME_TRUNCATED');
    }
    const clean = new FrameDecoder();
    clean.push(frame);
    expect(() => clean.end()).not.toThrow();
  });

  test('maxFrameBytes must be an integer from 0 to 2^32 - 1', () => {
    for (const maxFrameBytes of [-1, 1.5, 2 ** 32, Number.NaN]) {
      expect(() => new FrameDecoder({ maxFrameBytes })).toThrow(RangeError);
    }
    expect(new FrameDecoder().maxFrameBytes).toBe(64 * 1024 * 1024);
  });
});

describe('RawFrameDecoder', () => {
  test('returns payload bytes, each with an ArrayBuffer of its own', () => {
    const payloads = [encode({ a: 1 }), new Uint8Array([1, 2, 3]), new Uint8Array(0)];
    const stream = concat(...payloads.map(encodeFrameBytes));
    const out = new RawFrameDecoder().push(stream);
    expect(out).toEqual(payloads);
    for (const payload of out) {
      expect(payload.byteOffset).toBe(0);
      expect(payload.buffer.byteLength).toBe(payload.byteLength);
    }
    expect(decode(out[0])).toEqual({ a: 1 });
  });

  test('payloads can be transferred without affecting each other', () => {
    const stream = concat(encodeFrameBytes(new Uint8Array([1])), encodeFrameBytes(new Uint8Array([2])));
    const [first, second] = new RawFrameDecoder().push(stream);
    structuredClone(first, { transfer: [first.buffer] });
    expect(first.byteLength).toBe(0); // detached
    expect([...second]).toEqual([2]);
  });

  test('split at every byte boundary; bounded and truncated like FrameDecoder', () => {
    const stream = concat(encodeFrameBytes(new Uint8Array([5, 6, 7])), encodeFrameBytes(new Uint8Array([8])));
    for (let cut = 0; cut <= stream.byteLength; cut++) {
      const decoder = new RawFrameDecoder();
      const out = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      expect(out.map((p) => [...p])).toEqual([[5, 6, 7], [8]]);
    }
    expect(frameError(() => new RawFrameDecoder({ maxFrameBytes: 2 }).push(stream)).code).toBe('ERR_FRAME_TOO_LARGE');
    const partial = new RawFrameDecoder();
    partial.push(stream.subarray(0, 5));
    expect(frameError(() => partial.end()).code).toBe('ERR_FRAME_TRUNCATED');
  });
});
