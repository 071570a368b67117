// The server entry a transport calls (RaiServer.receive / send), driven over an in-memory link in
// this thread: what the River VR does with SFM message bodies, minus River.
import { createVM, disconnect, inject, SerializationError, sessionStats, VMStoppingError, type LinkListener, type SessionLink } from '../src';
import { RaiServer, clientOf, createWireCodec, type Reply } from '../src/internal';
import { TargetRef } from '../src/values/markers';
import { unbatch } from '../src/worker/batch';

function loopbackLink(stopping?: () => boolean): SessionLink & { server: RaiServer; sent: number } {
  let listener: LinkListener | undefined;
  const vm = { id: 'loopback-1', name: 'loopback' };
  const server = new RaiServer({
    vm,
    stopping,
    // Replies must reach the client in order and asynchronously, as over any transport.
    send: (bytes) => queueMicrotask(() => listener?.message(bytes)),
  });
  const link = {
    vm,
    server,
    sent: 0,
    send(bytes: Uint8Array) {
      link.sent++;
      server.receive(bytes);
    },
    listen(l: LinkListener) {
      listener = l;
    },
    async close() {
      server.close();
      listener?.lost(new Error('closed'));
    },
  };
  return link;
}

test('a session client over any SessionLink: RaiServer.receive(bytes) in, send(bytes) out', async () => {
  const link = loopbackLink();
  const vm = createVM(link);
  function triple(x: number) {
    return 3 * x;
  }
  class Cell {
    constructor(public v: number) {}
    get() {
      return this.v;
    }
  }
  const typed = await inject(vm, { triple, Cell });
  expect(await typed.triple(3)).toBe(9);
  const cell = await new typed.Cell(4);
  expect(await cell.get()).toBe(4);
  expect((await sessionStats(vm)).objects).toBe(1);
  expect(link.server.session.stats().objects).toBe(1);
  expect(link.sent).toBe(5);
  await disconnect(vm);
  expect(link.server.session.stats().objects).toBe(0);
  delete (globalThis as Record<string, unknown>).triple;
  delete (globalThis as Record<string, unknown>).Cell;
});

test('a stopping server refuses what would run code (VMStoppingError, the VM draining), still answers pings', async () => {
  let stopping = false;
  const link = loopbackLink(() => stopping);
  const vm = createVM(link);
  function twice(x: number) {
    return 2 * x;
  }
  const typed = await inject(vm, { twice });
  expect(await typed.twice(2)).toBe(4);
  const events: string[] = [];
  clientOf(vm).watch((event) => events.push(event.kind));
  stopping = true;
  const refused = await Promise.resolve(typed.twice(3)).catch((e: unknown) => e);
  expect(VMStoppingError.isInstance(refused)).toBe(true);
  expect(refused).toMatchObject({ code: 'TRICKLE_VM_STOPPING', remoteName: 'twice()', vm: { name: 'loopback' } });
  expect((refused as Error).message).toMatch(/VM 'loopback' is stopping: it did not run twice\(\)/);
  expect(clientOf(vm).isDraining).toBe(true);
  expect(events).toEqual(['draining']);
  await expect(inject(vm, { more: 1 })).rejects.toThrow(VMStoppingError);
  expect(await clientOf(vm).ping()).toBe('pong');
  await disconnect(vm);
  delete (globalThis as Record<string, unknown>).twice;
});

