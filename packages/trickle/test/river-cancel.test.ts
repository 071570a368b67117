/**
 * Isolation and cancellation on a real `trickle vm`: a runaway call (an infinite loop in injected
 * code) is cancelled by a timeout or an AbortSignal — its session's worker is terminated, the
 * caller gets CancelledError, the handle is closed — while another session on the same VM keeps
 * answering; and a session that exceeds its heap limit fails with ResourceLimitError naming the
 * VM and the limit, while the VM lives on.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, startVms, type VmProcess } from '../../river/test/fixtures/vm-process';
import { CancelledError, ResourceLimitError, VMLostError, connect, fork, forkWork, inject, join as joinAll, vmInfo, withOptions } from '../src';

jest.setTimeout(60_000);

const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');
/** OS threads of a VM process: each session adds its worker thread. */
const threads = (vm: VmProcess) => readdirSync(`/proc/${vm.pid}/task`).length;

function spin(): never {
  for (;;) {
    // a runaway loop: never yields
  }
}

function add(a: number, b: number) {
  return a + b;
}

function hog(mb: number) {
  const keep: number[][] = [];
  for (let i = 0; i < mb * 10; i++) keep.push(Array.from({ length: 12_500 }, (_, j) => i + j)); // ~100 KB each
  return keep.length;
}

function slowSquare(x: number) {
  const until = Date.now() + 20;
  while (Date.now() < until) {
    // busy
  }
  return x * x;
}

let procs: VmProcess[] & AsyncDisposable;
let vmProc: VmProcess;
let idle: number;

beforeAll(async () => {
  procs = await startVms(1, [], { cli: TRICKLE_CLI });
  vmProc = procs[0]!;
  idle = threads(vmProc);
});

afterAll(async () => {
  await procs?.[Symbol.asyncDispose]();
});

const peers = () => [vmProc.address];

test('a runaway call is cancelled by a timeout; another session on the VM carries on; threads return to baseline', async () => {
  await using other = await inject(await connect({ peers: peers(), mdns: false }), { add });
  await using mine = await inject(await connect({ peers: peers(), mdns: false }), { spin, add });
  expect(threads(vmProc)).toBe(idle + 2);
  const vm = mine[0]!;
  const started = Date.now();
  const runaway = withOptions(vm, { timeoutMs: 500 }).spin();
  // While it spins, the other session answers (its own worker thread).
  expect(await other[0]!.add(1, 2)).toBe(3);
  const error = await Promise.resolve(runaway).then(() => undefined, (e: unknown) => e);
  const waited = Date.now() - started;
  expect(CancelledError.isInstance(error)).toBe(true);
  expect((error as CancelledError).message).toMatch(/spin\(\) on VM '.+' was cancelled \(timed out after 500 ms\); its session was ended/);
  expect((error as CancelledError).vm).toEqual(vmInfo(vm));
  expect(waited).toBeGreaterThanOrEqual(450);
  expect(waited).toBeLessThan(3000);
  // The session is gone: its worker ends, and the handle says why.
  await eventually(() => threads(vmProc) === idle + 1, 10_000, 50);
  const after = await Promise.resolve(vm.add(1, 1)).then(() => undefined, (e: unknown) => e);
  expect(CancelledError.isInstance(after)).toBe(true);
  expect((after as Error).message).toMatch(/cannot send add\(\): the session on VM '.+' was ended when spin\(\) was cancelled \(timed out after 500 ms\); connect again/);
  // The other session still works, and the VM takes new sessions.
  expect(await other[0]!.add(2, 3)).toBe(5);
  await using fresh = await inject(await connect({ peers: peers(), mdns: false }), { add });
  expect(await fresh[0]!.add(4, 5)).toBe(9);
  expect(vmProc.child.exitCode).toBeNull();
});

