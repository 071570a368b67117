/**
 * A session over its memory limit cannot take its VM down, whatever it allocates: on a real
 * `trickle vm --max-vr-heap-mb 96`, a session growing a Map of objects, flooding console.log with
 * 100 KB lines, growing arrays, strings or Buffers (memory outside the JavaScript heap) ends with
 * ResourceLimitError; after each, the VM is still running, a bystander session still answers, a
 * new session can start, and the VM has no more threads and child processes than before.
 * (With worker threads, the Map pattern made V8 abort the whole VM: sessions with a heap limit
 * run in child processes.) And those processes do not outlive their VM, even busy.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, startVm, threadsAndChildren, type VmProcess } from '../../river/test/fixtures/vm-process';
import { ResourceLimitError, connect, inject } from '../src';

jest.setTimeout(180_000);

const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');
const HEAP_MB = 96;

function mapOfObjects(): never {
  const m = new Map<number, { v: number }>();
  for (let i = 0; ; i++) m.set(i, { v: i });
}

function logFlood(): never {
  const line = 'x'.repeat(100_000);
  for (;;) console.log(line);
}

function arrays(): never {
  const keep: number[][] = [];
  for (let i = 0; ; i++) keep.push([i, i + 1, i + 2]);
}

function strings(): never {
  const keep: string[] = [];
  for (let i = 0; ; i++) keep.push(`${'s'.repeat(1000)}${i}`);
}

function buffers(): never {
  const keep: Buffer[] = [];
  for (;;) keep.push(Buffer.alloc(1 << 20, 1)); // outside the JavaScript heap
}

function add(a: number, b: number) {
  return a + b;
}

let vm: VmProcess;

beforeAll(async () => {
  // The VM's stdout is read line by line by the fixture, as an operator's log collector would.
  vm = await startVm(['--max-vr-heap-mb', String(HEAP_MB)], { cli: TRICKLE_CLI });
});

afterAll(async () => {
  await vm?.dispose();
});

const peers = () => [vm.address];

test.each([
  ['a Map of objects', mapOfObjects],
  ['a console.log flood of 100 KB lines', logFlood],
  ['arrays', arrays],
  ['strings', strings],
  ['Buffers', buffers],
])('a session growing %s ends with ResourceLimitError; the VM and its other sessions live on', async (_what, grow) => {
  await using bystander = await inject(await connect({ peers: peers(), mdns: false }), { add });
  expect(await bystander[0]!.add(1, 2)).toBe(3);
  const baseline = threadsAndChildren(vm.pid);
  {
    await using hog = await inject(await connect({ peers: peers(), mdns: false }), { grow, add });
    const started = Date.now();
    const error = await Promise.resolve(hog[0]!.grow()).then(() => undefined, (e: unknown) => e);
    expect(ResourceLimitError.isInstance(error)).toBe(true);
    expect((error as ResourceLimitError).limitMb).toBe(HEAP_MB);
    expect((error as Error).message).toMatch(/ran out of memory during grow\(\)/);
    expect(Date.now() - started).toBeLessThan(60_000);
  }
  expect(vm.child.exitCode).toBeNull();
  expect(vm.child.signalCode).toBeNull();
  expect(await bystander[0]!.add(2, 3)).toBe(5);
  await using fresh = await inject(await connect({ peers: peers(), mdns: false }), { add });
  expect(await fresh[0]!.add(4, 5)).toBe(9);
  // The ended session's process is gone (the spare that replaced the one it took is counted in both).
  await eventually(() => threadsAndChildren(vm.pid) <= baseline + 1, 10_000, 100);
  expect(vm.lines.join('\n')).toMatch(/ran out of memory/);
});

/** Child processes of `pid` (all its threads'). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      // the thread ended
    }
  }
  return out;
}

function spin(): never {
  for (;;) {
    // busy: the session's own thread never returns to its event loop
  }
}

test('session processes do not outlive their VM: SIGKILL the VM while one spins, and its processes end', async () => {
  const doomed = await startVm(['--max-vr-heap-mb', '64'], { cli: TRICKLE_CLI });
  try {
    const vms = await inject(await connect({ peers: [doomed.address], mdns: false }), { spin, add });
    expect(await vms[0]!.add(1, 1)).toBe(2);
    void Promise.resolve(vms[0]!.spin()).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const sessions = childrenOf(doomed.pid);
    expect(sessions.length).toBeGreaterThanOrEqual(2); // the spinning session and the spare
    doomed.kill('SIGKILL');
    await doomed.exited;
    await eventually(() => sessions.every((pid) => !existsSync(`/proc/${pid}`) || /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))), 10_000, 100);
    await Promise.resolve(vms[Symbol.asyncDispose]()).catch(() => undefined);
  } finally {
    await doomed.dispose();
  }
});
