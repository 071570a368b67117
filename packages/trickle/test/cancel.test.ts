/**
 * withOptions and cancellation with sessions in local worker threads (the same client code as
 * over River): timeouts and signals on calls, reads, constructors and remote objects; the handle
 * after a cancellation; combining and checking options; wrapped handles everywhere a VM handle
 * goes.
 */
import { CancelledError, connectWorkers, fork, inject, join, vmInfo, withOptions } from '../src';

function spin(): never {
  for (;;) {
    // never yields
  }
}

class Stack {
  items: number[] = [];
  push(x: number) {
    this.items.push(x);
    return this.items.length;
  }
  spin(): never {
    for (;;) {
      // never yields
    }
  }
}

function apply(f: (x: number) => number, x: number) {
  return f(x);
}

const rejection = (p: unknown) => Promise.resolve(p).then(() => undefined, (e: unknown) => e);

test('a timeout cancels a runaway call; the session is ended and says why afterwards', async () => {
  await using vms = await inject(await connectWorkers(2), { spin, twice: (x: number) => 2 * x });
  const a = vms[0]!;
  const b = vms[1]!;
  const error = await rejection(withOptions(a, { timeoutMs: 200 }).spin());
  expect(CancelledError.isInstance(error)).toBe(true);
  expect((error as CancelledError).code).toBe('TRICKLE_CANCELLED');
  expect((error as CancelledError).vm).toEqual(vmInfo(a));
  const later = await rejection(a.twice(1));
  expect((later as Error).message).toMatch(/ended when spin\(\) was cancelled \(timed out after 200 ms\)/);
  expect(await b.twice(21)).toBe(42);
});

test('remote objects, reads and constructors through wrapped handles; options combine (shorter timeout, either signal)', async () => {
  await using vms = await inject(await connectWorkers(1), { Stack, apply, answer: 42, twice: (x: number) => 2 * x });
  const vm = vms[0]!;
  const patient = withOptions(vm, { timeoutMs: 10_000 });
  expect(await patient.answer).toBe(42);
  const stack = await new patient.Stack();
  expect(await stack.push(1)).toBe(1);
  expect(await withOptions(stack, { timeoutMs: 5000 }).push(2)).toBe(2);
  // A proxy from a wrapped handle is still this VM's: it can be passed back to it.
  expect(await vm.apply(patient.twice, 3)).toBe(6);
  const hurried = withOptions(withOptions(stack, { timeoutMs: 10_000 }), { timeoutMs: 150 });
  const started = Date.now();
  const error = await rejection(hurried.spin());
  expect(CancelledError.isInstance(error)).toBe(true);
  expect(Date.now() - started).toBeLessThan(5000);
  expect((error as Error).message).toMatch(/Stack#\d+\.spin\(\) .* was cancelled \(timed out after 150 ms\)/);
});

test('a signal cancels forks made on a wrapped handle; an aborted signal sends nothing', async () => {
  await using vms = await inject(await connectWorkers(1), { spin, one: () => 1 });
  const ac = new AbortController();
  const vm = withOptions(vms[0]!, { signal: ac.signal });
  expect(vmInfo(vm)).toEqual(vmInfo(vms[0]!));
  const handles = [fork(vm, spin), fork(vm, 'one')];
  setTimeout(() => ac.abort(), 100);
  const outcomes = await Promise.allSettled(handles.map((h) => join(h)));
  for (const o of outcomes) {
    // `one()` may have answered before the abort; whatever was outstanding was cancelled.
    if (o.status === 'rejected') expect(CancelledError.isInstance(o.reason)).toBe(true);
  }
  expect(outcomes[0]!.status).toBe('rejected');
  await using fresh = await inject(await connectWorkers(1), { one: () => 1 });
  const error = await rejection(withOptions(fresh[0]!, { signal: AbortSignal.abort('no') }).one());
  expect((error as Error).message).toMatch(/was not sent: its signal was already aborted \(no\)/);
  expect(await fresh[0]!.one()).toBe(1);
});

test('bad options are refused', async () => {
  await using vms = await connectWorkers(1);
  expect(() => withOptions(vms[0]!, { timeoutMs: -1 })).toThrow(RangeError);
  expect(() => withOptions(vms[0]!, { signal: 'no' as never })).toThrow(TypeError);
  expect(() => withOptions({} as never, { timeoutMs: 1 })).toThrow(/expected a VM handle/);
});
