/**
 * Deploying VRs: arguments and parent, `main` throwing or crashing (the parent gets river:exit with
 * the error, the VM lives on), source that does not evaluate (DeployError), extensions by name,
 * lifetime tied to the parent, resource limits.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DeployError, RiverVM, VirtualResource, VRExitedError, startInitiator, type Initiator, type VMInfo } from '../src';
import { eventually, startVms } from './fixtures/vm-process';
import { Crasher, Echo, Hog, Returner, Spawner, Thrower } from './fixtures/vrs';

jest.setTimeout(60_000);

let vms: Awaited<ReturnType<typeof startVms>>;
let init: Initiator;
let vmA: VMInfo;
let vmB: VMInfo;

beforeAll(async () => {
  vms = await startVms(2);
  init = await startInitiator({ mdns: false, peers: vms.map((v) => v.address) });
  const found = await init.discover({ timeoutMs: 5000 });
  vmA = found.find((f) => f.port === vms[0]!.port)!;
  vmB = found.find((f) => f.port === vms[1]!.port)!;
});

afterAll(async () => {
  await init?.stop();
  await vms?.[Symbol.asyncDispose]();
});

async function echoWorks(vm: VMInfo): Promise<void> {
  const e = await init.deploy(vm, Echo);
  init.send(e, { tag: 'ping', seq: 7 });
  expect(await init.recv({ src: e, tag: 'pong' }, { timeoutMs: 10_000 })).toMatchObject({ seq: 7 });
  init.send(e, { tag: 'stop' });
  await init.recv({ src: e, tag: 'river:exit' }, { timeoutMs: 10_000 });
}

test('main gets its arguments; the VR knows its parent and its VM; river:exit carries the value', async () => {
  const args = [1, 'two', { three: [3] }, new Map([['k', 1n]]), new Date(0)];
  const r = await init.deploy(vmA, Returner, ...args);
  const exit = await init.recv({ src: r, tag: 'river:exit' }, { timeoutMs: 10_000 });
  expect(exit).toMatchObject({ uuid: r, dest: init.uuid });
  expect(exit.value).toEqual({ args, uuid: r, parent: init.uuid, node: vmA.id });
});

test('main throwing: the parent gets river:exit with the error, the VM lives on', async () => {
  const t = await init.deploy(vmA, Thrower, 'out of range!');
  const exit = await init.recv({ src: t, tag: 'river:exit' }, { timeoutMs: 10_000 });
  expect(exit.value).toBeUndefined();
  expect(exit.error).toBeInstanceOf(Error);
  expect(exit.error).toMatchObject({ name: 'RangeError', message: 'out of range!' });
  await echoWorks(vmA);
});

test('an uncaught error in the VR worker: river:exit with the error, the VM lives on', async () => {
  const c = await init.deploy(vmA, Crasher);
  const exit = await init.recv({ src: c, tag: 'river:exit' }, { timeoutMs: 10_000 });
  expect((exit.error as Error).message).toMatch(/crash outside main/);
  await expect(init.recv({ src: c, tag: 'anything' })).rejects.toMatchObject({ name: 'VRLostError' });
  await echoWorks(vmA);
});

test('resourceLimits pass through: a VR over its heap limit dies alone', async () => {
  const h = await init.deployWith(vmB, Hog, { resourceLimits: { maxOldGenerationSizeMb: 32 } });
  const exit = await init.recv({ src: h, tag: 'river:exit' }, { timeoutMs: 30_000 });
  expect(exit.error).toBeDefined();
  expect(String((exit.error as Error).message)).toMatch(/memory/i);
  await echoWorks(vmB);
});

// A class whose static initializer refers to something only the sender has: its source does not evaluate on the VM.
const onlyHere = 42;
class Unshippable extends VirtualResource {
  static answer = onlyHere;
  main() {
    return Unshippable.answer;
  }
}

test('source that does not evaluate: DeployError; no river:exit follows', async () => {
  const error = await init.deploy(vmA, Unshippable).catch((e: unknown) => e);
  expect(DeployError.isInstance(error)).toBe(true);
  expect((error as Error).message).toMatch(/onlyHere/);
  expect(init.tryRecv({ tag: 'river:exit' })).toBeUndefined();
  // Not a VR class at all: refused before shipping.
  await expect(init.deploy(vmA, class NotAVR {} as never)).rejects.toMatchObject({ name: 'DeployError' });
  await expect(init.deploy(vmA, 'no-such-extension')).rejects.toMatchObject({ name: 'DeployError', message: expect.stringMatching(/no extension named "no-such-extension"/) });
  await echoWorks(vmA);
});

test('lifetime: a child dies with its parent by default; a detached one lives on', async () => {
  const spawner = await init.deploy(vmA, Spawner, vmB);
  const { child } = await init.recv({ src: spawner, tag: 'child' }, { timeoutMs: 10_000 });
  const detachedSpawner = await init.deploy(vmA, Spawner, vmB, 'detached');
  const { child: detached } = await init.recv({ src: detachedSpawner, tag: 'child' }, { timeoutMs: 10_000 });
  for (const c of [child, detached]) {
    init.send(c as string, { tag: 'ping', seq: 1 });
    await init.recv({ src: c as string, tag: 'pong' }, { timeoutMs: 10_000 });
  }
  init.send(spawner, { tag: 'exit-now' });
  init.send(detachedSpawner, { tag: 'exit-now' });
  expect(await init.recv({ src: spawner, tag: 'river:exit' })).toMatchObject({ value: 'spawner done' });
  const error = await init.recv({ src: child as string, tag: 'never' }, { timeoutMs: 10_000 }).catch((e: unknown) => e);
  expect(VRExitedError.isInstance(error)).toBe(true);
  expect((error as Error).message).toMatch(/has exited/);
  init.send(detached as string, { tag: 'ping', seq: 2 });
  expect(await init.recv({ src: detached as string, tag: 'pong' }, { timeoutMs: 10_000 })).toMatchObject({ seq: 2 });
  init.send(detached as string, { tag: 'stop' });
});

test('a spare worker, started ahead with the extensions loaded, becomes the next VR; deploys with other limits start their own', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'river-spare-'));
  try {
    // Every worker that loads the module appends its thread id to a file: a worker that loaded
    // it before the deploy was asked for is a spare; the VR says which thread it runs on.
    const modulePath = join(dir, 'stamp.js');
    const loads = join(dir, 'loads.txt');
    const dist = JSON.stringify(join(__dirname, '..', 'dist', 'index.js'));
    writeFileSync(loads, '');
    writeFileSync(
      modulePath,
      `const { VirtualResource } = require(${dist});
       const { threadId } = require('node:worker_threads');
       require('node:fs').appendFileSync(${JSON.stringify(loads)}, threadId + '\\n');
       class Stamp extends VirtualResource {
         async main() { return threadId; }
       }
       module.exports = { VR: Stamp };`,
    );
    const loaded = () => readFileSync(loads, 'utf8').split('\n').filter(Boolean).map(Number);
    await using vm = await new RiverVM({ advertise: false, extensions: { 'test:stamp': modulePath } }).start();
    /** Waits until a spare loaded the module (one more load than deploys took), then deploys. */
    const stamp = async (taken: number, limits?: { maxOldGenerationSizeMb: number }) => {
      const before = (await eventually(() => (loaded().length > taken ? loaded() : undefined), 20_000, 50))!;
      const uuid = await init.deployWith(vm.info, 'test:stamp', limits ? { resourceLimits: limits } : {});
      const exit = await init.recv({ src: uuid, tag: 'river:exit' }, { timeoutMs: 10_000 });
      return { threadId: exit.value as number, before };
    };
    const first = await stamp(0);
    // It ran in the worker that had loaded the module before it was asked for: the spare.
    expect(first.before).toEqual([first.threadId]);
    const second = await stamp(1);
    // A new spare was started after the first deploy, and the second deploy took it.
    expect(second.before).toEqual([first.threadId, second.threadId]);
    expect(second.threadId).not.toBe(first.threadId);
    // Other limits than the spare's: a worker of its own, which loaded the module only when asked.
    const limited = await stamp(2, { maxOldGenerationSizeMb: 48 });
    expect(limited.before).not.toContain(limited.threadId);
    expect(loaded()).toContain(limited.threadId);
    // And the spare waiting meanwhile is still there for the next default deploy.
    const spare = limited.before[2];
    const third = await stamp(3);
    expect(third.threadId).toBe(spare);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('extensions: a VM starts a VR class registered by name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'river-ext-'));
  try {
    const modulePath = join(dir, 'greeter.js');
    const dist = JSON.stringify(join(__dirname, '..', 'dist', 'index.js'));
    writeFileSync(
      modulePath,
      `const { VirtualResource } = require(${dist});
       class Greeter extends VirtualResource {
         async main(greeting) {
           const m = await this.recv({ tag: 'name' });
           this.send(m.src, { tag: 'greeting', text: greeting + ', ' + m.name });
           return 'greeted';
         }
       }
       module.exports = { VR: Greeter };`,
    );
    await using vm = await new RiverVM({ advertise: false, extensions: { 'test:greeter': modulePath } }).start();
    const g = await init.deploy(vm.info, 'test:greeter', 'hello');
    init.send(g, { tag: 'name', name: 'River' });
    expect(await init.recv({ src: g, tag: 'greeting' }, { timeoutMs: 10_000 })).toMatchObject({ text: 'hello, River' });
    expect(await init.recv({ src: g, tag: 'river:exit' })).toMatchObject({ value: 'greeted' });
    await expect(init.deploy(vm.info, 'test:nope')).rejects.toMatchObject({ message: expect.stringMatching(/it has: test:greeter/) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
