/**
 * The handshake state machine and Connection, without sockets: both sides in memory, frames fed
 * whole or one byte at a time, a fake clock for timeouts.
 */
import { randomUUID } from 'node:crypto';

import { FrameDecoder, encodeFrame } from '@river/sfm';

import { AuthError, HandshakeError, PeerLostError, ProtocolError } from '../src';
import { Handshake, computeMac, type HandshakeOptions } from '../src/auth/handshake';
import { Connection, type CloseReason } from '../src/net/connection';
import { MemoryTransport, memoryTransportPair } from '../src/net/transport';
import { FrameKind, PROTOCOL_VERSION, type Frame } from '../src/protocol';

const KEY = 'a-cluster-key-of-enough-length';

const NO_KEY = Symbol('no key');

function side(side: 'dialer' | 'acceptor', key: string | typeof NO_KEY = KEY, extra: Partial<HandshakeOptions> = {}): Handshake {
  return new Handshake({
    side,
    nodeId: randomUUID(),
    role: side === 'dialer' ? 'initiator' : 'vm',
    key: key === NO_KEY ? undefined : key,
    listenPort: 1234,
    info: null,
    ...extra,
  });
}

/** Runs two handshakes against each other; returns what each side ended with. */
function run(d: Handshake, a: Handshake) {
  const toA: Frame[] = [...d.start()];
  const toD: Frame[] = [...a.start()];
  const result: { dialer?: ReturnType<Handshake['receive']>; acceptor?: ReturnType<Handshake['receive']> } = {};
  for (let i = 0; i < 10 && (toA.length || toD.length); i++) {
    while (toA.length) {
      const step = a.receive(toA.shift()!);
      toD.push(...step.send);
      if (step.done || step.error) result.acceptor ??= step;
    }
    while (toD.length) {
      const step = d.receive(toD.shift()!);
      toA.push(...step.send);
      if (step.done || step.error) result.dialer ??= step;
    }
  }
  return result;
}

