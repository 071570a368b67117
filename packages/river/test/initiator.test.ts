/**
 * The initiator: runInitiator resolves with main's value; the engine runs in a worker so a
 * CPU-bound main thread does not make the initiator look dead; local VMs through localCommand;
 * discovery that returns once `want` VMs are known; watching for VMs that come and go; a
 * disposed initiator fails pending receives.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { RiverError, VirtualResource, describeFailure, runInitiator, runInitiatorWith, startInitiator, type VMInfo } from '../src';
import { CLI, eventually, startVm } from './fixtures/vm-process';
import { silentPeer } from './fixtures/silent-peer';
import { Echo } from './fixtures/vrs';

jest.setTimeout(60_000);

class Main extends VirtualResource {
  async main(a: number, b: number) {
    return { sum: a + b, uuid: this.uuid, parent: this.parent };
  }
}

test('runInitiator runs a VR on this thread and resolves with what main returns', async () => {
  const r = await runInitiator(Main, 2, 3);
  expect(r).toMatchObject({ sum: 5, parent: undefined });
  expect(r.uuid).toMatch(/^[0-9a-f-]{36}$/);
});

test('runInitiatorWith: a networked initiator VR deploys and talks to VRs', async () => {
  await using vm = await startVm();
  class Pinger extends VirtualResource {
    async main(): Promise<number> {
      const [info] = await this.discover({ timeoutMs: 5000 });
      const echo = await this.deploy(info!, Echo);
      this.send(echo, { tag: 'ping', seq: 9 });
      const pong = await this.recv({ src: echo, tag: 'pong' });
      return pong.seq as number;
    }
  }
  expect(await runInitiatorWith({ mdns: false, peers: [vm.address] }, Pinger)).toBe(9);
});

test('a CPU-bound main thread does not stall heartbeats: the VM keeps the initiator and its VRs', async () => {
  // 1.5 s: above the heartbeat's own jitter (a ping every ~0.9–1.15 s of silence), well below
  // the 2.5 s the main thread is busy for.
  await using vm = await startVm(['--peer-timeout', '1500']);
  await using init = await startInitiator({ mdns: false, peers: [vm.address] });
  const [info] = await init.discover({ timeoutMs: 5000 });
  const echo = await init.deploy(info!, Echo);
  const until = Date.now() + 2500;
  while (Date.now() < until) {
    // busy: no event loop turns on this thread for 2.5 s (> the VM's 1.5 s peer timeout)
  }
  init.send(echo, { tag: 'ping', seq: 1 });
  expect(await init.recv({ src: echo, tag: 'pong' }, { timeoutMs: 10_000 })).toMatchObject({ seq: 1 });
});

test('local VMs through localCommand (how `trickle vm` is started)', async () => {
  await using init = await startInitiator({ mdns: false, peers: [] });
  const found = await init.discover({ local: 1, localCommand: [process.execPath, CLI, 'vm', '--slots', '3'] });
  expect(found).toHaveLength(1);
  expect(found[0]).toMatchObject({ slots: 3, host: '127.0.0.1' });
});

test('discover({ want }) returns as soon as that many VMs are known, not after the timeout', async () => {
  await using a = await startVm(['--name', 'A']);
  await using b = await startVm(['--name', 'B']);
  // A peer that never answers holds discovery for the whole timeout, unless enough VMs are known.
  await using silent = await silentPeer();
  await using init = await startInitiator({ mdns: false });
  const peers = [silent.address, a.address, b.address];

  let started = Date.now();
  const two = await init.discover({ peers, timeoutMs: 20_000, want: 2 });
  const tookWant = Date.now() - started;
  console.log(`discover({ want: 2, timeoutMs: 20000 }) took ${tookWant} ms`);
  expect(two.map((i) => i.name).sort()).toEqual(['A', 'B']);
  expect(tookWant).toBeLessThan(5_000);

  // Asking for more than there are: the timeout is still the bound, and it returns what it found.
  started = Date.now();
  const all = await init.discover({ peers, timeoutMs: 1_500, want: 3 });
  expect(all.map((i) => i.name).sort()).toEqual(['A', 'B']);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);

  // Local VMs count towards `want` too (and are always started when asked for).
  started = Date.now();
  const local = await init.discover({ peers: [silent.address], local: 1, timeoutMs: 20_000, want: 1 });
  console.log(`discover({ local: 1, want: 1, timeoutMs: 20000 }) took ${Date.now() - started} ms`);
  expect(local).toHaveLength(1);
  expect(local[0]).toMatchObject({ host: '127.0.0.1' });
  expect(Date.now() - started).toBeLessThan(15_000);

  await expect(init.discover({ want: 0 })).rejects.toMatchObject({ code: 'RIVER_INVALID_OPTION' });
});

test('discoverReport names every peer it could not use and why: refused, timeout, closed, garbage, wrong key', async () => {
  const key = 'k'.repeat(20) + 'discover-report-test-key';
  await using good = await startVm(['--name', 'good'], { env: { RIVER_KEY: key } });
  await using wrongKey = await startVm(['--name', 'other'], { env: { RIVER_KEY: `${key}-but-another-one` } });
  await using silent = await silentPeer();
  await using closing = await tcpServer((socket) => socket.destroy());
  await using garbage = await tcpServer((socket) => socket.end(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n\u0000\u00ff garbage')));
  const refused = await freePort();
  await using init = await startInitiator({ mdns: false, key });
  const peers = [good.address, wrongKey.address, silent.address, closing.address, garbage.address, `127.0.0.1:${refused}`];
  const report = await init.discoverReport({ peers, timeoutMs: 2_000 });
  expect(report.vms.map((vm) => vm.name)).toEqual(['good']);
  const reasons = Object.fromEntries(report.failures.map((f) => [f.address, f.reason]));
  expect(reasons).toEqual({
    [wrongKey.address]: 'wrong-key',
    [silent.address]: 'timeout',
    [closing.address]: 'closed',
    // Over the TLS channel a keyed dialer cannot tell garbage from a node without a key: both
    // fail to answer with the encrypted channel, and the message says so.
    [garbage.address]: 'wrong-key',
    [`127.0.0.1:${refused}`]: 'refused',
  });
  for (const f of report.failures) {
    expect(f.source).toBe('peer');
    expect(f.message).not.toMatch(/[\r\n\u0000]/);
  }
  expect(describeFailure(report.failures.find((f) => f.address === wrongKey.address)!)).toMatch(/wrong cluster key: .*cluster key/);
  expect(report.failures.find((f) => f.address === garbage.address)!.message).toMatch(/not a River node/);
  // discover() is the same search, VMs only: the usable one.
  expect((await init.discover({ peers, timeoutMs: 2_000 })).map((vm) => vm.name)).toEqual(['good']);
});

test('watchVMs reports VMs that appear later and those that go away', async () => {
  await using a = await startVm(['--name', 'A']);
  await using init = await startInitiator({ mdns: false });
  const up: VMInfo[] = [];
  const down: VMInfo[] = [];
  const watch = await init.watchVMs({ peers: [a.address], intervalMs: 300 }, (i) => up.push(i), (i) => down.push(i));
  try {
    await eventually(() => up.some((i) => i.name === 'A'));
    const b = await startVm(['--name', 'B', '--join', a.address]);
    await eventually(() => up.some((i) => i.name === 'B'));
    b.kill('SIGKILL');
    await b.exited;
    await eventually(() => down.some((i) => i.name === 'B'), 15_000);
    expect(down.some((i) => i.name === 'A')).toBe(false);
  } finally {
    await watch.stop();
  }
});

test('stop() fails pending receives instead of leaving them hanging', async () => {
  const init = await startInitiator({ mdns: false });
  const pending = init.recv({ tag: 'never' }).catch((e: unknown) => e);
  await init.stop();
  const error = await pending;
  expect(RiverError.isInstance(error)).toBe(true);
  await expect(init.discover()).rejects.toMatchObject({ code: 'RIVER_STOPPED' });
});

/** A loopback TCP server that does `onConnection` with each socket; disposed with its sockets. */
async function tcpServer(onConnection: (socket: Socket) => void): Promise<AsyncDisposable & { address: string }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    [Symbol.asyncDispose]: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port nobody listens on (a server bound and closed again). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