test('an AbortSignal cancels a forked runaway call; other requests outstanding on that session fail too', async () => {
  await using other = await inject(await connect({ peers: peers(), mdns: false }), { add });
  const before = threads(vmProc);
  await using mine = await inject(await connect({ peers: peers(), mdns: false }), { spin, add, wait: (ms: number) => new Promise((r) => setTimeout(r, ms)) });
  const vm = mine[0]!;
  const ac = new AbortController();
  const handle = fork(withOptions(vm, { signal: ac.signal }), spin);
  const bystander = vm.wait(60_000); // a plain request on the same session
  await new Promise((r) => setTimeout(r, 200));
  ac.abort(new Error('user pressed stop'));
  const error = await joinAll(handle).then(() => undefined, (e: unknown) => e);
  expect(CancelledError.isInstance(error)).toBe(true);
  expect((error as Error).message).toMatch(/spin\(\) on VM '.+' was cancelled \(aborted \(user pressed stop\)\)/);
  expect((error as Error).cause).toEqual(new Error('user pressed stop'));
  const other2 = await Promise.resolve(bystander).then(() => undefined, (e: unknown) => e);
  expect(CancelledError.isInstance(other2)).toBe(true);
  expect((other2 as Error).message).toMatch(/ended while wait\(\) was outstanding: spin\(\) was cancelled/);
  await eventually(() => threads(vmProc) === before, 10_000, 50);
  expect(await other[0]!.add(20, 22)).toBe(42);
  // A signal that is already aborted sends nothing and ends nothing.
  await using third = await inject(await connect({ peers: peers(), mdns: false }), { add });
  const aborted = await Promise.resolve(withOptions(third[0]!, { signal: AbortSignal.abort() }).add(1, 1)).then(() => undefined, (e: unknown) => e);
  expect(CancelledError.isInstance(aborted)).toBe(true);
  expect((aborted as Error).message).toMatch(/was not sent: its signal was already aborted/);
  expect(await third[0]!.add(1, 1)).toBe(2);
});

test('calls that finish in time are not affected; forkWork on wrapped handles cancels a chunk that runs too long', async () => {
  await using vms = await inject(await connect({ peers: peers(), mdns: false }), { add, slowSquare, spin });
  const vm = withOptions(vms[0]!, { timeoutMs: 5_000 });
  expect(await vm.add(1, 2)).toBe(3);
  expect(await forkWork(withOptions(vms, { timeoutMs: 5_000 }), slowSquare, [1, 2, 3, 4], { ordered: true })).toEqual([1, 4, 9, 16]);
  const error = await forkWork(withOptions(vms, { timeoutMs: 300 }), 'spin', [1]).then(() => undefined, (e: unknown) => e);
  expect(CancelledError.isInstance(error)).toBe(true);
});

test('a session that exceeds its heap limit fails with ResourceLimitError naming the VM and the limit; the VM lives on', async () => {
  await using other = await inject(await connect({ peers: peers(), mdns: false }), { add });
  const before = threads(vmProc);
  await using limited = await inject(await connect({ peers: peers(), mdns: false, maxOldGenerationSizeMb: 48 }), { hog, add });
  const vm = limited[0]!;
  expect(await vm.hog(1)).toBe(10); // small allocations are fine
  const error = await Promise.resolve(vm.hog(400)).then(() => undefined, (e: unknown) => e);
  expect(ResourceLimitError.isInstance(error)).toBe(true);
  const limit = error as ResourceLimitError;
  expect(limit.code).toBe('TRICKLE_RESOURCE_LIMIT');
  expect(limit.limitMb).toBe(48);
  expect(limit.vm).toEqual(vmInfo(vm));
  expect(limit.message).toContain(`VM '${vmInfo(vm).name}'`);
  expect(limit.message).toMatch(/ran out of memory during hog\(\): .*maxOldGenerationSizeMb: 48 MB/);
  expect(VMLostError.isInstance(error)).toBe(false);
  // The session is gone; the VM and its other sessions are not.
  const after = await Promise.resolve(vm.add(1, 1)).then(() => undefined, (e: unknown) => e);
  expect(VMLostError.isInstance(after)).toBe(true);
  expect(await other[0]!.add(1, 1)).toBe(2);
  await eventually(() => threads(vmProc) === before, 10_000, 50);
  expect(vmProc.child.exitCode).toBeNull();
  expect(vmProc.lines.join('\n')).toMatch(/ran out of memory/);
});

test("a VM's own heap cap (--max-vr-heap-mb) applies to sessions that ask for nothing, and the error names it", async () => {
  await using capped = await startVms(1, ['--max-vr-heap-mb', '40'], { cli: TRICKLE_CLI });
  await using vms = await inject(await connect({ peers: [capped[0]!.address], mdns: false }), { hog });
  const error = await Promise.resolve(vms[0]!.hog(400)).then(() => undefined, (e: unknown) => e);
  expect(ResourceLimitError.isInstance(error)).toBe(true);
  expect((error as ResourceLimitError).limitMb).toBe(40);
  expect((error as Error).message).toMatch(/maxOldGenerationSizeMb: 40 MB/);
  expect(capped[0]!.child.exitCode).toBeNull();
});
