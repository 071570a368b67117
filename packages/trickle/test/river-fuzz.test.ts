/**
 * Fuzz: more than 10,000 malformed inputs against a live, keyed `trickle vm` — random bytes,
 * truncated and oversized frames (before and after the handshake), a valid handshake followed by
 * garbage, well-formed frames of the wrong shape, unknown request kinds and calls to missing names
 * through a real Trickle session, and raw RAI messages of the wrong shape sent by a River
 * initiator VR straight to a RAI VR (its own session's, and another's) — interleaved with a
 * well-behaved client whose calls must all succeed. Seeded, bounded in count and time; it prints
 * how many inputs of each kind it sent.
 */
import { randomUUID } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { encode, encodeFrame, encodeFrameBytes } from '@river/sfm';
import { generateKey, startInitiator, type Initiator, type UUID, type VMInfo } from '@river/engine';
import { Prng } from '../../sfm/test/prng';
import { RawClient } from '../../river/test/fixtures/raw-client';
import { startVm, type VmProcess } from '../../river/test/fixtures/vm-process';
import { FrameKind } from '../../river/src/protocol';
import { RemoteError, connect, createVM, inject, type VM } from '../src';
import { RiverLink, RAI_EXTENSION, clientOf, createWireCodec } from '../src/internal';

jest.setTimeout(120_000);

const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');
const KEY = generateKey();
const SEED = 0x7121c1e;
/** Hard stop for the whole run, whatever the counts. */
const DEADLINE_MS = 75_000;

const rng = new Prng(SEED);
const sent: Record<string, number> = {};
const count = (kind: string, n = 1) => {
  sent[kind] = (sent[kind] ?? 0) + n;
};
const total = () => Object.values(sent).reduce((a, b) => a + b, 0);

let vmProc: VmProcess;
let good: VM[] & AsyncDisposable;
let goodCalls = 0;

function add(a: number, b: number) {
  return a + b;
}

/** The well-behaved client: one call, which must come back right. */
async function wellBehaved(): Promise<void> {
  const n = goodCalls++;
  expect(await good[0]!.add(n, 1)).toBe(n + 1);
  expect(vmProc.child.exitCode).toBeNull();
}

beforeAll(async () => {
  vmProc = await startVm(['--host', '127.0.0.1', '--handshake-timeout', '2000'], { cli: TRICKLE_CLI, env: { RIVER_KEY: KEY } });
  good = await inject(await connect({ peers: [vmProc.address], mdns: false, key: KEY }), { add });
});

afterAll(async () => {
  await good?.[Symbol.asyncDispose]();
  await vmProc?.dispose();
});

// ------------------------------------------------------------------------------- generators

/** A random value of any CBOR-ish shape (maps, lists, bytes, text, numbers, …), bounded in size. */
function randomValue(depth = 0): unknown {
  const pick = rng.int(depth > 2 ? 7 : 10);
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.int(2 ** 31) - 2 ** 30;
    case 3:
      return rng.next() * 1e6;
    case 4:
      return Buffer.from(rng.bytes(rng.int(40))).toString('latin1');
    case 5:
      return rng.bytes(rng.int(64));
    case 6:
      return rng.pick([randomUUID(), '', 'x'.repeat(300), 'trickle:rai', 'river:exit', '__proto__']);
    case 7:
      return Array.from({ length: rng.int(5) }, () => randomValue(depth + 1));
    case 8: {
      const out: Record<string, unknown> = {};
      for (let i = rng.int(5); i > 0; i--) out[rng.pick(['id', 'kind', 'target', 'path', 'args', 'uuids', 'error', 'members', 'info', 'uuid', 'parent', 'b', 'tag', 'x'])] = randomValue(depth + 1);
      return out;
    }
    default:
      return { id: rng.pick([randomUUID(), 5, 'x']), host: rng.chance(0.5) ? randomValue(depth + 1) : '127.0.0.1', port: rng.chance(0.5) ? randomValue(depth + 1) : 1, name: 'fuzz' };
  }
}

