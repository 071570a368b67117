// The wfreq pipeline pieces that need no Trickle: data generation, reference count, baselines,
// report writing, and the driver end to end (baselines only, and with a stand-in for the Trickle
// initiator that farms chunks out to test VMs over TCP). Correctness and shape, never timings.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AliasTable, Rng } from '../src/wfreq/prng';
import { ensureDataset, generateDataset, QUICK_SPEC, listTextFiles, type DatasetSpec } from '../src/wfreq/data';
import { computeReference, summarize, verify, verifySummary, WordCountMismatchError } from '../src/wfreq/reference';
import { countText, wordcount, mergecounts, chunk } from '../src/wfreq/wordcount';
import { piscinaCount, plainCount } from '../src/wfreq/baselines';
import { computeResults, PAPER_TABLE, writeReport, type ReportInput } from '../src/wfreq/report';
import { defaultOptions, parseBenchArgs, runBenchmark } from '../src/wfreq/main';
import { Progress } from '../src/wfreq/progress';
import { machineInfo } from '../src/wfreq/machine';
import { DIST_WFREQ } from '../src/wfreq/paths';
import { NotWiredError, vmCommand, trickleCli } from '../src/wfreq/variants';
import { createCluster } from '../src/wfreq/cluster';
import { validateKey } from '@river/engine';

const scratch = mkdtempSync(join(tmpdir(), 'wfq-test-'));
const dataRoot = join(scratch, 'data');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const silent = new Progress(process.stderr, false);
const testVm = join(DIST_WFREQ, 'cluster', 'test-vm.js');
const fakeInitiator = join(__dirname, 'fixtures', 'fake-initiator.js');

describe('seeded generator pieces', () => {
  test('Rng is deterministic per seed and uniform enough', () => {
    const a = new Rng('x');
    const b = new Rng('x');
    const c = new Rng('y');
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c.next())).not.toEqual(xs);
    const r = new Rng(1);
    let sum = 0;
    for (let i = 0; i < 100_000; i++) sum += r.float();
    expect(sum / 100_000).toBeGreaterThan(0.49);
    expect(sum / 100_000).toBeLessThan(0.51);
  });

  test('AliasTable samples in proportion to the weights', () => {
    const t = new AliasTable([1, 2, 3, 4]);
    const rng = new Rng('alias');
    const n = 200_000;
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) counts[t.sample(rng)]!++;
    counts.forEach((c, i) => expect(Math.abs(c / n - (i + 1) / 10)).toBeLessThan(0.01));
  });
});

