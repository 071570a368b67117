/**
 * Two and four VMs on loopback (real `river vm` processes), found through static peers and
 * through `local`; a VR deployed on each; ping-pong and all-to-all messaging with selective
 * receive on `src` and `tag`.
 */
import { connect } from 'node:net';

import { startInitiator, type Initiator, type UUID, type VMInfo } from '../src';
import { startVms, eventually } from './fixtures/vm-process';
import { Echo, Mesher } from './fixtures/vrs';

jest.setTimeout(90_000);

async function pingPong(init: Initiator, vms: VMInfo[]): Promise<void> {
  const echoes = await Promise.all(vms.map((vm) => init.deploy(vm, Echo)));
  expect(new Set(echoes).size).toBe(vms.length);
  for (let round = 0; round < 3; round++) {
    // Send to all first, then receive selectively in reverse order.
    echoes.forEach((e, i) => init.send(e, { tag: 'ping', seq: round * 10 + i }));
    for (const [i, e] of [...echoes.entries()].reverse()) {
      const pong = await init.recv({ src: e, tag: 'pong' }, { timeoutMs: 15_000 });
      expect(pong).toMatchObject({ src: e, dest: init.uuid, seq: round * 10 + i, from: e, parent: init.uuid });
    }
  }
  for (const e of echoes) init.send(e, { tag: 'stop' });
  for (const e of echoes) {
    const exit = await init.recv({ src: e, tag: 'river:exit' }, { timeoutMs: 15_000 });
    expect(exit).toMatchObject({ uuid: e, value: 3 });
  }
}

async function allToAll(init: Initiator, vms: VMInfo[]): Promise<void> {
  const meshers = await Promise.all(vms.map((vm) => init.deploy(vm, Mesher)));
  for (const m of meshers) init.send(m, { tag: 'go', peers: meshers });
  for (const m of meshers) {
    const r = await resultOf<{ got: UUID[]; noise: UUID[]; queued: number }>(init, m);
    const others = meshers.filter((x) => x !== m);
    expect(r.got).toEqual([...others].reverse());
    expect(r.noise).toEqual(others);
    expect(r.queued).toBe(0);
  }
}

/** The `result` message of VR `src`, or its `river:exit` error if it failed first. */
async function resultOf<T extends Record<string, unknown>>(init: Initiator, src: UUID): Promise<T> {
  const m = await init.recv({ src, tag: (t: unknown) => t === 'result' || t === 'river:exit' }, { timeoutMs: 20_000 });
  if (m.tag === 'river:exit') throw m.error ?? new Error(`VR ${src} exited with ${String(m.value)} before its result`);
  return m as unknown as T;
}

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

describe.each([2, 4])('%i VMs', (n) => {
  test('found through static peers: ping-pong and all-to-all', async () => {
    await using vms = await startVms(n);
    await using init = await startInitiator({ mdns: false, peers: vms.map((v) => v.address) });
    const found = await init.discover({ timeoutMs: 5000 });
    expect(found.map((f) => f.port).sort()).toEqual(vms.map((v) => v.port).sort());
    expect(new Set(found.map((f) => f.id)).size).toBe(n);
    for (const f of found) expect(f).toMatchObject({ host: '127.0.0.1', version: expect.any(String), slots: expect.any(Number) });
    await pingPong(init, found);
    await allToAll(init, found);
  });

  test('found through local child VMs: ping-pong and all-to-all; stopped with the initiator', async () => {
    let ports: number[] = [];
    {
      await using init = await startInitiator({ mdns: false, peers: [] });
      const found = await init.discover({ local: n, timeoutMs: 5000 });
      expect(found).toHaveLength(n);
      ports = found.map((f) => f.port);
      // Asking again reuses the running local VMs.
      expect((await init.discover({ local: n })).map((f) => f.id).sort()).toEqual(found.map((f) => f.id).sort());
      await pingPong(init, found);
      await allToAll(init, found);
    }
    for (const port of ports) await eventually(() => refused(port), 10_000);
  });
});