/** A frame that parses as CBOR but has the wrong shape for River (or is valid but points nowhere). */
function wrongShapeFrame(): unknown {
  switch (rng.int(11)) {
    case 10: {
      // Member lists with entries that look like VMs but are not (no host, a bad port, …).
      const members = Array.from({ length: 1 + rng.int(3) }, () => randomValue(2));
      return rng.chance(0.5) ? [FrameKind.NOTICE, 'members', { members }] : [FrameKind.REQUEST, rng.int(1e6), 'members', { members }];
    }
    case 0:
      return [FrameKind.ROUTE, randomUUID(), randomUUID(), rng.bytes(rng.int(100))]; // to nobody: bounces
    case 1:
      return [FrameKind.ROUTE, randomValue(), randomValue(), randomValue(), randomValue()];
    case 2:
      return [FrameKind.REQUEST, rng.int(1e6), rng.pick(['deploy', 'locate', 'members', 'join', 'terminate', 'frobnicate', '']), randomValue()];
    case 3:
      return [FrameKind.REQUEST, randomValue(), randomValue(), randomValue()];
    case 4:
      return [FrameKind.NOTICE, rng.pick(['vr-exit', 'members', 'nonsense']), randomValue()];
    case 5:
      return [FrameKind.NOTICE, 'vr-exit', { uuids: [randomUUID(), randomValue()], error: randomValue() }];
    case 6:
      return [FrameKind.RESPONSE, rng.int(1e6), rng.chance(0.5), randomValue()];
    case 7:
      return [FrameKind.PING, randomValue()];
    case 8:
      return [rng.pick([0, 5, 11, 99, -1, 1e9, FrameKind.HELLO, FrameKind.AUTH, FrameKind.READY]), randomValue()];
    default:
      return randomValue();
  }
}

/**
 * CBOR that costs a naive decoder far more than its size (each was measured against cbor-x as it
 * was): a large bignum (quadratic), deep nesting (stack exhaustion), nested shared references
 * (read twice), packed-value and record tags (state that outlives the frame), Sets and Maps of
 * keys that collide in V8's hash tables (quadratic), and tags around the wrong content.
 */
/** Int keys V8 hashes into one bucket of a 4096-bucket table (found once, by brute force). */
let collidingKeys: number[] | undefined;

function costlyValue(maxBignumBytes = 1 << 20): Uint8Array {
  const b = (...parts: (number | Uint8Array)[]) => Buffer.concat(parts.map((p) => (typeof p === 'number' ? Uint8Array.of(p) : p)));
  switch (rng.int(9)) {
    case 0: {
      const size = 65 * 1024 + rng.int(maxBignumBytes - 65 * 1024); // over the 64 KiB bignum limit (8 MiB took cbor-x 50 s)
      const head = Uint8Array.of(rng.chance(0.5) ? 0xc2 : 0xc3, 0x5a, (size >>> 24) & 255, (size >>> 16) & 255, (size >>> 8) & 255, size & 255);
      return b(head, rng.bytes(4096), new Uint8Array(size - 4096).fill(0xff));
    }
    case 1:
      return b(new Uint8Array(1000 + rng.int(100_000)).fill(rng.pick([0x81, 0xa1, 0xc1])), 0x00);
    case 2: {
      let inner = b(0xd8, 0x1d, 0x00);
      for (let i = 0; i < 20 + rng.int(20); i++) inner = b(0xd8, 0x1c, 0xd9, 0x01, 0x03, 0xa1, 0x61, 0x6b, inner);
      return inner;
    }
    case 3:
      return b(0xd8, 0x33, 0x84, 0x81, 0x01, 0x80, 0x80, 0xd8, 0x06, 0x00); // tag 51 packed table, then tag 6
    case 4:
      return b(0xd9, 0xdf, 0xff, 0x83, 0x19, 0xe0, 0x00, 0x81, 0x61, 0x61, 0x01); // a record definition
    case 5: {
      // A Set of BigInts that differ only above their lowest 64 bits: V8 puts them in one bucket.
      const n = 2000 + rng.int(20_000);
      return b(0xd9, 0x01, 0x02, encode(Array.from({ length: n }, (_, i) => (BigInt(i + 1) << 64n) | 7n)));
    }
    case 6: {
      // A Map of int keys crafted to share a V8 hash bucket.
      if (!collidingKeys) {
        collidingKeys = [];
        for (let i = 1; collidingKeys.length < 4000; i++) if ((unseededHash(i) & 0xfff) === 0) collidingKeys.push(i);
      }
      const keys = collidingKeys;
      return b(0xd9, 0x01, 0x03, 0xb9, (keys.length >> 8) & 255, keys.length & 255, ...keys.map((k) => b(encode(k), 0xf6)));
    }
    case 7:
      return b(0xd8, rng.pick([0, 4, 5, 28, 29, 216, 230]), encode(randomValue()));
    default:
      return b(0xd9, 0x01, rng.pick([0x02, 0x03]), encode(rng.pick([1, 'x', null, [1]]))); // a Set/Map around the wrong thing
  }
}

