/**
 * A VM that comes back after a stall (SIGSTOP longer than the peer timeout, then SIGCONT) joins
 * again: a VM watch reports it `up` again, new VRs can be deployed on it and talk to their
 * parent, and what was lost with it stays lost (its old VRs were reported lost once and are not
 * heard from again). Also when only one side had declared the other lost (the VM's peer timeout
 * is longer than the stall): the VM is told, and ends the VRs whose parent had given them up.
 * And a cluster member that stalls stays a member and works again after. Real VM processes over loopback.
 */
import { VRLostError, startInitiator, type Initiator, type UUID, type VMInfo } from '../src';
import { eventually, sleep, startVm } from './fixtures/vm-process';
import { Echo, Waiter } from './fixtures/vrs';

jest.setTimeout(120_000);

/** VM `up`/`down` events of a watch, and a way to wait for the next one of a VM. */
async function watchEvents(init: Initiator, peers: string[]) {
  const events: Array<{ kind: 'up' | 'down'; id: string }> = [];
  const watch = await init.watchVMs(
    { peers, mdns: false, intervalMs: 300 },
    (info) => events.push({ kind: 'up', id: info.id }),
    (info) => events.push({ kind: 'down', id: info.id }),
  );
  const count = (kind: 'up' | 'down', id: string) => events.filter((e) => e.kind === kind && e.id === id).length;
  return { events, watch, count };
}

async function pingPong(init: Initiator, echo: UUID, seq: number): Promise<void> {
  init.send(echo, { tag: 'ping', seq });
  expect(await init.recv({ src: echo, tag: 'pong' }, { timeoutMs: 10_000 })).toMatchObject({ seq });
}

test('SIGSTOP for 20 s, then SIGCONT: the VM is watched up again, takes new VRs; its old VRs stay lost', async () => {
  await using vm = await startVm(['--peer-timeout', '2000']);
  await using init = await startInitiator({ mdns: false, peers: [vm.address], peerTimeoutMs: 2000 });
  const [info] = await init.discover({ timeoutMs: 5000 });
  const { watch, count } = await watchEvents(init, [vm.address]);
  await eventually(() => count('up', info!.id) === 1);
  const old = await init.deploy(info!, Echo);
  await pingPong(init, old, 1);

  vm.kill('SIGSTOP');
  try {
    // Lost: the watch says so, and the parent hears of its child.
    const exit = await init.recv({ src: old, tag: 'river:exit' }, { timeoutMs: 15_000 });
    expect(VRLostError.isInstance(exit.error)).toBe(true);
    await eventually(() => count('down', info!.id) === 1, 10_000);
    await sleep(20_000);
  } finally {
    vm.kill('SIGCONT');
  }

  // Back: up again, and a new VR there talks to its parent both ways.
  await eventually(() => count('up', info!.id) === 2, 30_000);
  const fresh = await init.deploy(info!, Echo);
  await pingPong(init, fresh, 2);
  await eventually(() => vm.lines.some((l) => /is back after being lost/.test(l)), 10_000);

  // The old VR stays lost to its parent: no second exit, sends bounce, waiting on it fails.
  expect(init.tryRecv({ tag: 'river:exit' })).toBeUndefined();
  init.send(old, { tag: 'ping', seq: 3 });
  const bounce = await init.recv({ tag: 'river:undeliverable', dest: old }, { timeoutMs: 10_000 });
  expect(VRLostError.isInstance(bounce.error)).toBe(true);
  await expect(init.recv({ src: old, tag: 'pong' })).rejects.toMatchObject({ code: 'RIVER_VR_LOST' });
  await watch.stop();
});

test('only the initiator declared the VM lost: on its return the VM ends the VRs that parent gave up, and takes new ones', async () => {
  // The VM and a second initiator wait 60 s before declaring anyone lost; the first initiator 2 s.
  await using vm = await startVm(['--peer-timeout', '60000']);
  await using init = await startInitiator({ mdns: false, peers: [vm.address], peerTimeoutMs: 2000 });
  await using other = await startInitiator({ mdns: false, peers: [vm.address], peerTimeoutMs: 60_000 });
  const [info] = await init.discover({ timeoutMs: 5000 });
  const [otherInfo] = await other.discover({ timeoutMs: 5000 });
  const { watch, count } = await watchEvents(init, [vm.address]);
  await eventually(() => count('up', info!.id) === 1);
  const old = await init.deploy(info!, Echo);
  await pingPong(init, old, 1);
  // A VR of the other initiator on the same VM waits on the first one's child.
  const waiter = await other.deploy(otherInfo!, Waiter);
  other.send(waiter, { tag: 'wait-on', target: old });

  vm.kill('SIGSTOP');
  try {
    const exit = await init.recv({ src: old, tag: 'river:exit' }, { timeoutMs: 15_000 });
    expect(VRLostError.isInstance(exit.error)).toBe(true);
    await sleep(6000 - 2000);
  } finally {
    vm.kill('SIGCONT');
  }

  // The VM had not noticed anything; told by the initiator, it ends the child it had given up.
  const report = await other.recv({ src: waiter, tag: 'waiter-error' }, { timeoutMs: 20_000 });
  expect(report).toMatchObject({ code: 'RIVER_VR_EXITED', message: expect.stringMatching(/parent .* is gone/) });
  expect(vm.lines.some((l) => /had lost us/.test(l))).toBe(true);
  await eventually(() => count('up', info!.id) === 2, 30_000);
  const fresh = await init.deploy(info!, Echo);
  await pingPong(init, fresh, 2);
  // Its late end never reaches the parent, which had its one exit already.
  expect(init.tryRecv({ tag: 'river:exit' })).toBeUndefined();
  await watch.stop();
});

test('a cluster member stalled past the peer timeout stays a member (its port still accepts) and works again when it comes back', async () => {
  await using seed = await startVm(['--peer-timeout', '2000']);
  await using member = await startVm(['--peer-timeout', '2000', '--join', seed.address]);
  await using init = await startInitiator({ mdns: false, peers: [seed.address] });
  const listed = async (): Promise<string[]> => (await init.discover({ timeoutMs: 3000 })).map((v: VMInfo) => v.port.toString()).sort();
  const both = [String(seed.port), String(member.port)].sort();
  await eventually(async () => JSON.stringify(await listed()) === JSON.stringify(both), 20_000);

  member.kill('SIGSTOP');
  try {
    // The seed loses its connection, finds a process still listening there (a stall, or a starved
    // machine: the kernel accepts for it) and keeps it, rather than dropping a member that is
    // only slow.
    await eventually(() => seed.lines.some((l) => /member .* lost its connection but still listens: kept/.test(l)), 20_000);
    expect(await listed()).toEqual(both);
    await sleep(3000);
  } finally {
    member.kill('SIGCONT');
  }
  // Back: still listed, and a VR deployed on it through the seed's list works.
  await eventually(async () => JSON.stringify(await listed()) === JSON.stringify(both), 30_000, 500);
  const info = (await init.discover({ timeoutMs: 3000 })).find((v: VMInfo) => v.port === member.port)!;
  const echo = await init.deploy(info, Echo);
  await pingPong(init, echo, 1);
});
