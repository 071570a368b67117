// The result path: a reply's arrival is acted on before its value is decoded. forkWork hands a
// VM its next chunk as soon as the reply to the previous one arrives; large replies are decoded
// after the event loop's turn, in arrival order, and what arrived is still delivered when the
// session ends.
import { encode } from '@river/sfm';
import { connectWorkers, createVM, forkWork, inject, type LinkListener, type SessionLink, type VM } from '../src';
import { peekReplyHeader } from '../src/client/reply-header';
import { clientOf } from '../src/vm';

/** A word-count-shaped result: `n` distinct words (encoded, ~10 bytes each). */
function bigMap(n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) m.set(`word${i}`, i);
  return m;
}

describe('peekReplyHeader', () => {
  test('reads id and ok of replies as the session writes them, for every id width', () => {
    for (const id of [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1]) {
      expect(peekReplyHeader(encode({ id, ok: true, value: bigMap(3) }))).toEqual({ id, ok: true });
      expect(peekReplyHeader(encode({ id, ok: false, error: { name: 'Error', message: 'x' } }))).toEqual({ id, ok: false });
    }
  });

  test('anything in another form is left to the decoder', () => {
    expect(peekReplyHeader(encode({ ok: true, id: 1, value: 1 }))).toBeUndefined();
    expect(peekReplyHeader(encode({ id: 2 ** 40, ok: true, value: 1 }))).toBeUndefined();
    expect(peekReplyHeader(encode({ id: 1, ok: 'yes', value: 1 }))).toBeUndefined();
    expect(peekReplyHeader(encode({ id: 1, ok: true }))).toBeUndefined();
    expect(peekReplyHeader(encode([1, true, 2]))).toBeUndefined();
    expect(peekReplyHeader(new Uint8Array([0xa3, 0x62, 0x69, 0x64, 0x1a, 0, 0, 0, 0]))).toBeUndefined();
    // The 1-byte map header other CBOR encoders write is read too.
    expect(peekReplyHeader(new Uint8Array([0xa3, 0x62, 0x69, 0x64, 0x18, 200, 0x62, 0x6f, 0x6b, 0xf5, 0xf6]))).toEqual({ id: 200, ok: true });
    expect(peekReplyHeader(new Uint8Array(0))).toBeUndefined();
  });
});

describe('forkWork hands out the next chunk when a reply arrives, before decoding it', () => {
  let vms: VM[] & AsyncDisposable;
  beforeAll(async () => {
    vms = await connectWorkers(1);
  });
  afterAll(() => vms[Symbol.asyncDispose]());

  test.each([
    ['large replies (decoded after the turn)', 20_000],
    ['small replies', 10],
  ])('%s', async (_label, words) => {
    function chunkMap(xs: number[]) {
      const m = new Map<string, number>();
      for (let i = 0; i < (globalThis as unknown as { words: number }).words; i++) m.set(`w${i}`, xs[0]! + i);
      return m;
    }
    await inject(vms, chunkMap, { words });
    const client = clientOf(vms[0]!);
    const before = client.requestsSent;
    // One chunk in flight at a time: without handing out at arrival, chunk k+1 would be sent
    // only after chunk k's result was decoded and counted.
    const sentAtProgress: number[] = [];
    const items = Array.from({ length: 6 }, (_, i) => i);
    const results = await forkWork(vms, chunkMap, items, {
      chunksize: 1,
      inFlightPerVM: 1,
      ordered: true,
      onProgress: () => sentAtProgress.push(client.requestsSent - before),
    });
    // When chunk k (1-based) has been decoded and counted, chunk k+1 is already out.
    expect(sentAtProgress).toEqual([2, 3, 4, 5, 6, 6]);
    expect(results.map((m) => m.get('w1'))).toEqual(items.map((i) => i + 1));
    expect(results[5]!.size).toBe(words);
  });
});

/** A session link the test drives by hand (the public `createVM(link)` extension point). */
class HandLink implements SessionLink {
  readonly vm = { id: 'hand-1', name: 'hand' };
  listener!: LinkListener;
  readonly sent: Array<{ id: number; kind: string }> = [];
  send(bytes: Uint8Array): void {
    const { decode } = require('@river/sfm') as typeof import('@river/sfm');
    const request = decode(bytes) as { id: number; kind: string };
    this.sent.push({ id: request.id, kind: request.kind });
  }
  listen(listener: LinkListener): void {
    this.listener = listener;
  }
  async close(): Promise<void> {}
}

describe('large replies are decoded in arrival order, and delivered when the session ends', () => {
  test('replies keep their order; a loss right after they arrive still delivers them', async () => {
    const link = new HandLink();
    const vm = createVM(link) as VM & { f(x: number): Promise<unknown> };
    const calls = [vm.f(1), vm.f(2), vm.f(3)];
    expect(link.sent.map((r) => r.kind)).toEqual(['call', 'call', 'call']);
    const settled: string[] = [];
    calls.forEach((p, i) => p.then(() => settled.push(`ok ${i + 1}`), (e: Error) => settled.push(`${e.name} ${i + 1}`)));
    const [a, b, c] = link.sent;
    link.listener.message(encode({ id: a!.id, ok: true, value: bigMap(4000) })); // large: queued
    link.listener.message(encode({ id: b!.id, ok: true, value: 'small' })); // small, but behind it
    expect(settled).toEqual([]);
    link.listener.lost(new Error('connection reset'));
    await Promise.allSettled(calls);
    expect(settled).toEqual(['ok 1', 'ok 2', 'VMLostError 3']);
    expect(((await calls[0]) as Map<string, number>).get('word3999')).toBe(3999);
    expect(await calls[1]).toBe('small');
    void c;
  });

  test('a queued reply is decoded after the turn, not at once', async () => {
    const link = new HandLink();
    const vm = createVM(link) as VM & { f(x: number): Promise<unknown> };
    const call = vm.f(1);
    let done = false;
    void call.then(() => (done = true));
    link.listener.message(encode({ id: link.sent[0]!.id, ok: true, value: bigMap(4000) }));
    await Promise.resolve();
    await Promise.resolve();
    expect(done).toBe(false);
    expect(((await call) as Map<string, number>).size).toBe(4000);
    await clientOf(vm).close();
  });
});
