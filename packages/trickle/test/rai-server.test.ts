// The server entry a transport calls (RaiServer.receive / send), driven over an in-memory link in
// this thread: what the River VR does with SFM message bodies, minus River.
import { createVM, disconnect, inject, sessionStats, type LinkListener, type SessionLink } from '../src';
import { RaiServer, createWireCodec, type Reply } from '../src/internal';
import { TargetRef } from '../src/values/markers';

function loopbackLink(): SessionLink & { server: RaiServer; sent: number } {
  let listener: LinkListener | undefined;
  const vm = { id: 'loopback-1', name: 'loopback' };
  const server = new RaiServer({
    vm,
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
