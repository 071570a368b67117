/**
 * Every field of a deploy is checked before anything starts: extension names are looked up as the
 * VM's own names only (`toString`, `__proto__`… are not extensions: they used to take the spare
 * worker and leak it), resource limits must be numbers in their ranges (`stackSizeMb: 0.1` used
 * to make the whole VM exit), and anything else is a DeployError naming the field. After a
 * seeded fuzz of such deploys against a real VM, it still deploys VRs and has exactly its
 * baseline threads, child processes and file descriptors.
 */
import { readdirSync } from 'node:fs';

import { encode } from '@river/sfm';

import { DeployError, startInitiator, type Initiator, type ResourceLimits, type VMInfo } from '../src';
import { VRHost } from '../src/host/vr-host';
import { RESOURCE_LIMIT_RANGES } from '../src/host/resource-limits';
import type { DeployArgs } from '../src/protocol';
import { eventually, startVm, threadsAndChildren, type VmProcess } from './fixtures/vm-process';
import { Echo } from './fixtures/vrs';

jest.setTimeout(120_000);

/** A small seeded generator (mulberry32): the fuzz cases are the same on every run. */
class Prng {
  constructor(private state: number) {}
  int(n: number): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  }
}

const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** Threads + children and fds of the VM once they stop changing (an ended VR's thread takes a moment to go). */
async function settled(pid: number): Promise<{ threads: number; files: number }> {
  let last = '';
  for (let same = 0, i = 0; same < 3 && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = `${threadsAndChildren(pid)}/${fds(pid)}`;
    same = now === last ? same + 1 : 0;
    last = now;
  }
  const [threads, files] = last.split('/').map(Number) as [number, number];
  return { threads, files };
}

let vm: VmProcess;
let init: Initiator;
let info: VMInfo;

beforeAll(async () => {
  vm = await startVm();
  init = await startInitiator({ mdns: false, peers: [vm.address] });
  [info] = (await init.discover({ timeoutMs: 5000 })) as [VMInfo];
});

afterAll(async () => {
  await init?.stop();
  await vm?.dispose();
});

async function echoWorks(): Promise<void> {
  const e = await init.deploy(info, Echo);
  init.send(e, { tag: 'ping', seq: 1 });
  expect(await init.recv({ src: e, tag: 'pong' }, { timeoutMs: 10_000 })).toMatchObject({ seq: 1 });
  init.send(e, { tag: 'stop' });
  await init.recv({ src: e, tag: 'river:exit' }, { timeoutMs: 10_000 });
}

/** Object.prototype's names, and a few more a lookup through the prototype chain would find. */
const prototypeNames = [...Object.getOwnPropertyNames(Object.prototype), '__proto__', 'constructor', 'prototype', 'hasOwnProperty', ''];

/** Limits no deploy may have: out of range, not numbers, unknown names, not an object. */
function absurdLimits(prng: Prng): unknown[] {
  const names = Object.keys(RESOURCE_LIMIT_RANGES) as (keyof ResourceLimits)[];
  const out: unknown[] = [{ stackSizeMb: 0.1 }, { stackSizeMb: 100_000 }, { maxOldGenerationSizeMb: 1e12 }, { maxOldGenerationSizeMb: 0.5 }];
  for (const name of names) {
    const { min, max } = RESOURCE_LIMIT_RANGES[name];
    for (const v of [0, -1, min / 2, max * 2, Number.NaN, Infinity, -Infinity, `${min}`, [min], { n: min }, true]) out.push({ [name]: v });
  }
  out.push({ heap: 64 }, { __proto__: { stackSizeMb: 0.1 }, toString: 1 }, 'stackSizeMb', 42, [1, 2], true);
  for (let i = 0; i < 40; i++) {
    const name = names[prng.int(names.length)]!;
    const choices = [-prng.int(1e9), 1e6 + prng.int(1e12), prng.int(1e6) / 1e7];
    out.push({ [name]: choices[prng.int(choices.length)] });
  }
  return out;
}

test('extension names are looked up as own names only: Object.prototype names are DeployErrors, nothing leaks', async () => {
  await echoWorks(); // warm: the spare exists
  const { threads, files } = await settled(vm.pid);
  for (const name of prototypeNames) {
    const error = await init.deploy(info, name).then(() => undefined, (e: unknown) => e);
    expect(DeployError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(`no extension named ${JSON.stringify(name)} on this VM (it has none)`);
  }
  await echoWorks();
  await eventually(() => threadsAndChildren(vm.pid) === threads && fds(vm.pid) === files, 10_000, 100).catch((e) => {
    throw new Error(`${e.message}: threads ${threads} -> ${threadsAndChildren(vm.pid)}, fds ${files} -> ${fds(vm.pid)}`);
  });
  expect(vm.child.exitCode).toBeNull();
});

test('absurd resource limits are DeployErrors naming the limit and its range; the VM lives on, threads and fds at baseline', async () => {
  const prng = new Prng(11);
  await echoWorks();
  const { threads, files } = await settled(vm.pid);
  const cases = absurdLimits(prng);
  for (const resourceLimits of cases) {
    const error = await init.deployWith(info, Echo, { resourceLimits: resourceLimits as ResourceLimits }).then(() => undefined, (e: unknown) => e);
    if (!DeployError.isInstance(error)) throw new Error(`deploy with resourceLimits ${String(JSON.stringify(resourceLimits))} was not refused: ${String(error)}`);
    expect((error as Error).message).toMatch(/resource limit \w+ must be a number of MiB from [\d.]+ to \d+, got|unknown resource limit|resourceLimits must be an object/);
  }
  expect(vm.child.exitCode).toBeNull();
  await echoWorks();
  await eventually(() => threadsAndChildren(vm.pid) === threads && fds(vm.pid) === files, 10_000, 100);
  // Limits in range still work, at both ends.
  const { stackSizeMb, maxYoungGenerationSizeMb } = RESOURCE_LIMIT_RANGES;
  for (const ok of [{ stackSizeMb: stackSizeMb.min, maxYoungGenerationSizeMb: maxYoungGenerationSizeMb.max }, { stackSizeMb: stackSizeMb.max }]) {
    const e = await init.deployWith(info, Echo, { resourceLimits: ok });
    init.send(e, { tag: 'ping', seq: 2 });
    expect(await init.recv({ src: e, tag: 'pong' }, { timeoutMs: 10_000 })).toMatchObject({ seq: 2 });
    init.send(e, { tag: 'stop' });
    await init.recv({ src: e, tag: 'river:exit' }, { timeoutMs: 10_000 });
  }
});

test('fields of the wrong type, straight to a VM host with real workers: DeployErrors, no worker started or leaked', async () => {
  const ended: string[] = [];
  const host = new VRHost('node-under-test', {}, { added: () => undefined, ended: (vr) => ended.push(vr.uuid) });
  const good: DeployArgs = { source: Echo.toString(), args: encode([]), parent: 'p', lifetime: 'parent' };
  const bad: [Partial<Record<keyof DeployArgs, unknown>>, RegExp][] = [
    [{ extension: 42 }, /an extension name must be a string, got number/],
    [{ extension: { toString: () => 'x' } }, /an extension name must be a string, got object/],
    [{ extension: 'constructor' }, /no extension named "constructor"/],
    [{ source: 42 }, /deploy needs a class source or an extension name/],
    [{ source: '   ' }, /empty VR class source/],
    [{ args: [1, 2] }, /arguments must be SFM-encoded bytes/],
    [{ args: 'bytes' }, /arguments must be SFM-encoded bytes/],
    [{ parent: 7 }, /parent must be a VR's UUID/],
    [{ resourceLimits: { stackSizeMb: 0.1 } }, /stackSizeMb must be a number of MiB from 1 to 64, got 0.1/],
  ];
  try {
    for (const [fields, message] of bad) {
      const error = await host.deploy({ ...good, ...fields } as DeployArgs, () => undefined).then(() => undefined, (e: unknown) => e);
      expect(DeployError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(message);
    }
    expect(host.size).toBe(0);
    expect(ended).toEqual([]);
  } finally {
    await host.close();
  }
});
