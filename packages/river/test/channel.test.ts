/**
 * The encrypted channel against an on-path attacker who has read docs/protocol.md but holds no
 * key: a relay between a real initiator and a real keyed VM process injects a frame, forges a
 * record, replays one and swaps two. Each is refused, the VM logs it, runs nothing, and the
 * legitimate session keeps getting answers. Before authentication: floods of costly or oversized
 * frames and thousands of half-open connections cost a bounded amount while a victim session
 * keeps working.
 */
import { randomUUID, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { encode, encodeFrame } from '@river/sfm';

import { generateKey, startInitiator, type Initiator, type UUID } from '../src';
import { FrameKind } from '../src/protocol';
import { RawClient } from './fixtures/raw-client';
import { TlsRelay } from './fixtures/tls-relay';
import { eventually, startVm, type VmProcess } from './fixtures/vm-process';
import { Echo } from './fixtures/vrs';

jest.setTimeout(120_000);

const KEY = generateKey();
let vm: VmProcess;

beforeAll(async () => {
  vm = await startVm(['--host', '127.0.0.1', '--handshake-timeout', '2000'], { env: { RIVER_KEY: KEY } });
});

afterAll(async () => {
  await vm?.dispose();
});

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

/** Marks where the VM's output is now; the returned function waits for a later line matching `re`. */
function logMark(target: VmProcess = vm): (re: RegExp) => Promise<string> {
  const from = target.lines.length;
  return async (re) => {
    await eventually(() => target.lines.slice(from).some((l) => re.test(l)), 10_000, 50);
    return target.lines.slice(from).find((l) => re.test(l))!;
  };
}

interface Session extends AsyncDisposable {
  init: Initiator;
  echo: UUID;
  ping(seq: number): Promise<void>;
}

/** A legitimate initiator with an Echo VR on the VM, reached through `address`. */
async function session(address: string, key: string | undefined = KEY): Promise<Session> {
  const init = await startInitiator({ mdns: false, key: key || undefined, peers: [address] });
  const [info] = await init.discover({ timeoutMs: 5000 });
  const echo = await init.deploy(info!, Echo);
  return {
    init,
    echo,
    async ping(seq) {
      init.send(echo, { tag: 'ping', seq });
      await init.recv({ src: echo, tag: 'pong', seq }, { timeoutMs: 15_000 });
    },
    async [Symbol.asyncDispose]() {
      await init.stop();
    },
  };
}

/** A deploy request for a VR that leaves a file behind if it ever runs. */
function evilDeployFrame(marker: string): Uint8Array {
  const source = `class Evil extends VirtualResource { async main() { require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran'); } }`;
  return encodeFrame([FrameKind.REQUEST, 7, 'deploy', { source, args: Buffer.from(encode([])), parent: randomUUID(), lifetime: 'detached' }]);
}

describe('an on-path relay without the key', () => {
  test('a deploy frame injected after READY is refused and logged; nothing runs; the session keeps working', async () => {
    const marker = join(tmpdir(), `river-evil-${randomUUID()}`);
    await using relay = await new TlsRelay({ host: '127.0.0.1', port: vm.port }).listen();
    await using s = await session(relay.address);
    await s.ping(1);
    expect(relay.connections).toBeGreaterThan(0);
    const logged = logMark();
    relay.inject(evilDeployFrame(marker));
    expect(await logged(/refused/)).toMatch(/refused: node [0-9a-f-]+: the encrypted channel failed \(.+\): bytes that are not the peer's own records/);
    // Both sides redial each other directly: the session and its VR carry on.
    await s.ping(2);
    await s.ping(3);
    expect(existsSync(marker)).toBe(false);
    expect(vm.child.exitCode).toBeNull();
    rmSync(marker, { force: true });
  });

  test('a forged application-data record is refused the same way', async () => {
    await using relay = await new TlsRelay({ host: '127.0.0.1', port: vm.port }).listen();
    await using s = await session(relay.address);
    await s.ping(1);
    const logged = logMark();
    const body = randomBytes(120);
    relay.inject(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0, body.length]), body]));
    expect(await logged(/refused/)).toMatch(/encrypted channel failed/);
    await s.ping(2);
  });

  test('a replayed record is refused; the message it carried is not delivered twice', async () => {
    await using relay = await new TlsRelay({ host: '127.0.0.1', port: vm.port }).listen();
    await using s = await session(relay.address);
    await s.ping(1);
    const logged = logMark();
    relay.replayLast();
    expect(await logged(/refused/)).toMatch(/encrypted channel failed/);
    await s.ping(2);
    // A second pong for seq 1 would mean the replayed ping reached the VR.
    await new Promise((r) => setTimeout(r, 300));
    expect(s.init.tryRecv({ src: s.echo, tag: 'pong', seq: 1 })).toBeUndefined();
  });

  test('two records delivered out of order are refused', async () => {
    await using relay = await new TlsRelay({ host: '127.0.0.1', port: vm.port }).listen();
    await using s = await session(relay.address);
    await s.ping(1);
    const logged = logMark();
    relay.swapNextTwo();
    // Two sends in two ticks: two records.
    s.init.send(s.echo, { tag: 'ping', seq: 100 });
    await new Promise((r) => setTimeout(r, 20));
    s.init.send(s.echo, { tag: 'ping', seq: 101 });
    expect(await logged(/refused/)).toMatch(/encrypted channel failed/);
    await s.ping(2);
  });

  test('without the key the relay cannot open a channel of its own: TLS refuses it, the VM logs it', async () => {
    const logged = logMark();
    await using c = await RawClient.open(vm.port, '127.0.0.1', { tlsKey: generateKey() });
    expect(await c.closedWithin(5000)).toBe(true);
    expect(c.frames).toEqual([]);
    expect(await logged(/refused/)).toMatch(/authentication failed: the peer does not hold the same cluster key/);
  });
});

