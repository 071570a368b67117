import { machineBudget, runLanes, type Lane } from '../src/wfreq/lanes';

/** Lanes that each wait `ms` and record how many machines were busy while they ran. */
function recorder() {
  let busy = 0;
  let peak = 0;
  const log: string[] = [];
  const lane = (name: string, machines: number, ms: number, fail?: Error): Lane => ({
    name,
    machines,
    run: async () => {
      busy += machines;
      peak = Math.max(peak, busy);
      log.push(`start ${name} (busy ${busy})`);
      await new Promise((r) => setTimeout(r, ms));
      busy -= machines;
      log.push(`end ${name}`);
      if (fail) throw fail;
    },
  });
  return { lane, log, peak: () => peak };
}

describe('lanes', () => {
  test('the machine budget keeps a tenth of a core free', () => {
    expect(machineBudget(2, 0.2)).toBe(9);
    expect(machineBudget(2, 0.19)).toBe(10);
    expect(machineBudget(2, 0.22)).toBe(8);
    expect(machineBudget(1, 2)).toBe(1);
  });

  test('side by side within the budget, first fit in order; a lane needing all machines runs alone', async () => {
    const r = recorder();
    await runLanes([r.lane('1a', 2, 40), r.lane('1b', 2, 40), r.lane('2a', 3, 20), r.lane('4a', 5, 20), r.lane('8a', 9, 10)], { budget: 9, concurrent: true });
    expect(r.peak()).toBeLessThanOrEqual(9);
    // 1a, 1b, 2a start at once (7 machines); 4a (5) must wait for room.
    expect(r.log.slice(0, 3)).toEqual(['start 1a (busy 2)', 'start 1b (busy 4)', 'start 2a (busy 7)']);
    const start8 = r.log.indexOf('start 8a (busy 9)');
    expect(start8).toBeGreaterThan(0);
    // Everything else ended before the big lane started.
    for (const name of ['1a', '1b', '2a', '4a']) expect(r.log.indexOf(`end ${name}`)).toBeLessThan(start8);
  });

  test('side by side, the longest lanes start first; serially, the order given', async () => {
    const side = recorder();
    const lanes = (r: ReturnType<typeof recorder>) => [
      { ...r.lane('8', 9, 5), length: 0.25 },
      { ...r.lane('plain', 1, 5), length: 1 },
      { ...r.lane('2', 3, 5), length: 1 },
      { ...r.lane('1', 2, 5), length: 2 },
    ];
    await runLanes(lanes(side), { budget: 9, concurrent: true });
    expect(side.log.filter((l) => l.startsWith('start')).map((l) => l.split(' ')[1])).toEqual(['1', 'plain', '2', '8']);
    const serial = recorder();
    await runLanes(lanes(serial), { budget: 9, concurrent: false });
    expect(serial.log.filter((l) => l.startsWith('start')).map((l) => l.split(' ')[1])).toEqual(['8', 'plain', '2', '1']);
  });

  test('a lane larger than the budget still runs, alone', async () => {
    const r = recorder();
    await runLanes([r.lane('small', 1, 10), r.lane('huge', 12, 10), r.lane('small2', 1, 10)], { budget: 9, concurrent: true });
    const i = r.log.indexOf('start huge (busy 12)');
    expect(i).toBeGreaterThanOrEqual(0);
    expect(r.log[i + 1]).toBe('end huge');
  });

  test('serial: one lane at a time, in order', async () => {
    const r = recorder();
    await runLanes([r.lane('a', 1, 5), r.lane('b', 1, 5), r.lane('c', 2, 5)], { budget: 9, concurrent: false });
    expect(r.log).toEqual(['start a (busy 1)', 'end a', 'start b (busy 1)', 'end b', 'start c (busy 2)', 'end c']);
    expect(r.peak()).toBe(2);
  });

  test('the first failure rejects, and no lane starts after it', async () => {
    const r = recorder();
    const boom = new Error('boom');
    await expect(runLanes([r.lane('a', 5, 5, boom), r.lane('b', 5, 5)], { budget: 9, concurrent: true })).rejects.toBe(boom);
    await new Promise((res) => setTimeout(res, 30));
    expect(r.log).toEqual(['start a (busy 5)', 'end a']);
  });

  test('no lanes: resolves', async () => {
    await expect(runLanes([], { budget: 1, concurrent: true })).resolves.toBeUndefined();
  });
});
