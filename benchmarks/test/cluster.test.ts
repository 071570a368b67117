// The simulated cluster for real: network namespaces on a private bridge, a CPU quota per
// machine, processes started inside, reached from the initiator's namespace, and everything gone
// afterwards. Needs root (namespaces, cgroups): skipped with a note otherwise, and FAILS instead
// when RIVER_REQUIRE_NETNS=1 (CI).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterSupport, createCluster, listNamespaces, PREFIX, SUBNET, type Cluster } from '../src/wfreq/cluster';
import type { ProbeReport } from '../src/wfreq/cluster/probe-client';
import { defaultOptions, runBenchmark } from '../src/wfreq/main';
import { DIST_WFREQ } from '../src/wfreq/paths';
import { Progress } from '../src/wfreq/progress';

const testVm = join(DIST_WFREQ, 'cluster', 'test-vm.js');
const probeClient = join(DIST_WFREQ, 'cluster', 'probe-client.js');
const fakeInitiator = join(__dirname, 'fixtures', 'fake-initiator.js');

function describeCluster(name: string, fn: () => void): void {
  const support = clusterSupport();
  if (support.ok) {
    describe(name, fn);
    return;
  }
  if (process.env.RIVER_REQUIRE_NETNS === '1') {
    describe(name, () => {
      test('network namespaces and cgroup CPU quotas are available (required: RIVER_REQUIRE_NETNS=1)', () => {
        throw new Error(`cannot build the simulated cluster: ${support.reason}`);
      });
    });
    return;
  }
  // eslint-disable-next-line no-console
  console.warn(`skipping "${name}": ${support.reason}. Set RIVER_REQUIRE_NETNS=1 to make this an error.`);
  describe.skip(name, fn);
}

describeCluster('simulated cluster (network namespaces + cgroup CPU quotas)', () => {
  test('2 VMs in their own namespaces and cgroups, reached from the initiator over the bridge, then torn down', async () => {
    let cluster: Cluster | undefined;
    let namespaces: readonly string[] = [];
    let cgroupDir: string | undefined;
    try {
      cluster = await createCluster({ slots: 2, share: 0.2, mode: 'netns' });
      namespaces = cluster.namespaceNames;
      cgroupDir = cluster.cgroupDir;
      expect(cluster.kind).toBe('netns');
      expect(cluster.quotas).toBe(true);
      expect(namespaces).toHaveLength(4); // switch, initiator, vm1, vm2
      expect(await listNamespaces(PREFIX)).toEqual(expect.arrayContaining([...namespaces]));
      expect(cgroupDir && existsSync(cgroupDir)).toBeTruthy();
      expect(cluster.describe().text).toMatch(/0\.2 of a core each/);

      const vms = await cluster.startVms(2, (s) => ({
        argv: [process.execPath, testVm, '--host', s.host, '--port', String(s.port), '--name', s.name, '--mcast'],
      }));
      expect(vms.map((v) => v.address)).toEqual([`${SUBNET}.11:7100`, `${SUBNET}.12:7100`]);
      // Each VM process sits in its own machine's cgroup.
      for (const vm of vms) {
        const procs = readFileSync(join(cgroupDir!, vm.name, 'cgroup.procs'), 'utf8').split('\n').map(Number);
        expect(procs).toContain(vm.pid);
      }

      const r = await cluster.runInitiator(
        [process.execPath, probeClient, '--targets', vms.map((v) => v.address).join(','), '--mcast-from', cluster.initiatorHost, '--expect', '2', '--burn', '1000000'],
        { timeoutMs: 60_000 },
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as ProbeReport;
      expect(report.pings.map((p) => p.name)).toEqual(['vm1', 'vm2']);
      expect(report.pings.map((p) => p.pid)).toEqual(vms.map((v) => v.pid));
      expect(report.mcast.map((m) => m.name)).toEqual(['vm1', 'vm2']); // multicast crosses the bridge
      expect(report.burns).toHaveLength(2);
      const stats = cluster.cpuStats();
      expect(Object.keys(stats).sort()).toEqual(['init', 'vm1', 'vm2']);
      await cluster.stopVms();
      expect(vms.every((v) => v.process.exitStatus)).toBe(true);
    } finally {
      await cluster?.dispose();
    }
    const left = await listNamespaces(PREFIX);
    for (const ns of namespaces) expect(left).not.toContain(ns);
    expect(cgroupDir && existsSync(cgroupDir)).toBe(false);
  });

  test('the benchmark driver on the cluster, with a stand-in initiator and test VMs: runs checked, report written', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'wfq-cluster-test-'));
    try {
      const r = await runBenchmark(
        defaultOptions({
          quick: true,
          baselinesOnly: false,
          runs: 1,
          shareRuns: 1,
          vms: [1, 2],
          variants: ['paper'],
          cluster: 'netns',
          ballast: true,
          progress: new Progress(process.stderr, false),
          dataRoot: join(scratch, 'data'),
          outDir: join(scratch, 'out'),
          command: 'test',
          vmCommand: (s) => ({ argv: [process.execPath, testVm, '--host', s.host, '--port', String(s.port), '--name', s.name] }),
          initiatorEntry: fakeInitiator,
        }),
      );
      expect(r.runs.map((x) => x.vms)).toEqual([1, 2]);
      expect(r.baselines.plainShare!.runs).toHaveLength(1);
      expect(r.baselines.trickleLocal2Paper!.runs).toHaveLength(1);
      const json = JSON.parse(readFileSync(r.json, 'utf8'));
      expect(json.cluster).toMatchObject({ kind: 'netns', share: 0.2, quotas: true });
      expect(await listNamespaces(`${PREFIX}-${process.pid}`)).toEqual([]);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 120_000);

  test('the benchmark driver on the cluster with real `trickle vm`s found by mDNS on the bridge: both variants checked', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'wfq-cluster-test-'));
    try {
      const r = await runBenchmark(
        defaultOptions({
          quick: true,
          baselinesOnly: false,
          runs: 1,
          shareRuns: 1,
          vms: [1, 2],
          cluster: 'netns',
          progress: new Progress(process.stderr, false),
          dataRoot: join(scratch, 'data'),
          outDir: join(scratch, 'out'),
          command: 'test',
        }),
      );
      expect(r.runs.map((x) => [x.variant, x.vms])).toEqual([
        ['paper', 1],
        ['reduce', 1],
        ['paper', 2],
        ['reduce', 2],
      ]);
      const json = JSON.parse(readFileSync(r.json, 'utf8'));
      expect(json.cluster).toMatchObject({ kind: 'netns', share: 0.2, quotas: true });
      expect(await listNamespaces(`${PREFIX}-${process.pid}`)).toEqual([]);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 150_000);
});
