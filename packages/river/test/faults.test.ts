/**
 * Lost peers: a VM killed with SIGKILL or frozen with SIGSTOP while VRs wait on a VR it hosts;
 * an initiator process that dies (its local VMs exit by themselves, the VRs it deployed stop).
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { PeerLostError, RiverError, VRLostError, startInitiator } from '../src';
import { eventually, startVms } from './fixtures/vm-process';
import { Echo, Waiter } from './fixtures/vrs';

jest.setTimeout(90_000);

const DIST = join(__dirname, '..', 'dist', 'index.js');

test('a VM killed with SIGKILL: every VR waiting on a VR it hosted gets an error within 5 s', async () => {
  await using vms = await startVms(2);
  const [a, b] = [vms[0]!, vms[1]!];
  await using init = await startInitiator({ mdns: false, peers: [a.address, b.address] });
  const found = await init.discover({ timeoutMs: 5000 });
  const vmA = found.find((f) => f.port === a.port)!;
  const vmB = found.find((f) => f.port === b.port)!;
  const echo = await init.deploy(vmB, Echo);
  const waiter = await init.deploy(vmA, Waiter);
  // Make sure both are up and talking before the kill.
  init.send(echo, { tag: 'ping', seq: 1 });
  await init.recv({ src: echo, tag: 'pong' });
  init.send(waiter, { tag: 'wait-on', target: echo });
  await new Promise((r) => setTimeout(r, 300));

  const waiting = init.recv({ src: echo, tag: 'never' }).then(
    () => undefined,
    (error: unknown) => ({ error, at: Date.now() }),
  );
  const killedAt = Date.now();
  b.kill('SIGKILL');

  const mine = await waiting;
  expect(mine).toBeDefined();
  expect(VRLostError.isInstance(mine!.error)).toBe(true);
  expect((mine!.error as RiverError).code).toBe('RIVER_VR_LOST');
  expect(mine!.at - killedAt).toBeLessThan(5000);

  const report = await init.recv({ src: waiter, tag: 'waiter-error' }, { timeoutMs: 5000 });
  expect(Date.now() - killedAt).toBeLessThan(5000);
  expect(report).toMatchObject({ name: 'VRLostError', code: 'RIVER_VR_LOST' });

  // Later messages to it bounce instead of vanishing.
  init.send(echo, { tag: 'ping', seq: 2 });
  const bounce = await init.recv({ tag: 'river:undeliverable', dest: echo }, { timeoutMs: 5000 });
  expect(VRLostError.isInstance(bounce.error)).toBe(true);
  expect(bounce.message).toEqual({ tag: 'ping', seq: 2 });
  // The surviving VM still works.
  init.send(waiter, { tag: 'anything' });
  const echo2 = await init.deploy(vmA, Echo);
  init.send(echo2, { tag: 'ping', seq: 3 });
  expect(await init.recv({ src: echo2, tag: 'pong' }, { timeoutMs: 5000 })).toMatchObject({ seq: 3 });
});

test('a VM frozen with SIGSTOP (socket open, silent) is detected by the heartbeat timeout', async () => {
  await using vms = await startVms(1);
  const [b] = vms;
  await using init = await startInitiator({ mdns: false, peers: [b!.address], peerTimeoutMs: 2000 });
  const [vmB] = await init.discover({ timeoutMs: 5000 });
  const echo = await init.deploy(vmB!, Echo);
  init.send(echo, { tag: 'ping', seq: 1 });
  await init.recv({ src: echo, tag: 'pong' });

  const stoppedAt = Date.now();
  b!.kill('SIGSTOP');
  try {
    const error = await init.recv({ src: echo, tag: 'never' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = Date.now() - stoppedAt;
    expect(VRLostError.isInstance(error)).toBe(true);
    expect(PeerLostError.isInstance((error as Error).cause)).toBe(true);
    expect((error as Error).message).toMatch(/silent/);
    expect(took).toBeGreaterThanOrEqual(1500);
    expect(took).toBeLessThan(6000);
  } finally {
    b!.kill('SIGCONT');
  }
});

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

test('an initiator process that dies: its local VMs exit by themselves, VRs it deployed elsewhere are stopped', async () => {
  await using vms = await startVms(1);
  const [a] = vms;
  const script = `
    const { startInitiator, VirtualResource } = require(${JSON.stringify(DIST)});
    class Sleeper extends VirtualResource { async main() { await this.recv({ tag: 'never' }); } }
    (async () => {
      const init = await startInitiator({ mdns: false, peers: [${JSON.stringify(a!.address)}] });
      const [remote] = await init.discover({ timeoutMs: 5000 });
      const locals = await init.discover({ local: 1, peers: [] });
      const local = locals.find((v) => v.id !== remote.id);
      const child = await init.deploy(remote, Sleeper);
      console.log(JSON.stringify({ localPort: local.port, child }));
    })();
  `;
  const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RIVER_MDNS: 'off' } });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).once('line', resolve);
      proc.once('exit', (code) => reject(new Error(`initiator script exited early (${code})`)));
      setTimeout(() => reject(new Error('initiator script printed nothing')), 30_000).unref();
    });
    const { localPort, child } = JSON.parse(line) as { localPort: number; child: string };
    expect(await refused(localPort)).toBe(false);

    await using init = await startInitiator({ mdns: false, peers: [a!.address] });
    await init.discover({ timeoutMs: 5000 });
    const waiting = init.recv({ src: child, tag: 'never' }).then(
      () => undefined,
      (e: unknown) => e as RiverError,
    );
    proc.kill('SIGKILL');
    // The orphaned local VM sees its stdin pipe close and exits.
    await eventually(() => refused(localPort), 10_000);
    // VM A lost the initiator's process, so the VR it deployed there (lifetime: parent) is gone.
    const error = await waiting;
    expect(RiverError.isInstance(error)).toBe(true);
    expect(error!.code).toMatch(/RIVER_VR_(EXITED|LOST)/);
  } finally {
    proc.kill('SIGKILL');
  }
});