describe('data set', () => {
  const tiny = (seed: string): DatasetSpec => ({ name: `tiny-${seed}`, files: 60, targetBytes: 60 * 4500, seed });

  test('is deterministic from the seed', async () => {
    const m1 = await generateDataset(tiny('s1'), join(scratch, 'a'));
    const m2 = await generateDataset(tiny('s1'), join(scratch, 'b'));
    const m3 = await generateDataset({ ...tiny('s1'), seed: 's2' }, join(scratch, 'c'));
    expect(m2.checksum).toBe(m1.checksum);
    expect(m2.expected).toEqual(m1.expected);
    expect(m3.checksum).not.toBe(m1.checksum);
    expect(readdirSync(join(scratch, 'a', 'files'))).toHaveLength(60);
  });

  test('quick data set: exact file count, paper-like sizes and lines, cached with a manifest, rebuilt when damaged', async () => {
    const progress: number[] = [];
    const ds = await ensureDataset(QUICK_SPEC, { root: dataRoot, onProgress: (p) => progress.push(p.files) });
    expect(ds.generated).toBe(true);
    expect(progress.at(-1)).toBe(QUICK_SPEC.files);
    expect(ds.files).toHaveLength(2_000);
    const m = ds.manifest!;
    expect(m.files).toBe(2_000);
    expect(Math.abs(m.bytes - QUICK_SPEC.targetBytes) / QUICK_SPEC.targetBytes).toBeLessThan(0.01);
    expect(m.bytes / m.files).toBeGreaterThan(4_300);
    expect(m.bytes / m.files).toBeLessThan(4_700);
    expect(m.minFileBytes).toBeLessThan(m.maxFileBytes);
    expect(m.maxFileBytes).toBeGreaterThan(2 * (m.bytes / m.files)); // sizes vary
    expect(m.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(m.wordList.package).toBe('an-array-of-english-words');
    const manifestOnDisk = JSON.parse(readFileSync(join(ds.dir, 'manifest.json'), 'utf8'));
    expect(manifestOnDisk).toMatchObject({ files: 2_000, bytes: m.bytes, checksum: m.checksum, spec: { seed: QUICK_SPEC.seed } });

    const text = readFileSync(ds.files[0]!, 'utf8');
    const lines = text.split('\n').filter(Boolean);
    expect(lines.every((l) => l.length <= 120)).toBe(true);
    expect(text).toMatch(/^[a-z]+( [a-z]+)*(\n[a-z]+( [a-z]+)*)*\n$/);

    const again = await ensureDataset(QUICK_SPEC, { root: dataRoot });
    expect(again.generated).toBe(false);

    unlinkSync(ds.files[7]!);
    let why = '';
    const rebuilt = await ensureDataset(QUICK_SPEC, { root: dataRoot, onGenerate: (r) => (why = r) });
    expect(rebuilt.generated).toBe(true);
    expect(why).toMatch(/files on disk|missing/);
    expect(rebuilt.manifest!.checksum).toBe(m.checksum);
  });

  test('--data DIR lists any directory of text, recursively and sorted', () => {
    const dir = join(scratch, 'own');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'b.txt'), 'x');
    writeFileSync(join(dir, 'sub', 'a.txt'), 'y');
    writeFileSync(join(dir, '.hidden'), 'z');
    const ds = listTextFiles(dir);
    expect(ds.files).toEqual([join(dir, 'b.txt'), join(dir, 'sub', 'a.txt')]);
    expect(ds.bytes).toBe(2);
  });
});

describe('reference count', () => {
  test('tokenises like the paper program: split on whitespace, no empty tokens', () => {
    const m = countText('  the cat\tthe\n\nhat  \r\nthe\u00a0end\n', new Map());
    expect([...m.entries()].sort()).toEqual([
      ['cat', 1],
      ['end', 1],
      ['hat', 1],
      ['the', 3],
    ]);
  });

  test('summary is order independent and sensitive to every pair', () => {
    const a = new Map([
      ['x', 1],
      ['y', 2],
      ['z', 3],
    ]);
    const b = new Map([
      ['z', 3],
      ['x', 1],
      ['y', 2],
    ]);
    expect(summarize(a)).toEqual(summarize(b));
    expect(summarize(a)).toMatchObject({ total: 6, unique: 3 });
    expect(summarize(new Map([...a, ['y', 3]])).checksum).not.toBe(summarize(a).checksum);
    expect(summarize(new Map([...a, ['w', 2]])).checksum).not.toBe(summarize(new Map([...a, ['y', 4]])).checksum);
  });

  test('matches what the generator wrote, and verify() fails loudly on any difference', async () => {
    const ds = await ensureDataset(QUICK_SPEC, { root: dataRoot });
    const ref = computeReference(ds.files);
    expect({ total: ref.total, unique: ref.unique, checksum: ref.checksum }).toEqual(ds.manifest!.expected);
    expect(ref.files).toBe(2_000);

    // Chunked counting + merge gives the same counts.
    const merged = mergecounts(chunk(ds.files, 100).map((c) => wordcount(c)));
    expect(verify(merged, ref)).toEqual({ total: ref.total, unique: ref.unique, checksum: ref.checksum });

    const wrong = new Map(merged);
    const [word, count] = wrong.entries().next().value as [string, number];
    wrong.set(word, count + 1);
    expect(() => verify(wrong, ref)).toThrow(WordCountMismatchError);
    expect(() => verify(wrong, ref)).toThrow(new RegExp(`total tokens .*${JSON.stringify(word)}`));
    const missing = new Map(merged);
    missing.delete(word);
    expect(() => verify(missing, ref, 'some run')).toThrow(/MISMATCH in some run: total tokens .* unique tokens/);
    expect(() => verifySummary({ ...ref, checksum: '0000000000000000' }, ref)).toThrow(/checksum/);
    expect(() => verifySummary(undefined as never, ref)).toThrow(/no valid summary/);
  });
});

