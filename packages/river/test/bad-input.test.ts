/**
 * Bad input on a VM's port: no handshake, wrong key, no key, garbage before and after the
 * handshake, an oversized frame header, frames before the handshake, a replayed handshake, a
 * message to an unknown UUID. The VM answers with a clear error or closes that one connection,
 * and keeps serving a well-behaved client all along.
 */
import { randomUUID } from 'node:crypto';

import { decode, encode } from '@river/sfm';

import { generateKey, startInitiator, type Initiator, type UUID } from '../src';
import { FrameKind } from '../src/protocol';
import { RawClient } from './fixtures/raw-client';
import { eventually, startVm, type VmProcess } from './fixtures/vm-process';
import { Echo } from './fixtures/vrs';

jest.setTimeout(60_000);

const KEY = generateKey();
let vm: VmProcess;
let good: Initiator;
let echo: UUID;
let seq = 0;

beforeAll(async () => {
  vm = await startVm(['--host', '127.0.0.1', '--handshake-timeout', '1000'], { env: { RIVER_KEY: KEY } });
  good = await startInitiator({ mdns: false, key: KEY, peers: [vm.address] });
  const [info] = await good.discover({ timeoutMs: 5000 });
  echo = await good.deploy(info!, Echo);
});

afterAll(async () => {
  await good?.stop();
  await vm?.dispose();
});

/** A raw client through the encrypted channel with the cluster key, as a keyed engine connects. */
const open = (key: string = KEY) => RawClient.open(vm.port, '127.0.0.1', { tlsKey: key });
/** A raw client without the channel: plain TCP. */
const openPlain = () => RawClient.open(vm.port);

/** The well-behaved client still gets answers. */
async function stillServes(): Promise<void> {
  const n = ++seq;
  good.send(echo, { tag: 'ping', seq: n });
  expect(await good.recv({ src: echo, tag: 'pong' }, { timeoutMs: 5000 })).toMatchObject({ seq: n });
  expect(vm.child.exitCode).toBeNull();
}

/** Marks where the VM's output is now, and waits for a later line matching `re` (its log, on stderr). */
function logMark(): (re: RegExp) => Promise<string> {
  const from = vm.lines.length;
  return async (re) => {
    await eventually(() => vm.lines.slice(from).some((l) => re.test(l)), 5000, 50);
    return vm.lines.slice(from).find((l) => re.test(l))!;
  };
}

/** The ERROR frame the VM sent before closing. */
async function errorFrame(c: RawClient): Promise<[number, string, string]> {
  const f = await c.frame<[number, string, string]>((x) => x[0] === FrameKind.ERROR);
  expect(await c.closedWithin(3000)).toBe(true);
  return f;
}

test('keyed VM listens on loopback as told and says a key is set', () => {
  expect(vm.host).toBe('127.0.0.1');
  expect(vm.firstLine).toMatch(/cluster key set/);
});

test('no handshake: an idle client (plain, or inside the channel) is closed after the handshake timeout, the VM logs why', async () => {
  {
    const logged = logMark();
    await using c = await openPlain();
    const [, code, message] = await errorFrame(c);
    expect(code).toBe('RIVER_HANDSHAKE_FAILED');
    expect(message).toMatch(/no handshake within 1000 ms/);
    expect(await logged(/refused/)).toMatch(/connection from 127\.0\.0\.1:\d+ refused: no handshake within 1000 ms/);
  }
  const logged = logMark();
  await using c = await open();
  const t0 = Date.now();
  const [, code, message] = await errorFrame(c);
  expect(code).toBe('RIVER_HANDSHAKE_FAILED');
  expect(message).toMatch(/no handshake within 1000 ms/);
  expect(Date.now() - t0).toBeLessThan(4000);
  expect(await logged(/refused/)).toMatch(/connection from 127\.0\.0\.1:\d+ refused: no handshake within 1000 ms/);
  await stillServes();
});

test('wrong key: the encrypted channel is refused, the connection is closed, the VM logs why', async () => {
  const logged = logMark();
  await using c = await open(generateKey());
  expect(await c.closedWithin(3000)).toBe(true);
  expect(c.frames).toEqual([]);
  expect(c.error?.code).toMatch(/^ERR_SSL_/);
  expect(await logged(/refused/)).toMatch(/^river vm: connection from 127\.0\.0\.1:\d+ refused: authentication failed: the peer does not hold the same cluster key$/);
  await stillServes();
});

test('inside the channel, an AUTH made with another key still fails: ERROR, closed, logged', async () => {
  const logged = logMark();
  await using c = await open();
  await c.authenticateWith(generateKey());
  const [, code, message] = await errorFrame(c);
  expect(code).toBe('RIVER_AUTH_FAILED');
  expect(message).toMatch(/same cluster key/);
  expect(await logged(/refused/)).toMatch(/^river vm: connection from 127\.0\.0\.1:\d+ refused: authentication failed: the peer does not hold the same cluster key$/);
  await stillServes();
});

test('wrong key through a real initiator: discovery finds nothing, the handshake error is AuthError, the VM logs why', async () => {
  const logged = logMark();
  await using bad = await startInitiator({ mdns: false, key: generateKey(), peers: [vm.address] });
  expect(await bad.discover({ timeoutMs: 3000 })).toEqual([]);
  // The initiator found the VM's proof wrong and said so; the VM logs the refusal.
  expect(await logged(/refused/)).toMatch(/connection from 127\.0\.0\.1:\d+ refused: .*authentication failed/);
  await using c = await open(generateKey());
  expect(await c.closedWithin(3000)).toBe(true);
  expect(c.error?.code).toMatch(/^ERR_SSL_/);
  await stillServes();
});