/** V8's ComputeUnseededHash (how it hashes int keys of a Map or Set): to craft colliding keys. */
function unseededHash(key: number): number {
  let h = key >>> 0;
  h = (~h + (h << 15)) >>> 0;
  h = (h ^ (h >>> 12)) >>> 0;
  h = (h + (h << 2)) >>> 0;
  h = (h ^ (h >>> 4)) >>> 0;
  h = Math.imul(h, 2057) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) & 0x3fffffff;
}

// ------------------------------------------------------------------------------- raw sockets

/** Opens a socket, writes `bytes`, half-closes, and waits (bounded) for the VM to close it. */
function sendRaw(bytes: Uint8Array, end = true): Promise<void> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port: vmProc.port });
    const timer = setTimeout(() => socket.destroy(), 4000);
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect', () => {
      socket.write(bytes);
      if (end) socket.end();
    });
  });
}

/** Runs `task` `n` times, `width` at a time. */
async function pool(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

/** A HELLO frame as a well-behaved dialer would send it. */
function helloFrame(): Uint8Array {
  return encodeFrame([FrameKind.HELLO, { version: 1, nodeId: randomUUID(), role: 'initiator', nonce: rng.bytes(32), keyed: true, listenPort: null, info: null }]);
}

function header(length: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(length >>> 0);
  return b;
}

// ------------------------------------------------------------------------------- the run

test('10,000+ malformed inputs: the VM stays up and keeps serving a well-behaved client', async () => {
  const started = Date.now();
  const inTime = () => Date.now() - started < DEADLINE_MS;
  await wellBehaved();

  // 1. Before authentication: random bytes, truncated frames, oversized headers, wrong shapes.
  const preAuth: Array<[string, () => Uint8Array]> = [
    ['random bytes, before the handshake', () => rng.bytes(1 + rng.int(300))],
    ['truncated HELLO', () => helloFrame().subarray(0, 1 + rng.int(60))],
    ['oversized frame header, before the handshake', () => Buffer.concat([header(65 * 1024 + rng.int(2 ** 31)), rng.bytes(rng.int(50))])],
    ['well-formed frame of the wrong shape, before the handshake', () => encodeFrame(wrongShapeFrame())],
  ];
  for (let round = 0; round < 8 && inTime(); round++) {
    for (const [kind, make] of preAuth) {
      await pool(55, 12, async () => {
        await sendRaw(make());
        count(kind);
      });
    }
    await wellBehaved();
  }

  // 2. A valid handshake, then garbage, a truncated frame, or an oversized header.
  const afterAuth: Array<[string, () => Uint8Array, boolean]> = [
    ['valid handshake, then random bytes', () => rng.bytes(1 + rng.int(200)), true],
    ['valid handshake, then a truncated frame', () => encodeFrame([FrameKind.PING, rng.bytes(100)]).subarray(0, 1 + rng.int(100)), true],
    ['valid handshake, then an oversized frame header', () => header(0xffffffff - rng.int(1000)), false],
  ];
  for (let round = 0; round < 5 && inTime(); round++) {
    for (const [kind, make, end] of afterAuth) {
      await pool(25, 8, async () => {
        const c = await RawClient.open(vmProc.port, '127.0.0.1', { tlsKey: KEY });
        await c.handshake(KEY);
        c.write(make());
        if (end) c.socket.end();
        await c.closedWithin(4000);
        await c[Symbol.asyncDispose]();
        count(kind);
      });
    }
    await wellBehaved();
  }

  // 3. Authenticated: well-formed frames of the wrong shape, one at a time, each followed by a
  // PING: its PONG (or the VM closing the connection over the frame) shows the VM has read it.
  // A connection the VM closes is replaced.
  const framesKind = 'well-formed frame of the wrong shape, after the handshake';
  let closedOver = 0;
  let c: RawClient | undefined;
  for (let i = 0; (sent[framesKind] ?? 0) < 3600 && inTime(); i++) {
    if (!c || c.isClosed) {
      await c?.[Symbol.asyncDispose]();
      c = await RawClient.open(vmProc.port, '127.0.0.1', { tlsKey: KEY });
      await c.handshake(KEY);
    }
    c.write(Buffer.concat([encodeFrame(wrongShapeFrame()), encodeFrame([FrameKind.PING, i])]));
    const pong = await c.frame((f) => f[0] === FrameKind.PONG && f[1] === i, 5000).then(
      () => true,
      () => false,
    );
    if (!pong) {
      expect(await c.closedWithin(5000)).toBe(true);
      closedOver++;
    }
    c.frames.length = 0;
    count(framesKind);
    if (i % 400 === 399) await wellBehaved();
  }
  await c?.[Symbol.asyncDispose]();

  // 3b. Authenticated: frames carrying costly CBOR (bignums, deep nesting, shared references,
  // packed values, records, hash-colliding Maps and Sets, tags around the wrong content), each
  // followed by a PING. The decoder refuses each before building anything (ERR_CODEC_LIMIT), so
  // the VM closes that connection only; the well-behaved client keeps its answers throughout.
  const costlyKind = 'frame with costly CBOR tags or shapes, after the handshake';
  for (let i = 0; (sent[costlyKind] ?? 0) < 40 && inTime(); i++) {
    const costly = await RawClient.open(vmProc.port, '127.0.0.1', { tlsKey: KEY });
    await costly.handshake(KEY);
    const payload = Buffer.concat([Uint8Array.of(0x82), encode(rng.pick([FrameKind.PING, FrameKind.NOTICE, FrameKind.REQUEST])), costlyValue()]);
    costly.write(Buffer.concat([encodeFrameBytes(payload), encodeFrame([FrameKind.PING, i])]));
    expect(await costly.closedWithin(10_000)).toBe(true);
    expect(costly.frames.some((f) => (f as unknown[])[0] === FrameKind.PONG)).toBe(false);
    await costly[Symbol.asyncDispose]();
    count(costlyKind);
    if (i % 10 === 9) await wellBehaved();
  }

  // 4. Through a real Trickle session: unknown request kinds and calls to missing names.
  {
    await using mine = await connect({ peers: [vmProc.address], mdns: false, key: KEY });
    const vm = mine[0]!;
    const client = clientOf(vm);
    for (let round = 0; round < 10 && inTime(); round++) {
      const requests: Array<Promise<unknown>> = [];
      for (let i = 0; i < 250; i++) {
        const name = `missing_${rng.int(1e6)}`;
        switch (i % 5) {
          case 0:
            requests.push(client.request({ kind: rng.pick(['frobnicate', '', 'CALL', 'delete', '__proto__']) } as never, { remoteName: 'unknown kind' }));
            count('unknown request kind (Trickle session)');
            break;
          case 1:
            requests.push(vm[name](1, 2));
            count('call to a missing name (Trickle session)');
            break;
          case 2:
            requests.push(vm[name].deeper.still(3));
            count('call to a missing name (Trickle session)');
            break;
          case 3:
            requests.push(Promise.resolve(vm[name]));
            count('read of a missing name (Trickle session)');
            break;
          default:
            requests.push(Promise.resolve(new vm[name]()));
            count('construct of a missing name (Trickle session)');
        }
      }
      const outcomes = await Promise.allSettled(requests);
      for (const o of outcomes) {
        expect(o.status).toBe('rejected');
        expect(RemoteError.isInstance((o as PromiseRejectedResult).reason)).toBe(true);
      }
      expect(await client.ping()).toBe('pong');
      await wellBehaved();
    }
  }

  // 5. Raw RAI messages of the wrong shape, from a River initiator VR straight to a RAI VR: its
  // own child (so they are read), and another initiator's session (strays, dropped).
  {
    await using init: Initiator = await startInitiator({ key: KEY, peers: [vmProc.address], mdns: false });
    await using stranger: Initiator = await startInitiator({ key: KEY, peers: [vmProc.address], mdns: false });
    const [info] = (await init.discover({ timeoutMs: 5000 })) as [VMInfo];
    const rai: UUID = await init.deployWith(info, RAI_EXTENSION, { args: [{ id: info.id, name: info.name }], lifetime: 'parent' });
    const session = createVM(new RiverLink(init, info, rai));
    await inject(session, { add });
    const codec = createWireCodec({ remoteRef: () => ({}), targetRef: () => ({}), codeRef: () => ({}) });
    const batchOf = (entries: Uint8Array[]) => Buffer.concat(entries.flatMap((e) => [header(e.length), e]));
    // Request ids far above the session client's own, so no reply is taken for one of its requests.
    let id = 1e9;
    const wrongRequest = (): unknown => {
      switch (rng.int(8)) {
        case 0:
          return { id: id++, kind: 'call', target: randomValue() , args: randomValue() };
        case 1:
          return { id: id++, kind: 'call', target: { path: randomValue() }, args: [] };
        case 2:
          return { id: id++, kind: 'inject', items: randomValue() };
        case 3:
          return { id: id++, kind: 'inject', items: [{ name: 'x', as: 'code', code: randomValue() }] };
        case 4:
          return { id: id++, kind: 'release', refs: randomValue() };
        case 5:
          return { id: id++, kind: rng.pick(['get', 'set', 'construct']), target: { ref: randomValue(), path: [randomValue()] } };
        case 6:
          return { id: randomValue(), kind: randomValue() };
        default:
          return randomValue();
      }
    };
    for (let round = 0; round < 10 && inTime(); round++) {
      for (let i = 0; i < 200; i++) {
        switch (i % 5) {
          case 0:
            init.send(rai, { tag: 'trickle:rai', b: rng.bytes(rng.int(120)) });
            count('raw RAI message: random batch bytes');
            break;
          case 1:
            init.send(rai, { tag: 'trickle:rai', b: batchOf(Array.from({ length: 1 + rng.int(4) }, () => rng.bytes(rng.int(40)))) });
            count('raw RAI message: undecodable requests in a well-framed batch');
            break;
          case 2: {
            const entries: Uint8Array[] = [];
            for (let k = 1 + rng.int(4); k > 0; k--) {
              try {
                const wrong = wrongRequest() as { id?: unknown } | null;
                // Ids the session client uses are its own: keep clear of them.
                if (wrong && typeof wrong === 'object' && Number.isSafeInteger(wrong.id) && (wrong.id as number) < 1e9) wrong.id = (wrong.id as number) + 2e9;
                entries.push(codec.encode(wrong));
              } catch {
                entries.push(encode(null));
              }
            }
            init.send(rai, { tag: 'trickle:rai', b: batchOf(entries) });
            count('raw RAI message: requests of the wrong shape');
            break;
          }
          case 3:
            if (rng.chance(0.5)) {
              init.send(rai, { tag: rng.pick(['trickle:rai', 'trickle:drain', 'river:exit', 'nonsense', 42]), b: randomValue(), x: randomValue() } as never);
              count('raw RAI message: wrong tag or body');
            } else {
              // Costly CBOR as the request a session decodes on its own thread.
              init.send(rai, { tag: 'trickle:rai', b: batchOf([costlyValue(128 * 1024)]) });
              count('raw RAI message: a request of costly CBOR tags or shapes');
            }
            break;
          default:
            stranger.send(rai, { tag: 'trickle:rai', b: rng.bytes(rng.int(60)) });
            count("raw RAI message from a VR that is not the session's initiator");
        }
      }
      // The session read all of that and still answers (its own requests come after the junk).
      expect(await session.add(round, 2)).toBe(round + 2);
      await wellBehaved();
    }
    expect(await clientOf(session).ping()).toBe('pong');
  }

  for (let i = 0; i < 5; i++) await wellBehaved();
  const n = total();
  const lines = Object.entries(sent)
    .map(([kind, k]) => `  ${String(k).padStart(6)}  ${kind}`)
    .join('\n');
  console.log(
    `fuzz (seed ${SEED}): sent ${n} malformed inputs in ${((Date.now() - started) / 1000).toFixed(1)} s; the VM stayed up and answered all ${goodCalls} well-behaved calls\n${lines}\n  (${closedOver} of the ${sent[framesKind]} wrong-shape frames after the handshake made the VM close that connection; the others were answered or ignored)`,
  );
  expect(n).toBeGreaterThanOrEqual(10_000);
  expect(vmProc.child.exitCode).toBeNull();
  // Nothing the fuzz sent crashed the VM or a session it did not own.
  expect(vmProc.lines.join('\n')).not.toMatch(/Uncaught|FATAL|TypeError: Cannot read/);
});
