/**
 * A parent hears of every child lost with its VM: when the process hosting a child is killed
 * (SIGKILL), the parent's own engine sends the parent that child's `river:exit`, with a
 * VRLostError, once; so a supervisor waiting on `river:exit` and a gather loop waiting on results
 * both end. Real VM processes over loopback.
 */
import { RiverError, VRLostError, startInitiator, type UUID } from '../src';
import { startVms } from './fixtures/vm-process';
import { Echo, Supervisor } from './fixtures/vrs';

jest.setTimeout(90_000);

test('a VM killed with SIGKILL: each parent gets one river:exit with VRLostError per child it had there', async () => {
  await using vms = await startVms(2);
  const [a, b] = [vms[0]!, vms[1]!];
  await using init = await startInitiator({ mdns: false, peers: [a.address, b.address] });
  const found = await init.discover({ timeoutMs: 5000 });
  const vmA = found.find((f) => f.port === a.port)!;
  const vmB = found.find((f) => f.port === b.port)!;

  // The initiator's own children: two on B (to be lost), one on A (lives on).
  const onB = [await init.deploy(vmB, Echo), await init.deploy(vmB, Echo)];
  const onA = await init.deploy(vmA, Echo);
  for (const [i, echo] of [...onB, onA].entries()) {
    init.send(echo, { tag: 'ping', seq: i });
    await init.recv({ src: echo, tag: 'pong' }, { timeoutMs: 10_000 });
  }
  // A supervisor on A with a child on B: A's engine must tell it too.
  const supervisor = await init.deploy(vmA, Supervisor, [vmB]);
  const ready = await init.recv({ src: supervisor, tag: 'ready' }, { timeoutMs: 10_000 });
  const [grandchild] = ready.children as UUID[];

  b.kill('SIGKILL');

  // A gather loop: results or exits, until every child on B is accounted for. None of them ever
  // sends a result: before the fix this loop waited forever.
  const exits = new Map<UUID, Record<string, unknown>>();
  while (exits.size < onB.length) {
    const m = await init.recv((msg) => msg.tag === 'result' || msg.tag === 'river:exit', { timeoutMs: 20_000 });
    expect(m.tag).toBe('river:exit');
    expect(exits.has(m.uuid as UUID)).toBe(false);
    exits.set(m.uuid as UUID, m);
  }
  for (const child of onB) {
    const exit = exits.get(child)!;
    expect(exit).toMatchObject({ tag: 'river:exit', uuid: child, src: child, dest: init.uuid });
    expect(VRLostError.isInstance(exit.error)).toBe(true);
    expect((exit.error as RiverError).code).toBe('RIVER_VR_LOST');
    expect((exit.error as Error).message).toMatch(new RegExp(`VR ${child} was lost with its process, VM ${vmB.name}`));
    // And it is gone: waiting on it fails at once.
    await expect(init.recv({ src: child, tag: 'never' })).rejects.toMatchObject({ code: 'RIVER_VR_LOST' });
  }

  // The supervisor on A heard of its child on B the same way.
  const report = await init.recv({ src: supervisor, tag: 'child-exit' }, { timeoutMs: 20_000 });
  expect(report).toMatchObject({ child: grandchild, from: grandchild, name: 'VRLostError', code: 'RIVER_VR_LOST' });
  expect(await init.recv({ src: supervisor, tag: 'river:exit' }, { timeoutMs: 10_000 })).toMatchObject({ value: 1 });

  // Exactly one exit per lost child, none for the child on A, which still answers.
  expect(init.tryRecv({ tag: 'river:exit' })).toBeUndefined();
  init.send(onA, { tag: 'ping', seq: 9 });
  expect(await init.recv({ src: onA, tag: 'pong' }, { timeoutMs: 10_000 })).toMatchObject({ seq: 9 });
  init.send(onA, { tag: 'stop' });
  expect(await init.recv({ src: onA, tag: 'river:exit' }, { timeoutMs: 10_000 })).toMatchObject({ value: 2 });
});
