/**
 * Backpressure in forkGen (sessions in local worker threads): a slow consumer holds the VMs back
 * — no more than `buffer` results wait for it — and work given as a generator is read lazily, as
 * chunks go out, so it may be endless.
 */
import { connectWorkers, forkGen, forkWork, inject } from '../src';

function square(x: number) {
  return x * x;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a slow consumer: at most `buffer` results wait, and the generator is read only as far as needed', async () => {
  await using vms = await inject(await connectWorkers(2), { square });
  let pulled = 0;
  function* work() {
    for (let i = 0; i < 300; i++) {
      pulled++;
      yield i;
    }
  }
  let done = 0;
  let consumed = 0;
  let aheadDone = 0;
  let aheadPulled = 0;
  let sum = 0;
  for await (const r of forkGen(vms, square, work(), { buffer: 8, onProgress: (p) => (done = p.done) })) {
    sum += r;
    consumed++;
    aheadDone = Math.max(aheadDone, done - consumed);
    aheadPulled = Math.max(aheadPulled, pulled - consumed);
    if (consumed % 10 === 0) await sleep(5); // a slow consumer
  }
  expect(consumed).toBe(300);
  expect(sum).toBe(Array.from({ length: 300 }, (_, i) => i * i).reduce((a, b) => a + b, 0));
  // Results waiting: the buffer, plus what was in flight when it filled (2 per VM).
  expect(aheadDone).toBeLessThanOrEqual(8 + 2 * 2);
  // Items taken from the generator: those, plus the chunks in flight and one looked at ahead.
  expect(aheadPulled).toBeLessThanOrEqual(8 + 2 * 2 * 2 + 1);
});

test('an endless generator: breaking out of the loop stops the run', async () => {
  await using vms = await inject(await connectWorkers(2), { square });
  let pulled = 0;
  function* naturals() {
    for (let i = 0; ; i++) {
      pulled++;
      yield i;
    }
  }
  const seen: number[] = [];
  for await (const r of forkGen(vms, square, naturals(), { ordered: true })) {
    seen.push(r);
    if (seen.length === 50) break;
  }
  expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i * i));
  expect(pulled).toBeLessThan(50 + 64 + 10);
  // forkWork over a Set still knows its total.
  const totals: Array<number | undefined> = [];
  expect(await forkWork(vms, square, new Set([1, 2, 3]), { ordered: true, onProgress: (p) => totals.push(p.total) })).toEqual([1, 4, 9]);
  expect(totals).toEqual([3, 3, 3]);
});
