// The RAI message body written and read by hand (src/river/rai-body.ts): the same CBOR SFM's
// codec reads as `{ tag: 'trickle:rai', b: <batch> }`, byte by byte, for every length form.
import { decode, encode } from '@river/sfm';
import { raiBatchOf, raiBodyHeader, readRaiBody } from '../src/river/rai-body';
import { MessageBatcher, unbatch } from '../src/worker/batch';

/** The body a RiverLink or the RAI VR sends for these messages. */
function bodyOf(messages: Uint8Array[]): Uint8Array {
  let body: Uint8Array | undefined;
  const batcher = new MessageBatcher((out) => {
    body = out;
  }, raiBodyHeader);
  for (const m of messages) batcher.push(m);
  batcher.flush();
  return body!;
}

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

test('a small body, byte by byte', () => {
  const body = bodyOf([Uint8Array.of(0xf6)]); // one message: CBOR null
  expect([...body]).toEqual([
    0xa2, // map(2)
    0x63, ...Buffer.from('tag'),
    0x6b, ...Buffer.from('trickle:rai'),
    0x61, ...Buffer.from('b'),
    0x45, // bytes(5): the batch
    0, 0, 0, 1, 0xf6, // 4-byte length, then the message
  ]);
  expect(decode(body)).toEqual({ tag: 'trickle:rai', b: Buffer.from([0, 0, 0, 1, 0xf6]) });
});

test.each([
  ['1-byte header', [bytes(3)]],
  ['2-byte header', [bytes(40), bytes(100)]],
  ['3-byte header', [bytes(300), bytes(5000)]],
  ['5-byte header', [bytes(70_000), bytes(1)]],
  ['2-byte header at 24 bytes', [bytes(20)]],
  ['3-byte header at 256 bytes', [bytes(252)]],
  ['5-byte header at 65,536 bytes', [bytes(65_532)]],
])('%s: SFM decodes it, the hand reader reads it back', (_name, messages) => {
  const body = bodyOf(messages);
  const general = decode(body) as { tag: string; b: Uint8Array };
  expect(general.tag).toBe('trickle:rai');
  const batch = raiBatchOf(body)!;
  expect(Buffer.from(batch)).toEqual(Buffer.from(general.b));
  const back: Uint8Array[] = [];
  unbatch(batch, (m) => back.push(Uint8Array.from(m)));
  expect(back).toEqual(messages);
});

test('a body from the general encoder is read by the general path', () => {
  const batch = Uint8Array.of(0, 0, 0, 1, 0xf6);
  const body = encode({ tag: 'trickle:rai', b: batch }); // a tagged Uint8Array, not a byte string
  expect(raiBatchOf(body)).toBeUndefined();
  expect([...readRaiBody(body)!]).toEqual([...batch]);
  expect([...readRaiBody(encode({ b: Buffer.from(batch), tag: 'trickle:rai' }))!]).toEqual([...batch]);
});

test('other messages, truncated and padded bodies are not batches', () => {
  expect(readRaiBody(encode({ tag: 'trickle:end' }))).toBeUndefined();
  expect(readRaiBody(encode({ tag: 'river:exit', uuid: 'x', value: 1 }))).toBeUndefined();
  expect(readRaiBody(encode({ tag: 'trickle:rai' }))).toBeUndefined();
  expect(readRaiBody(Uint8Array.of(0xff))).toBeUndefined();
  const body = bodyOf([bytes(300)]);
  for (const cut of [1, 10, 20, 21, 22, 100, body.length - 1]) expect(raiBatchOf(body.subarray(0, cut))).toBeUndefined();
  const padded = new Uint8Array(body.length + 1);
  padded.set(body);
  expect(raiBatchOf(padded)).toBeUndefined();
});
