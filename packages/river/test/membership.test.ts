/**
 * Membership: VMs B and C started with `--join A`; discovery through any one address returns all
 * three; a member that dies is dropped from everyone's list.
 */
import { startInitiator } from '../src';
import { eventually, startVm } from './fixtures/vm-process';

jest.setTimeout(90_000);

test('B and C join A: discovery through any one address returns the whole cluster; dead members are dropped', async () => {
  await using a = await startVm(['--name', 'A']);
  await using b = await startVm(['--name', 'B', '--join', a.address]);
  await using c = await startVm(['--name', 'C', '--join', a.address]);
  const all = [a, b, c].map((v) => v.port).sort();

  for (const seed of [a, b, c]) {
    await using init = await startInitiator({ mdns: false });
    // B learns about C through A (pushed on join, and exchanged every couple of seconds).
    const found = (await eventually(async () => {
      const list = await init.discover({ peers: [seed.address], timeoutMs: 5000 });
      return list.length === 3 ? list : undefined;
    }, 15_000))!;
    expect(found.map((f) => f.port).sort()).toEqual(all);
    expect(found.map((f) => f.name).sort()).toEqual(['A', 'B', 'C']);
    expect(new Set(found.map((f) => f.id)).size).toBe(3);
  }

  // C dies: A and B drop it (their heartbeats / failed exchange notice it).
  c.kill('SIGKILL');
  await c.exited;
  await using init = await startInitiator({ mdns: false });
  for (const seed of [a, b]) {
    const found = (await eventually(async () => {
      const list = await init.discover({ peers: [seed.address], timeoutMs: 5000 });
      return list.length === 2 ? list : undefined;
    }, 15_000))!;
    expect(found.map((f) => f.name).sort()).toEqual(['A', 'B']);
  }
});
