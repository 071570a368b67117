/**
 * Limits and control over VRs: a parent terminates a runaway child (and only its parent may); a
 * VR over its heap limit ends with ResourceLimitError naming the limit (the VM operator's cap
 * included); a message too large for a frame bounces instead of costing the connection; a peer
 * that stops reading is cut off once too much waits for it, so the VM's memory stays bounded.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';

import { encode } from '@river/sfm';

import { MessageTooLargeError, NotParentError, ResourceLimitError, VRExitedError, generateKey, startInitiator, type Initiator, type VMInfo } from '../src';
import { FrameKind } from '../src/protocol';
import { RawClient } from './fixtures/raw-client';
import { eventually, startVm, threadsAndChildren, type VmProcess } from './fixtures/vm-process';
import { importsOf } from '../src/code/portable';
import { Echo, Flood, Hog, Spinner } from './fixtures/vrs';

jest.setTimeout(60_000);

/** Threads and child processes of a VM: each VR adds one (a process here: the VM caps VR heaps). */
const threads = (vm: VmProcess) => threadsAndChildren(vm.pid);
/** Resident memory now, and its high-water mark, in MiB. */
function rss(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)![1]);
  return { now: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}

let vm: VmProcess;
let init: Initiator;
let info: VMInfo;

beforeAll(async () => {
  vm = await startVm(['--max-vr-heap-mb', '64']);
  init = await startInitiator({ mdns: false, peers: [vm.address] });
  [info] = (await init.discover({ timeoutMs: 5000 })) as [VMInfo];
});

afterAll(async () => {
  await init?.stop();
  await vm?.dispose();
});

async function echoWorks(from: Initiator = init): Promise<void> {
  const e = await from.deploy(info, Echo);
  from.send(e, { tag: 'ping', seq: 1 });
  expect(await from.recv({ src: e, tag: 'pong' }, { timeoutMs: 10_000 })).toMatchObject({ seq: 1 });
  from.send(e, { tag: 'stop' });
  await from.recv({ src: e, tag: 'river:exit' }, { timeoutMs: 10_000 });
}

test('a parent terminates its runaway child at once; nobody else may', async () => {
  const idle = threads(vm);
  const spinner = await init.deploy(info, Spinner);
  expect(threads(vm)).toBe(idle + 1);
  await using stranger = await startInitiator({ mdns: false, peers: [vm.address] });
  await stranger.discover({ timeoutMs: 5000 });
  // The stranger does not even know where the spinner lives…
  await expect(stranger.terminate(spinner)).rejects.toMatchObject({ code: 'RIVER_UNKNOWN_VR' });
  // …and when it does (it sent it a message), the VM refuses: it is not the parent.
  stranger.send(spinner, { tag: 'hello' });
  await new Promise((r) => setTimeout(r, 200));
  const refused = await stranger.terminate(spinner).then(() => undefined, (e: unknown) => e);
  expect(NotParentError.isInstance(refused) || (refused as { code?: string }).code === 'RIVER_UNKNOWN_VR').toBe(true);
  expect(threads(vm)).toBe(idle + 1);
  const started = Date.now();
  await init.terminate(spinner, 'test says stop');
  expect(Date.now() - started).toBeLessThan(5000);
  expect(threads(vm)).toBe(idle);
  const exit = await init.recv({ src: spinner, tag: 'river:exit' }, { timeoutMs: 5000 });
  expect(VRExitedError.isInstance(exit.error)).toBe(true);
  expect((exit.error as Error).message).toMatch(/terminated by its parent: test says stop/);
  expect(vm.lines.join('\n')).toMatch(/terminated by its parent: test says stop/);
  // Terminating a VR that is already gone is not an error.
  await init.terminate(spinner);
  await echoWorks();
});