test('undecodable references fail only their request, with a reply saying why', async () => {
  const replies: Reply[] = [];
  const codec = createWireCodec({
    remoteRef: () => undefined,
    targetRef: () => undefined,
    codeRef: () => undefined,
  });
  const server = new RaiServer({ send: (bytes) => replies.push(codec.decode(bytes) as Reply) });
  server.receive(codec.encode({ id: 1, kind: 'call', target: { path: ['String'] }, args: [new TargetRef(99, [])] }));
  server.receive(codec.encode({ id: 2, kind: 'ping' }));
  expect(replies).toHaveLength(2);
  expect(replies[0]).toMatchObject({ id: 1, ok: false, error: { failure: 'UNKNOWN_REF', message: expect.stringMatching(/remote object #99 is no longer held/) } });
  expect(replies[1]).toEqual({ id: 2, ok: true, value: 'pong' });
  server.close();
});

test('malformed requests are answered with BAD_REQUEST, undecodable bytes dropped; the server never throws', async () => {
  const replies: Reply[] = [];
  const codec = createWireCodec({ remoteRef: () => ({}), targetRef: () => ({}), codeRef: () => ({}) });
  const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    const server = new RaiServer({ vm: { id: 'v', name: 'v' }, send: (bytes) => replies.push(codec.decode(bytes) as Reply) });
    const bad: unknown[] = [
      { id: 1, kind: 'call', target: 5, args: [] },
      { id: 2, kind: 'call', target: { path: 'x' }, args: [] },
      { id: 3, kind: 'call', target: { path: ['Math', 'max'] }, args: 'no' },
      { id: 4, kind: 'inject', items: 3 },
      { id: 5, kind: 'inject', items: [{ name: 'f', as: 'code', code: { source: 1 } }] },
      { id: 6, kind: 'release', refs: [['a', 1]] },
      { id: 7, kind: 'get', target: { ref: 'x', path: [] } },
      { id: 8, kind: 'frobnicate' },
      { id: 9, kind: 'call', target: { path: Array.from({ length: 2000 }, () => 'a') }, args: [] },
    ];
    for (const request of bad) expect(() => server.receive(codec.encode(request))).not.toThrow();
    server.receive(new Uint8Array([0xff, 0x00, 0x13]));
    server.receive(codec.encode({ kind: 'call' })); // no id: nobody to answer
    server.receive(codec.encode({ id: 10, kind: 'call', target: { path: ['Math', 'max'] }, args: [1, 2] }));
    expect(replies.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const reply of replies.slice(0, 9)) {
      expect(reply.ok).toBe(false);
      expect((reply as Extract<Reply, { ok: false }>).error.failure).toBe('BAD_REQUEST');
    }
    expect(replies[9]).toEqual({ id: 10, ok: true, value: 2 });
    expect(warn.mock.calls.map((c) => String(c[0])).filter((w) => /dropped an undecodable request/.test(w))).toHaveLength(2);
  } finally {
    warn.mockRestore();
  }
});

test('unbatch never throws on a malformed batch: it delivers what is whole and says so', async () => {
  const got: number[] = [];
  const whole = new Uint8Array([0, 0, 0, 1, 7, 0, 0, 0, 2, 8, 9]);
  expect(unbatch(whole, (b) => got.push(b.length))).toBe(true);
  expect(got).toEqual([1, 2]);
  got.length = 0;
  expect(unbatch(new Uint8Array([0, 0, 0, 1, 7, 0, 0, 0, 9, 8]), (b) => got.push(b.length))).toBe(false); // runs past the end
  expect(unbatch(new Uint8Array([0, 0, 0, 1, 7, 0, 0]), (b) => got.push(b.length))).toBe(false); // truncated header
  expect(got).toEqual([1, 1]);
});

test('forkWork reduce requests: fold, take, restore, end; a session without River refuses give/expect (NO_PEERS); bad input is BAD_REQUEST', async () => {
  const link = loopbackLink();
  const vm = createVM(link);
  const client = clientOf(vm);
  function double(xs: number[]) {
    return xs.map((x) => 2 * x);
  }
  function concat(a: number[], b: number[]) {
    return a.concat(b);
  }
  function notPlain(xs: number[]) {
    return new (class Box {
      constructor(readonly xs: number[]) {}
    })(xs);
  }
  await inject(vm, { double, notPlain });
  const run = 'run-1';
  expect(await client.fold(run, 0, { path: ['double'] }, [1, 2], concat, 'double()')).toBeNull();
  expect(await client.fold(run, 1, { path: ['double'] }, [3], concat, 'double()')).toBeNull();
  expect((await sessionStats(vm)).runs).toBe(1);
  // No River address: the session cannot reach other sessions.
  await expect(client.combine(run, { op: 'give', to: 'somebody', deposit: 1 })).rejects.toMatchObject({ failure: 'NO_PEERS' });
  await expect(client.combine(run, { op: 'expect', from: 'somebody', deposit: 1 })).rejects.toMatchObject({ failure: 'NO_PEERS' });
  // take folds the extras in and hands the accumulator over; the next take finds a fresh one.
  const taken = (await client.combine(run, { op: 'take', extras: [[100]], reduce: concat }))!;
  expect([...(taken.value as number[])].sort((a, b) => a - b)).toEqual([2, 4, 6, 100]);
  expect(taken.chunks.sort()).toEqual([0, 1]);
  expect(await client.combine(run, { op: 'take', extras: [], reduce: concat })).toEqual({ chunks: [], value: undefined });
  // An accumulator that is not plain data is refused when it would travel, and kept.
  await client.fold('run-2', 0, { path: ['notPlain'] }, [1], concat, 'notPlain()');
  await expect(client.combine('run-2', { op: 'take', extras: [], reduce: concat })).rejects.toThrow(SerializationError);
  await expect(client.combine('run-2', { op: 'take', extras: [], reduce: concat })).rejects.toThrow(/the accumulator is an instance of Box.*must be plain data/);
  expect(link.server.session.accumulators.size).toBe(2);
  // end forgets the runs.
  await client.combine(run, { op: 'end' });
  await client.combine('run-2', { op: 'end' });
  expect((await sessionStats(vm)).runs).toBe(0);
  // Malformed: no run, an unknown op, a reducer that is not a function.
  await expect(client.request({ kind: 'combine', op: 'take', extras: [] } as never, { remoteName: 'combine' })).rejects.toMatchObject({ failure: 'BAD_REQUEST' });
  await expect(client.request({ kind: 'combine', run, op: 'explode' } as never, { remoteName: 'combine' })).rejects.toMatchObject({ failure: 'BAD_REQUEST' });
  await expect(client.request({ kind: 'fold', run, chunk: 0, target: { path: ['double'] }, args: [[1]], reduce: 5 } as never, { remoteName: 'fold' })).rejects.toMatchObject({ failure: 'BAD_REQUEST', remoteMessage: expect.stringMatching(/reducer is not a function/) });
  await disconnect(vm);
  delete (globalThis as Record<string, unknown>).double;
  delete (globalThis as Record<string, unknown>).notPlain;
});