describe('Handshake', () => {
  test('same key: both sides authenticate and learn each other', () => {
    const d = side('dialer');
    const a = side('acceptor');
    const r = run(d, a);
    expect(r.dialer?.done).toMatchObject({ role: 'vm', listenPort: 1234 });
    expect(r.acceptor?.done).toMatchObject({ role: 'initiator' });
    expect(d.kind).toBe('done');
    expect(a.kind).toBe('done');
  });

  test('no key on both sides works (loopback clusters)', () => {
    const r = run(side('dialer', NO_KEY), side('acceptor', NO_KEY));
    expect(r.dialer?.done).toBeDefined();
    expect(r.acceptor?.done).toBeDefined();
  });

  test('different keys: the dialer refuses the acceptor’s proof first', () => {
    const r = run(side('dialer', 'another-key-of-enough-length'), side('acceptor'));
    expect(AuthError.isInstance(r.dialer?.error)).toBe(true);
    expect(r.dialer?.send[0]?.[0]).toBe(FrameKind.ERROR);
    expect(r.acceptor?.error).toMatchObject({ name: 'AuthError', message: expect.stringMatching(/peer refused authentication/) });
  });

  test('keyed vs keyless fails early with a clear message, both ways', () => {
    const r1 = run(side('dialer', NO_KEY), side('acceptor'));
    expect(r1.acceptor?.error?.message).toMatch(/peer has no cluster key, this node requires one/);
    const r2 = run(side('dialer'), side('acceptor', NO_KEY));
    expect(r2.acceptor?.error?.message).toMatch(/peer requires a cluster key, this node has none/);
  });

  test('the acceptor refuses a dialer AUTH made with the wrong key', () => {
    const a = side('acceptor');
    const nonce = new Uint8Array(32).fill(1);
    const dialerId = randomUUID();
    const step1 = a.receive([FrameKind.HELLO, { version: PROTOCOL_VERSION, nodeId: dialerId, role: 'initiator', nonce, keyed: true }]);
    const acceptorHello = step1.send[0] as [number, { nonce: Uint8Array; nodeId: string }];
    const bad = computeMac('wrong-key-of-enough-length', 'dialer', acceptorHello[1].nonce, nonce, dialerId, acceptorHello[1].nodeId);
    const step2 = a.receive([FrameKind.AUTH, bad]);
    expect(AuthError.isInstance(step2.error)).toBe(true);
    expect(step2.send).toEqual([[FrameKind.ERROR, 'RIVER_AUTH_FAILED', expect.any(String)]]);
  });

  test('a recorded handshake replayed against a new acceptor fails (its nonce is fresh)', () => {
    const d = side('dialer');
    const a1 = side('acceptor', KEY, { nodeId: 'acceptor-node' });
    const recorded: Frame[] = [];
    const toA: Frame[] = [...d.start()];
    recorded.push(...toA);
    while (toA.length) {
      const step = a1.receive(toA.shift()!);
      for (const f of step.send) {
        const back = d.receive(f);
        recorded.push(...back.send);
        toA.push(...back.send);
      }
    }
    expect(a1.kind).toBe('done');
    // Same acceptor node id, new connection: a fresh nonce makes the old dialer AUTH useless.
    const a2 = side('acceptor', KEY, { nodeId: 'acceptor-node' });
    let last;
    for (const f of recorded) last = a2.receive(f);
    expect(AuthError.isInstance(last?.error)).toBe(true);
  });

  test('a truncated MAC is refused (length checked before the constant-time compare)', () => {
    const a = side('acceptor');
    a.receive([FrameKind.HELLO, { version: PROTOCOL_VERSION, nodeId: randomUUID(), role: 'initiator', nonce: new Uint8Array(32), keyed: true }]);
    expect(AuthError.isInstance(a.receive([FrameKind.AUTH, new Uint8Array(5)]).error)).toBe(true);
  });

  test('frames before the handshake completes are refused', () => {
    const a = side('acceptor');
    a.start();
    const step = a.receive([FrameKind.ROUTE, randomUUID(), randomUUID(), new Uint8Array(1)]);
    expect(HandshakeError.isInstance(step.error)).toBe(true);
    expect(step.error?.message).toMatch(/expected HELLO.*got ROUTE/);
  });

  test('HELLO says only what the MACs need; listen port and VMInfo travel after the peer proved the key', () => {
    const info = { id: randomUUID(), name: 'vm-a', host: '10.0.0.1', port: 4000, slots: 2, version: '0.0.0' };
    const d = side('dialer', KEY, { listenPort: 5555 });
    const a = side('acceptor', KEY, { info, listenPort: 4000 });
    const [hello] = d.start();
    expect(Object.keys((hello as [number, object])[1]).sort()).toEqual(['keyed', 'nodeId', 'nonce', 'role', 'version']);
    const fromAcceptor = a.receive(hello!).send;
    // The acceptor's HELLO and AUTH go out before it has verified the dialer: nothing about it yet.
    expect(fromAcceptor.map((f) => f[0])).toEqual([FrameKind.HELLO, FrameKind.AUTH]);
    expect(JSON.stringify(fromAcceptor)).not.toContain('vm-a');
    expect(fromAcceptor[1]).toHaveLength(2);
    d.receive(fromAcceptor[0]!);
    const dialerAuth = d.receive(fromAcceptor[1]!).send;
    expect(dialerAuth[0]).toEqual([FrameKind.AUTH, expect.any(Uint8Array), { listenPort: 5555, info: null }]);
    const ready = a.receive(dialerAuth[0]!);
    expect(ready.done).toMatchObject({ listenPort: 5555 });
    expect(ready.send[0]).toEqual([FrameKind.READY, { listenPort: 4000, info }]);
    expect(d.receive(ready.send[0]!).done).toMatchObject({ role: 'vm', listenPort: 4000, info });
  });

  test('the MACs cover the channel binding: a handshake spliced onto another channel fails', () => {
    const bindingA = new Uint8Array(32).fill(1);
    const bindingB = new Uint8Array(32).fill(2);
    const same = run(side('dialer', KEY, { channelBinding: () => bindingA }), side('acceptor', KEY, { channelBinding: () => bindingA }));
    expect(same.dialer?.done).toBeDefined();
    expect(same.acceptor?.done).toBeDefined();
    const spliced = run(side('dialer', KEY, { channelBinding: () => bindingA }), side('acceptor', KEY, { channelBinding: () => bindingB }));
    expect(AuthError.isInstance(spliced.dialer?.error)).toBe(true);
    expect(spliced.acceptor?.done).toBeUndefined();
  });

  test('version mismatch, connecting to itself, unexpected node id', () => {
    const a = side('acceptor');
    expect(a.receive([FrameKind.HELLO, { version: 99, nodeId: randomUUID(), role: 'vm', nonce: new Uint8Array(32), keyed: true }]).error?.message).toMatch(
      /version mismatch/,
    );
    const self = side('acceptor', KEY, { nodeId: 'me' });
    expect(self.receive([FrameKind.HELLO, { version: PROTOCOL_VERSION, nodeId: 'me', role: 'vm', nonce: new Uint8Array(32), keyed: true }]).error?.message).toMatch(/itself/);
    const r = run(side('dialer', KEY, { expectNodeId: 'someone-else' }), side('acceptor'));
    expect(r.dialer?.error?.message).toMatch(/expected node someone-else/);
  });
});

