// bench:scale: its options (--quick is sizes 8 and 16), its report, and one small real run on a
// simulated cluster (3 VMs, both routes): every figure present, the forkWork results checked and
// complete with a VM killed mid-run, connections per VM bounded. Never timings.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterSupport } from '../src/wfreq/cluster';
import { RESULTS_DIR } from '../src/wfreq/paths';
import { parseScaleArgs, reportText, runScale, type ScaleRow } from '../src/scale/main';

const scratch = mkdtempSync(join(tmpdir(), 'scale-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test('--quick is sizes 8 and 16 on both routes, reported under results/quick; bad options are refused', () => {
  const quick = parseScaleArgs(['--quick']);
  expect(quick.sizes).toEqual([8, 16]);
  expect(quick.routes).toEqual(['mdns', 'seed']);
  expect(quick.out).toBe(join(RESULTS_DIR, 'quick', 'scale.md'));
  expect(quick.command).toBe('pnpm bench:scale -- --quick');
  expect(parseScaleArgs(['--', '--quick']).command).toBe('pnpm bench:scale -- --quick'); // as pnpm passes it
  const full = parseScaleArgs([]);
  expect(full.sizes).toEqual([8, 16, 32, 64]);
  expect(full.out).toBe(join(RESULTS_DIR, 'scale.md'));
  expect(full).toMatchObject({ share: 0.2, chunksPerVm: 50, kills: 4, command: 'pnpm bench:scale' });
  expect(parseScaleArgs(['--no-quotas']).share).toBeNull();
  expect(() => parseScaleArgs(['--sizes', '1'])).toThrow(/--sizes/);
  expect(() => parseScaleArgs(['--routes', 'carrier-pigeon'])).toThrow(/--routes/);
  expect(() => parseScaleArgs(['--nope'])).toThrow(/unknown option --nope/);
});

test('the report: one row per size and route, an error row says what failed', () => {
  const o = parseScaleArgs(['--sizes', '8'], () => undefined);
  const ok: ScaleRow = {
    n: 8, route: 'seed', listeningMs: 1500, idleRssMbMedian: 70, idleRssMbMax: 75, vmConnectionsMedian: 6, vmConnectionsMax: 7,
    trafficBpsMedian: 300, trafficBpsMax: 400, killed: 4,
    result: {
      connectNMs: 900, connectNFound: 8, defaultFound: 8, defaultMs: 1600, injectMs: 300, forkWorkMs: 800, forkWorkCorrect: true,
      killedForkWorkMs: 3000, killedForkWorkCorrect: true, initiatorRssMb: 90, initiatorConnections: 8,
    },
  };
  const failed: ScaleRow = { ...ok, route: 'mdns', result: undefined, error: 'NotEnoughVMsError: wanted 8 | found 7' };
  const text = reportText(o, [ok, failed], 'Simulated cluster: …');
  expect(text).toContain('Command: `pnpm bench:scale -- --sizes 8`');
  expect(text).toContain('| 8 | seed | 1.50 s | 0.90 s | 8 | 1.60 s | 8 | 0.30 s | 0.80 s | yes | 3.00 s (4 killed) | yes | 70, 75 MiB | 6, 7 | 300, 400 | 90 MiB | 8 |');
  expect(text).toContain('| 8 | mdns | 1.50 s | **error**: NotEnoughVMsError: wanted 8 / found 7 |');
});

const support = clusterSupport();
const describeCluster = support.ok ? describe : process.env.RIVER_REQUIRE_NETNS === '1' ? describe : describe.skip;

describeCluster('a small real run (simulated cluster)', () => {
  test('3 VMs by mDNS and through one seed: found, injected, every chunk once, also with a VM killed', async () => {
    if (!support.ok) throw new Error(`the simulated cluster cannot be built here: ${support.reason}`);
    const out = join(scratch, 'scale.md');
    const o = { ...parseScaleArgs(['--sizes', '3', '--idle-window-s', '1', '--chunks-per-vm', '5', '--out', out], () => undefined) };
    const rows = await runScale(o);
    expect(rows.map((r) => `${r.n} ${r.route}`)).toEqual(['3 mdns', '3 seed']);
    for (const r of rows) {
      expect(r.error).toBeUndefined();
      expect(r.result).toMatchObject({ connectNFound: 3, defaultFound: 3, forkWorkCorrect: true, killedForkWorkCorrect: true });
      expect(r.killed).toBe(1); // at most N − 2: the seed and one more stay
      expect(r.idleRssMbMedian).toBeGreaterThan(10);
      expect(r.result!.initiatorConnections).toBeGreaterThanOrEqual(3);
    }
    const seed = rows.find((r) => r.route === 'seed')!;
    expect(seed.vmConnectionsMax).toBeLessThanOrEqual(2); // ring neighbours of 3 VMs
    expect(seed.trafficBpsMedian).toBeGreaterThan(0); // heartbeats and gossip
    expect(readFileSync(out, 'utf8')).toContain('| 3 | seed |');
    expect(existsSync(out.replace(/\.md$/, '.json'))).toBe(true);
  }, 300_000);
});