test('no key against a keyed VM: refused with a clear message, the VM logs why', async () => {
  const logged = logMark();
  await using c = await openPlain();
  await expect(c.handshake(undefined)).rejects.toMatchObject({ name: 'AuthError', message: expect.stringMatching(/no cluster key.*requires one/) });
  expect(await c.closedWithin(3000)).toBe(true);
  expect(await logged(/refused/)).toMatch(/connection from 127\.0\.0\.1:\d+ refused: peer has no cluster key, this node requires one/);
  await stillServes();
});

test('a replayed handshake fails (fresh nonces on both sides)', async () => {
  const recorded: Buffer[] = [];
  {
    await using c = await open();
    await c.handshake(KEY);
    recorded.push(...c.written);
  }
  expect(recorded).toHaveLength(2); // HELLO, AUTH
  const logged = logMark();
  await using replay = await open();
  replay.write(recorded[0]!);
  await replay.frame((f) => f[0] === FrameKind.AUTH);
  replay.write(recorded[1]!);
  const [, code] = await errorFrame(replay);
  expect(code).toBe('RIVER_AUTH_FAILED');
  expect(await logged(/refused/)).toMatch(/connection from 127\.0\.0\.1:\d+ refused: authentication failed/);
  await stillServes();
});

test('garbage before the handshake: text, and a small undecodable frame', async () => {
  {
    // Outside the channel, anything that is not TLS is a peer without the key.
    await using c = await openPlain();
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const [, code, message] = await errorFrame(c);
    expect(code).toBe('RIVER_AUTH_FAILED');
    expect(message).toMatch(/no cluster key/);
  }
  {
    await using c = await open();
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const [, code, message] = await errorFrame(c);
    expect(code).toMatch(/FRAME|PROTOCOL/);
    expect(message.length).toBeGreaterThan(0);
  }
  {
    await using c = await open();
    c.write(Buffer.from([0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff]));
    expect(await c.closedWithin(3000)).toBe(true);
  }
  {
    await using c = await open();
    c.send('not a frame array');
    const [, code] = await errorFrame(c);
    expect(code).toBe('RIVER_PROTOCOL_ERROR');
  }
  await stillServes();
});

test('frames other than the handshake before READY are refused', async () => {
  {
    await using c = await open();
    c.send([FrameKind.ROUTE, randomUUID(), randomUUID(), Buffer.from(encode({ tag: 'sneaky' }))]);
    const [, code, message] = await errorFrame(c);
    expect(code).toBe('RIVER_HANDSHAKE_FAILED');
    expect(message).toMatch(/expected HELLO.*got ROUTE/);
  }
  {
    // A tagged value (here a Uint8Array, tag 64) is not even decoded before authentication.
    await using c = await open();
    c.send([FrameKind.ROUTE, randomUUID(), randomUUID(), encode({ tag: 'sneaky' })]);
    const [, code, message] = await errorFrame(c);
    expect(code).toBe('RIVER_PROTOCOL_ERROR');
    expect(message).toMatch(/no tags are accepted before authentication/);
  }
  await stillServes();
});

test('an oversized frame header, before and after the handshake', async () => {
  {
    await using c = await open();
    c.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    const [, , message] = await errorFrame(c);
    expect(message).toMatch(/large|exceed|max/i);
  }
  {
    await using c = await open();
    await c.handshake(KEY);
    c.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    expect(await c.closedWithin(3000)).toBe(true);
  }
  await stillServes();
});

test('garbage after the handshake closes that connection only', async () => {
  {
    await using c = await open();
    await c.handshake(KEY);
    c.write(Buffer.from([0, 0, 0, 3, 0xff, 0xfe, 0xfd]));
    expect(await c.closedWithin(3000)).toBe(true);
  }
  {
    await using c = await open();
    await c.handshake(KEY);
    c.send([99, 'unknown kind']);
    const [, code] = await errorFrame(c);
    expect(code).toBe('RIVER_PROTOCOL_ERROR');
  }
  {
    await using c = await open();
    await c.handshake(KEY);
    c.send([FrameKind.ROUTE, 42, 'x', 'not bytes']);
    expect(await c.closedWithin(3000)).toBe(true);
  }
  await stillServes();
});

test('a message to an unknown UUID bounces as river:undeliverable (raw client and initiator)', async () => {
  const nobody = randomUUID();
  {
    await using c = await open();
    await c.handshake(KEY);
    const me = randomUUID();
    c.send([FrameKind.ROUTE, nobody, me, encode({ tag: 'hello?', n: 1 })]);
    const back = await c.frame<[number, string, string, Uint8Array, number]>((f) => f[0] === FrameKind.ROUTE);
    expect(back[1]).toBe(me);
    expect(back[2]).toBe(nobody);
    const body = decode(back[3]) as { tag: string; dest: string; error: Error; message: Uint8Array };
    expect(body).toMatchObject({ tag: 'river:undeliverable', dest: nobody });
    expect(body.error.message).toMatch(/no VR/);
    expect(decode(body.message)).toEqual({ tag: 'hello?', n: 1 });
    // The connection stays usable.
    c.send([FrameKind.PING, 1]);
    await c.frame((f) => f[0] === FrameKind.PONG);
  }
  good.send(nobody, { tag: 'hello?' });
  const bounce = await good.recv({ tag: 'river:undeliverable', dest: nobody }, { timeoutMs: 5000 });
  expect(bounce.error).toMatchObject({ name: 'UnknownVRError', code: 'RIVER_UNKNOWN_VR' });
  expect(bounce.message).toEqual({ tag: 'hello?' });
  await stillServes();
});