test('a VR over its heap limit ends with ResourceLimitError naming the limit; the VM caps what VRs ask for', async () => {
  const asked = await init.deployWith(info, Hog, { resourceLimits: { maxOldGenerationSizeMb: 32 } });
  const exit = await init.recv({ src: asked, tag: 'river:exit' }, { timeoutMs: 30_000 });
  expect(ResourceLimitError.isInstance(exit.error)).toBe(true);
  expect((exit.error as ResourceLimitError).limits).toEqual({ maxOldGenerationSizeMb: 32 });
  expect((exit.error as Error).message).toMatch(/ran out of memory: it reached the heap limit of its process \(maxOldGenerationSizeMb 32\)/);
  // Asking for no limit, or a larger one, gets the VM's --max-vr-heap-mb.
  for (const resourceLimits of [undefined, { maxOldGenerationSizeMb: 4096 }]) {
    const capped = await init.deployWith(info, Hog, { resourceLimits });
    const end = await init.recv({ src: capped, tag: 'river:exit' }, { timeoutMs: 30_000 });
    expect((end.error as ResourceLimitError).limits).toEqual({ maxOldGenerationSizeMb: 64 });
  }
  expect(vm.lines.join('\n')).toMatch(/died: VR .* ran out of memory/);
  await echoWorks();
});

test('a message too large for a frame bounces to its sender; the connection carries on', async () => {
  await using small = await startInitiator({ mdns: false, peers: [vm.address], maxFrameBytes: 1 << 20 });
  await small.discover({ timeoutMs: 5000 });
  const e = await small.deploy(info, Echo);
  small.send(e, { tag: 'ping', seq: 0, big: new Uint8Array(2 << 20) });
  const bounce = await small.recv({ tag: 'river:undeliverable', dest: e }, { timeoutMs: 5000 });
  expect(MessageTooLargeError.isInstance(bounce.error)).toBe(true);
  expect((bounce.error as Error).message).toMatch(/message of \d+ bytes is too large to send to another process/);
  small.send(e, { tag: 'ping', seq: 1 });
  expect(await small.recv({ src: e, tag: 'pong' }, { timeoutMs: 5000 })).toMatchObject({ seq: 1 });
});

test('a peer that stops reading is cut off once too much waits for it: memory stays bounded', async () => {
  const key = generateKey();
  await using flooded = await startVm(['--host', '127.0.0.1', '--max-unsent-mb', '32'], { env: { RIVER_KEY: key } });
  const before = rss(flooded.pid);
  await using c = await RawClient.open(flooded.port, '127.0.0.1', { tlsKey: key });
  const me = randomUUID();
  await c.handshake(key);
  // Deploy a VR, as this peer's child, that sends us 1 MiB every 5 ms (up to 2 GiB, ~200 MiB/s);
  // then never read.
  // A raw deploy ships what deploy() would: the source and what it uses of its module's imports.
  const imports = importsOf(Flood, 'Flood');
  c.send([FrameKind.REQUEST, 1, 'deploy', { source: Flood.toString(), imports, args: encode([2048, 5]), parent: me, lifetime: 'parent' }]);
  await c.frame((f) => f[0] === FrameKind.RESPONSE && f[1] === 1 && f[2] === true, 10_000);
  c.socket.pause();
  const cutOff = await eventually(() => flooded.lines.find((l) => /is not reading/.test(l)), 30_000, 100);
  expect(cutOff).toMatch(/the peer is not reading: \d+ MiB wait to be sent to it \(limit 32 MiB\)/);
  // The flood VR was this peer's child: it is gone with it, and its memory with it.
  await eventually(() => threads(flooded) <= 12, 10_000, 100);
  const after = rss(flooded.pid);
  console.log(`slow reader: VM RSS ${before.now} MiB before, peak ${after.peak} MiB, ${after.now} MiB after (cut off: ${cutOff})`);
  // The bound: the 32 MiB limit, kernel socket buffers, and the VR and its messages in flight.
  expect(after.peak - before.now).toBeLessThan(200);
  expect(flooded.child.exitCode).toBeNull();
});