describe('before authentication', () => {
  /** A CBOR bignum (tag 2) of `n` bytes inside a HELLO-shaped frame. */
  function bignumFrame(n: number): Uint8Array {
    const bytes = randomBytes(n);
    const head = n < 256 ? Buffer.from([0xc2, 0x58, n]) : Buffer.from([0xc2, 0x59, n >> 8, n & 0xff]);
    const payload = Buffer.concat([Buffer.from([0x82, 0x01]), head, bytes]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(payload.length);
    return Buffer.concat([len, payload]);
  }

  async function flood(port: number, tlsKey: string | undefined, count: number): Promise<{ refused: number }> {
    let refused = 0;
    const payloads = [
      () => bignumFrame(4000), // under the pre-auth frame limit: refused for its tag, never decoded
      () => bignumFrame(60_000), // over it: refused from its header
      () => Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
      () => encodeFrame([FrameKind.HELLO, { version: 2, nodeId: 'x'.repeat(36), role: 'vm', nonce: new Uint8Array(32), keyed: true }]),
    ];
    for (let i = 0; i < count; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, count - i) }, async (_, j) => {
          const c = await RawClient.open(port, '127.0.0.1', tlsKey === undefined ? {} : { tlsKey });
          try {
            c.write(payloads[(i + j) % payloads.length]!());
            if (await c.closedWithin(5000)) refused++;
          } finally {
            await c[Symbol.asyncDispose]();
          }
        }),
      );
    }
    return { refused };
  }

  /** Pings every 20 ms until `stop`; resolves with how many were sent and answered. */
  function keepPinging(s: Session): { stop: () => Promise<{ sent: number; answered: number }> } {
    let running = true;
    let sent = 0;
    let answered = 0;
    const loop = (async () => {
      while (running) {
        await s.ping(++sent);
        answered++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    return {
      async stop() {
        running = false;
        await loop;
        return { sent, answered };
      },
    };
  }

  test('a flood of bignums, oversized headers and bad HELLOs (inside the channel and outside) costs each sender its connection only', async () => {
    await using s = await session(vm.address);
    const pinger = keepPinging(s);
    const inside = await flood(vm.port, KEY, 200);
    const outside = await flood(vm.port, undefined, 200);
    const { sent, answered } = await pinger.stop();
    expect(inside.refused).toBe(200);
    expect(outside.refused).toBe(200);
    expect(sent).toBeGreaterThan(0);
    expect(answered).toBe(sent);
    expect(vm.child.exitCode).toBeNull();
  });

  test('a keyless (loopback) VM refuses the same flood, tags included, and keeps serving', async () => {
    await using plain = await startVm(['--handshake-timeout', '2000']);
    await using s = await session(plain.address, '');
    const logged = logMark(plain);
    const pinger = keepPinging(s);
    const { refused } = await flood(plain.port, undefined, 200);
    const { sent, answered } = await pinger.stop();
    expect(refused).toBe(200);
    expect(answered).toBe(sent);
    expect(await logged(/refused/)).toMatch(/refused: (malformed handshake frame: a tagged value|frame of \d+ bytes exceeds)/);
  });

  test('5,000 half-open connections: the oldest unauthenticated ones are dropped, memory stays bounded, a legitimate session still connects', async () => {
    const before = rssMb(vm.pid);
    const logged = logMark();
    const sockets: Socket[] = [];
    // Each sends the start of a TLS record that advertises 16 KiB, then nothing.
    const header = Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01]);
    try {
      for (let i = 0; i < 5000; i += 250) {
        await Promise.all(
          Array.from(
            { length: 250 },
            () =>
              new Promise<void>((resolve) => {
                const sock = netConnect({ host: '127.0.0.1', port: vm.port }, () => {
                  sock.write(header);
                  resolve();
                });
                sock.on('error', () => resolve());
                sockets.push(sock);
              }),
          ),
        );
      }
      expect(await logged(/unauthenticated connections/)).toMatch(/refused: more than 256 unauthenticated connections: the oldest is dropped/);
      const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
      // Give the VM a moment to close what it dropped, then count what the VM still holds.
      await eventually(() => sockets.filter((s) => !s.destroyed && !s.readableEnded && s.readyState === 'open').length <= 300, 15_000, 100);
      const after = rssMb(vm.pid);
      // The bound: 256 unauthenticated TLS connections of OpenSSL state (~100 KiB each, measured
      // ~20–30 MiB in all) plus the garbage of the 4,744 dropped.
      expect(after - before).toBeLessThan(96);
      expect(open).toBeLessThanOrEqual(5000);
      await using s = await session(vm.address);
      await s.ping(1);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});