describe('baselines', () => {
  test('plain count and Piscina (2 workers, chunks of 100) agree with the reference', async () => {
    const ds = await ensureDataset(QUICK_SPEC, { root: dataRoot });
    const ref = computeReference(ds.files);
    const plain = plainCount(ds.files);
    verify(plain.counts, ref);
    expect(plain.seconds).toBeGreaterThan(0);
    const pool = await piscinaCount(ds.files, { workers: 2, chunksize: 100 });
    verify(pool.counts, ref);
    expect(pool.seconds).toBeGreaterThan(0);
  });
});

function reportInput(overrides: Partial<ReportInput> = {}): ReportInput {
  const runs: ReportInput['runs'] = [];
  for (const [variant, base] of [
    ['paper', 40],
    ['reduce', 30],
  ] as const) {
    for (const vms of [1, 2, 4, 8]) runs.push({ variant, vms, seconds: [base / vms + 1, base / vms + 0.5, base / vms + 2] });
  }
  return {
    runs,
    baselines: {
      plain: { label: 'plain', description: 'one process', runs: [8, 9, 10] },
      piscina2: { label: 'Piscina', description: '2 workers', runs: [5, 4, 6] },
      plainShare: { label: 'plain on a share', description: 'one machine', runs: [41] },
      trickleLocal2Paper: { label: 'Trickle 2 local', description: 'local', runs: [], skipped: 'not wired' },
    },
    machine: machineInfo(),
    commit: { commit: 'abc123', dirty: false },
    date: '2026-01-01T00:00:00.000Z',
    command: 'pnpm bench',
    cluster: { kind: 'netns', share: 0.2, quotas: true, text: 'Simulated cluster: test' },
    data: { source: 'generated', dir: 'data/wfreq-full', files: 63_362, bytes: 285_000_000, seed: 's', checksum: 'sha256:00' },
    reference: { total: 100, unique: 10, checksum: '0123456789abcdef', seconds: 9.5 },
    chunksize: 100,
    runsPerPoint: 3,
    quick: false,
    notes: ['a note'],
    ...overrides,
  };
}

describe('report', () => {
  test('computeResults: medians, speedup against the same variant on 1 VM, efficiency', () => {
    const rows = computeResults(reportInput().runs);
    expect(rows).toHaveLength(8);
    const p1 = rows.find((r) => r.variant === 'paper' && r.vms === 1)!;
    const p8 = rows.find((r) => r.variant === 'paper' && r.vms === 8)!;
    expect(p1).toMatchObject({ seconds: 41, speedup: 1, efficiency: 1 });
    expect(p8.seconds).toBe(6);
    expect(p8.speedup).toBeCloseTo(41 / 6, 2);
    expect(p8.efficiency).toBeCloseTo(41 / 6 / 8, 3);
    expect(computeResults([{ variant: 'paper', vms: 2, seconds: [3] }])[0]).toMatchObject({ speedup: null, efficiency: null });
  });

  test('writes wfreq.md, wfreq.json and the SVG chart in the expected shape', () => {
    const out = join(scratch, 'report');
    const files = writeReport(reportInput({ findings: '### Where the time goes\nThe merge.' }), out);

    const json = JSON.parse(readFileSync(files.json, 'utf8'));
    for (const key of ['results', 'baselines', 'commit', 'date', 'command', 'cluster', 'machine', 'reference', 'paper']) expect(json).toHaveProperty(key);
    expect(json.commit).toBe('abc123');
    expect(json.command).toBe('pnpm bench');
    expect(json.results).toHaveLength(8);
    for (const r of json.results) {
      expect(Object.keys(r)).toEqual(expect.arrayContaining(['variant', 'vms', 'seconds', 'speedup', 'efficiency']));
      expect(typeof r.seconds).toBe('number');
    }
    expect(json.baselines.plain).toMatchObject({ seconds: 9, runs: [8, 9, 10] });
    expect(json.baselines.piscina2.seconds).toBe(5);
    expect(json.baselines.trickleLocal2Paper).toMatchObject({ seconds: null, skipped: 'not wired' });
    expect(json.paper.map((p: { seconds: number }) => p.seconds)).toEqual([...PAPER_TABLE.seconds]);
    expect(json.aims.find((a: { aim: string }) => a.aim.includes('`paper` on 8 VMs'))).toMatchObject({ met: true });

    const md = readFileSync(files.md, 'utf8');
    expect(md).toContain('| | VMs | 1 | 2 | 4 | 8 |');
    expect(md).toMatch(/\| \*\*Paper\*\* .*\| Time \(sec\) \| 72\.3 \| 43\.5 \| 25\.8 \| 19\.3 \|/);
    expect(md).toMatch(/\| \| Speedup \| 1\.00 \| 1\.66 \| 2\.80 \| 3\.75 \|/);
    expect(md).toMatch(/\| \*\*Ours, `paper`\*\* \| Time \(sec\) \| 41\.00 \| 21\.00 \| 11\.00 \| 6\.00 \|/);
    expect(md).toMatch(/\| \*\*Ours, `reduce`\*\* \| Time \(sec\) \|/);
    expect(md.match(/\| \| Efficiency \|/g)).toHaveLength(3);
    for (const s of ['## Baselines', '## Aims', '## Setup', '## Findings', 'Commit: `abc123`', 'Command: `pnpm bench`', 'Where the time goes', 'a note', '0.2 core per VM']) {
      expect(md).toContain(s);
    }

    const svg = readFileSync(files.svg, 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline class="series"/g)).toHaveLength(3); // paper, ours paper, ours reduce
    expect(svg).toContain('class="ideal"');
    expect(svg.match(/<circle /g)).toHaveLength(12);
    for (const name of ['paper (Table 1)', 'ours, paper', 'ours, reduce', 'ideal (linear)']) expect(svg).toContain(name);
  });
});