describe('Connection over an in-memory transport', () => {
  let clock = 0;
  const now = () => clock;

  function pair(keys: [string | undefined, string | undefined] = [KEY, KEY], opts: { feedBytewise?: boolean } = {}) {
    const [td, ta] = memoryTransportPair();
    const common = { maxFrameBytes: 1 << 20, pingIntervalMs: 1000, peerTimeoutMs: 5000, handshakeTimeoutMs: 3000, now, listenPort: null, info: null };
    const d = new Connection(td, { ...common, side: 'dialer', nodeId: randomUUID(), role: 'initiator', key: keys[0] });
    const a = new Connection(ta, { ...common, side: 'acceptor', nodeId: randomUUID(), role: 'vm', key: keys[1] });
    if (opts.feedBytewise) {
      // Deliver every chunk one byte at a time.
      for (const t of [td, ta]) {
        const receive = t.receive.bind(t);
        t.receive = (data: Uint8Array) => {
          for (const byte of data) receive(Uint8Array.of(byte));
        };
      }
    }
    const events = { d: [] as unknown[], a: [] as unknown[] };
    const closes: { d?: CloseReason; a?: CloseReason } = {};
    const opened = { d: false, a: false };
    d.start({ open: () => (opened.d = true), frame: (_c, f) => events.d.push(f), close: (_c, r) => (closes.d = r) });
    a.start({ open: () => (opened.a = true), frame: (_c, f) => events.a.push(f), close: (_c, r) => (closes.a = r) });
    return { d, a, td, ta, events, closes, opened };
  }

  const settle = async (n = 20) => {
    for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  };

  test.each([false, true])('handshake then frames both ways (byte at a time: %s)', async (feedBytewise) => {
    const p = pair([KEY, KEY], { feedBytewise });
    await settle(feedBytewise ? 400 : 20);
    expect(p.opened).toEqual({ d: true, a: true });
    expect(p.d.state.kind).toBe('open');
    p.d.send([FrameKind.ROUTE, 'x', 'y', new Uint8Array([1, 2, 3])]);
    p.a.send([FrameKind.NOTICE, 'members', { members: [] }]);
    await settle(feedBytewise ? 400 : 20);
    expect(p.events.a).toEqual([[FrameKind.ROUTE, 'x', 'y', new Uint8Array([1, 2, 3])]]);
    expect(p.events.d).toEqual([[FrameKind.NOTICE, 'members', { members: [] }]]);
  });

  test('frames of one tick go out in one write', async () => {
    const p = pair();
    await settle();
    const before = p.td.written.length;
    for (let i = 0; i < 50; i++) p.d.send([FrameKind.ROUTE, 'x', 'y', new Uint8Array([i])]);
    await settle();
    expect(p.td.written.length - before).toBe(1);
    expect(p.events.a).toHaveLength(50);
  });

  test('wrong key: both sides close with AuthError', async () => {
    const p = pair([KEY, 'other-key-of-enough-length']);
    await settle();
    expect(p.closes.d).toMatchObject({ kind: 'error', error: { name: 'AuthError' } });
    expect(p.closes.a).toMatchObject({ kind: 'error' });
  });

  test('heartbeats: PINGs keep an idle link open; silence past peerTimeoutMs closes it', async () => {
    const p = pair();
    await settle();
    for (let t = 0; t < 12; t++) {
      clock += 500;
      p.d.tick();
      p.a.tick();
      await settle();
    }
    expect(p.d.state.kind).toBe('open');
    expect(p.a.state.kind).toBe('open');
    // The acceptor goes silent (its transport stops delivering).
    (p.ta as MemoryTransport).write = () => undefined;
    for (let t = 0; t < 12; t++) {
      clock += 500;
      p.d.tick();
      await settle();
    }
    expect(p.closes.d?.kind).toBe('timeout');
    expect(PeerLostError.isInstance((p.closes.d as { error: Error }).error)).toBe(true);
  });

  test('no handshake within handshakeTimeoutMs: closed with HandshakeError', async () => {
    const [t] = memoryTransportPair();
    const c = new Connection(t, { side: 'acceptor', nodeId: randomUUID(), role: 'vm', key: KEY, listenPort: null, info: null, maxFrameBytes: 1 << 20, pingIntervalMs: 1000, peerTimeoutMs: 5000, handshakeTimeoutMs: 3000, now });
    let reason: CloseReason | undefined;
    c.start({ open: () => undefined, frame: () => undefined, close: (_c, r) => (reason = r) });
    clock += 3001;
    c.tick();
    expect(reason).toMatchObject({ kind: 'error', error: { name: 'HandshakeError' } });
    const sent = new FrameDecoder().push(Buffer.concat(t.written));
    expect(sent).toEqual([[FrameKind.ERROR, 'RIVER_HANDSHAKE_FAILED', expect.stringMatching(/no handshake within 3000 ms/)]]);
  });

  test('an oversized frame before authentication is refused (small pre-auth limit)', async () => {
    const [t] = memoryTransportPair();
    const c = new Connection(t, { side: 'acceptor', nodeId: randomUUID(), role: 'vm', key: KEY, listenPort: null, info: null, maxFrameBytes: 1 << 20, pingIntervalMs: 1000, peerTimeoutMs: 5000, handshakeTimeoutMs: 3000, now });
    let reason: CloseReason | undefined;
    c.start({ open: () => undefined, frame: () => undefined, close: (_c, r) => (reason = r) });
    t.receive(encodeFrame({ blob: new Uint8Array(100_000) }));
    expect(reason?.kind).toBe('error');
  });

  test('a malformed frame after the handshake closes with ProtocolError', async () => {
    const p = pair();
    await settle();
    p.ta.write([encodeFrame(['not', 'a', 'frame'])]);
    await settle();
    expect(p.closes.d).toMatchObject({ kind: 'error' });
    expect(ProtocolError.isInstance((p.closes.d as { error: Error }).error)).toBe(true);
  });

  test('BYE closes with its reason; retire() drains until the peer’s BYE', async () => {
    const p = pair();
    await settle();
    p.d.retire();
    expect(p.d.state.kind).toBe('draining');
    p.a.send([FrameKind.ROUTE, 'late', 'frame', new Uint8Array()]);
    await settle();
    expect(p.closes.a).toEqual({ kind: 'bye', reason: 'duplicate' });
    // The frame the acceptor sent before seeing our BYE still arrived.
    expect(p.events.d).toEqual([[FrameKind.ROUTE, 'late', 'frame', new Uint8Array()]]);
  });
});