describe('driver', () => {
  test('parses the bench flags', () => {
    const o = parseBenchArgs(['--', '--quick', '--runs', '5', '--vms', '1,2', '--variants=reduce', '--share', '0.25', '--no-shape', '--data', '/tmp/x'], 'cmd');
    expect(o).toMatchObject({ quick: true, runs: 5, vms: [1, 2], variants: ['reduce'], share: 0.25, shape: false, dataDir: '/tmp/x', command: 'cmd' });
    expect(() => parseBenchArgs(['--bogus'], 'cmd')).toThrow(/unknown option/);
    expect(() => parseBenchArgs(['--vms', '0'], 'cmd')).toThrow(/--vms/);
    expect(() => parseBenchArgs(['--variants', 'fast'], 'cmd')).toThrow(/--variants/);
  });

  test('without --baselines-only it says at once when the Trickle runs are not wired', async () => {
    const notWired = () => {
      throw new NotWiredError();
    };
    await expect(
      runBenchmark(defaultOptions({ quick: true, baselinesOnly: false, progress: silent, dataRoot, outDir: join(scratch, 'nw'), vmCommand: notWired })),
    ).rejects.toThrow(/Trickle runs not wired yet/);
    expect(existsSync(join(scratch, 'nw'))).toBe(false);
  });

  test('quick, baselines only: data, reference, baselines and a report', async () => {
    const outDir = join(scratch, 'bench-baselines');
    const r = await runBenchmark(
      defaultOptions({ quick: true, baselinesOnly: true, runs: 1, cluster: 'processes', progress: silent, dataRoot, outDir, command: 'test' }),
    );
    expect(r.runs).toEqual([]);
    expect(r.baselines.plain!.runs).toHaveLength(1);
    expect(r.baselines.piscina2!.runs).toHaveLength(1);
    expect(r.baselines.plainShare!.skipped).toMatch(/no CPU quotas/);
    const json = JSON.parse(readFileSync(r.json, 'utf8'));
    expect(json.results).toEqual([]);
    expect(json.cluster.kind).toBe('processes');
    expect(readFileSync(r.md, 'utf8')).toMatch(/FALLBACK: no simulated cluster/);
  });

  test('quick, with a stand-in initiator farming chunks out to test VMs: every run checked, report complete', async () => {
    const outDir = join(scratch, 'bench-fake');
    const r = await runBenchmark(
      defaultOptions({
        quick: true,
        baselinesOnly: false,
        runs: 1,
        vms: [1, 2],
        cluster: 'processes',
        progress: silent,
        dataRoot,
        outDir,
        command: 'test',
        vmCommand: (s) => ({ argv: [process.execPath, testVm, '--host', s.host, '--port', '0', '--name', s.name] }),
        initiatorEntry: fakeInitiator,
      }),
    );
    expect(r.runs.map((x) => [x.variant, x.vms, x.seconds.length])).toEqual([
      ['paper', 1, 1],
      ['reduce', 1, 1],
      ['paper', 2, 1],
      ['reduce', 2, 1],
    ]);
    expect(r.baselines.trickleLocal2Paper!.runs).toHaveLength(1);
    const json = JSON.parse(readFileSync(r.json, 'utf8'));
    expect(json.results).toHaveLength(4);
    expect(json.results.find((x: { vms: number }) => x.vms === 1).speedup).toBe(1);
  });

  test('the Trickle runs are wired: a real `trickle vm` per slot, given a cluster key River accepts', async () => {
    expect(existsSync(trickleCli())).toBe(true);
    const netns = vmCommand({ index: 0, name: 'vm1', host: '198.18.100.11', port: 7100, ns: 'wfq-x-vm1' });
    expect(netns.argv.slice(1)).toEqual([trickleCli(), 'vm', '--host', '198.18.100.11', '--port', '7100', '--slots', '4', '--name', 'vm1']);
    // On loopback (processes fallback) any free port: nothing else on this host can hold it.
    expect(vmCommand({ index: 1, name: 'vm2', host: '127.0.0.1', port: 7101 }).argv).toContain('0');
    const cluster = await createCluster({ slots: 1, mode: 'processes' });
    try {
      expect(validateKey(cluster.env.TRICKLE_KEY!, 'TRICKLE_KEY')).toBe(cluster.key);
      expect(cluster.env.RIVER_KEY).toBe(cluster.key);
      const [vm] = await cluster.startVms(1, vmCommand);
      expect(vm!.firstLine).toMatch(/^trickle vm listening on 127\.0\.0\.1:\d+ .*cluster key set/);
      expect(vm!.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(vm!.address).not.toBe('127.0.0.1:0');
    } finally {
      await cluster.dispose();
    }
  });

  test('quick, with real Trickle (paper and reduce on 1 and 2 VMs, and 2 local VMs): every run checked, report complete', async () => {
    const outDir = join(scratch, 'bench-trickle');
    const r = await runBenchmark(
      defaultOptions({ quick: true, baselinesOnly: false, runs: 1, vms: [1, 2], cluster: 'processes', progress: silent, dataRoot, outDir, command: 'test' }),
    );
    expect(r.runs.map((x) => [x.variant, x.vms, x.seconds.length])).toEqual([
      ['paper', 1, 1],
      ['reduce', 1, 1],
      ['paper', 2, 1],
      ['reduce', 2, 1],
    ]);
    expect(r.baselines.trickleLocal2Paper!.runs).toHaveLength(1);
    expect(r.baselines.trickleLocal2Reduce!.runs).toHaveLength(1);
    const json = JSON.parse(readFileSync(r.json, 'utf8'));
    expect(json.results).toHaveLength(4);
    for (const x of json.results) expect(x).toMatchObject({ variant: expect.any(String), vms: expect.any(Number), seconds: expect.any(Number), speedup: expect.any(Number) });
    expect(readFileSync(r.md, 'utf8')).toMatch(/reduce/);
  }, 90_000);

  test('a run whose counts differ from the reference fails the benchmark', async () => {
    process.env.FAKE_WFREQ_CORRUPT = '1';
    try {
      await expect(
        runBenchmark(
          defaultOptions({
            quick: true,
            baselinesOnly: false,
            runs: 1,
            vms: [1],
            variants: ['paper'],
            cluster: 'processes',
            progress: silent,
            dataRoot,
            outDir: join(scratch, 'bench-corrupt'),
            vmCommand: (s) => ({ argv: [process.execPath, testVm, '--host', s.host, '--port', '0', '--name', s.name] }),
            initiatorEntry: fakeInitiator,
          }),
        ),
      ).rejects.toThrow(/WORD COUNT MISMATCH/);
      expect(existsSync(join(scratch, 'bench-corrupt', 'wfreq.json'))).toBe(false);
    } finally {
      delete process.env.FAKE_WFREQ_CORRUPT;
    }
  });
});
