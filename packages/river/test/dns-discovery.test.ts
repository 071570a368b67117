/**
 * Discovery by DNS against a real DNS server: dnsmasq (Debian's package), started by the test
 * inside a private network namespace with only loopback, where the VMs (`river vm` processes,
 * each on its own 127.0.0.x address, all on port 7100) and a discovering initiator also run. The
 * resolver is pointed at that dnsmasq (`--dns-server` / `dnsServer`), never at the host's.
 *
 *  - `--join vms.test:7100`: a name with several A records (a headless Service): the VMs find
 *    each other through it; asking the name returns them all.
 *  - A VM that appears in DNS later (its A record added while the others run) is joined by the
 *    others' periodic resolution, though it was started without --join.
 *  - A bare name is SRV `_river._tcp.NAME`: its targets and ports.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CLI, eventually } from './fixtures/vm-process';
import { createLoopbackNamespace, describeNetns, type NsHost, type NsProcess } from './fixtures/netns';

jest.setTimeout(120_000);

const AGENT = join(__dirname, 'fixtures', 'discover-agent.js');
const DNS = '127.0.0.53';

function dnsmasqPath(): string | undefined {
  for (const p of ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq']) {
    try {
      execFileSync(p, ['--version'], { stdio: 'ignore' });
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

interface Found {
  vms?: Array<{ id: string; name: string; host: string; port: number }>;
  failures?: Array<{ source: string; address: string; name?: string; reason: string }>;
  error?: string;
}

async function discoverIn(ns: NsHost, options: Record<string, unknown>): Promise<Found> {
  const r = await ns.exec(process.execPath, [AGENT, JSON.stringify({ dnsServer: DNS, timeoutMs: 2000, ...options })], { timeoutMs: 40_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Found;
  } catch {
    throw new Error(`discover-agent printed ${JSON.stringify(r.stdout)} (stderr ${r.stderr})`);
  }
}

describeNetns('discovery by DNS (dnsmasq in a private namespace)', () => {
  const dnsmasq = dnsmasqPath();
  let ns: NsHost & AsyncDisposable & { dispose(): Promise<void> };
  let dir: string;
  let hostsDir: string;

  beforeAll(async () => {
    if (!dnsmasq) throw new Error('dnsmasq is not installed (apt-get install -y dnsmasq-base); .ci/run installs it');
    ns = await createLoopbackNamespace();
    dir = mkdtempSync(join(tmpdir(), 'river-dns-'));
    hostsDir = join(dir, 'hosts.d');
    execFileSync('mkdir', ['-p', hostsDir]);
    // The name service of this namespace: authoritative for *.test, nothing forwarded anywhere.
    const server = ns.spawn('dnsmasq', dnsmasq, [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--no-poll',
      '--bind-interfaces',
      `--listen-address=${DNS}`,
      '--port=53',
      '--user=root',
      '--pid-file=',
      '--local=/test/',
      '--local-ttl=0',
      `--hostsdir=${hostsDir}`,
      '--srv-host=_river._tcp.srv.test,a.srv.test,7200',
      '--srv-host=_river._tcp.srv.test,b.srv.test,7201',
      '--log-facility=-',
    ]);
    writeFileSync(join(hostsDir, 'srv'), '127.0.0.21 a.srv.test\n127.0.0.22 b.srv.test\n');
    // Ready once it answers.
    await eventually(async () => {
      const r = await ns.exec('bash', ['-c', `exec 3<>/dev/tcp/${DNS}/53 && echo up`], { timeoutMs: 2000 }).catch(() => undefined);
      return r?.stdout.includes('up') || server.exitStatus !== undefined;
    }, 10_000);
    if (server.exitStatus) throw new Error(`dnsmasq exited: ${server.stderr}`);
  });

  afterAll(async () => {
    await ns?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function startVm(label: string, host: string, port: number, extra: string[] = []): NsProcess {
    const env = { ...process.env, RIVER_MDNS: 'off', RIVER_KEY: '', RIVER_QUIET: '1', RIVER_DNS_SERVER: '' };
    return ns.spawn(label, process.execPath, [CLI, 'vm', '--host', host, '--port', String(port), '--no-advertise', '--name', label, ...extra], env);
  }

  async function listening(vm: NsProcess): Promise<void> {
    await vm.waitForLine((l) => l.includes('listening on'), 20_000);
  }

  test('--join NAME:PORT with several A records: the VMs find each other; a VM that appears in DNS later is joined by the others', async () => {
    // Three VMs behind one name, as a headless Service lists its pods (before they are ready),
    // and an address where nothing listens (a pod not started yet).
    writeFileSync(join(hostsDir, 'vms'), ['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.19'].map((ip) => `${ip} vms.test\n`).join(''));
    const joinFlags = ['--join', 'vms.test:7100', '--dns-server', DNS, '--rejoin-interval', '0.5'];
    const first = startVm('vm1', '127.0.0.11', 7100, joinFlags);
    await listening(first);
    // The first finds nobody else: not an error, it keeps asking.
    await eventually(() => first.stderr.includes('no VM there answered yet; asking again every 0.5 s'), 10_000);
    const others = [startVm('vm2', '127.0.0.12', 7100, joinFlags), startVm('vm3', '127.0.0.13', 7100, joinFlags)];
    await Promise.all(others.map(listening));

    // Through the name: every address it resolves to is asked.
    const viaName = await eventually(async () => {
      const r = await discoverIn(ns, { peers: 'vms.test:7100' });
      return r.vms?.length === 3 ? r : undefined;
    }, 20_000);
    expect(viaName!.vms!.map((v) => v.name).sort()).toEqual(['vm1', 'vm2', 'vm3']);
    expect(viaName!.vms!.map((v) => `${v.host}:${v.port}`).sort()).toEqual(['127.0.0.11:7100', '127.0.0.12:7100', '127.0.0.13:7100']);
    // The address without a VM is reported as one the name led to, not as a named peer that failed.
    expect(viaName!.failures).toEqual([expect.objectContaining({ source: 'dns', address: '127.0.0.19:7100', name: 'vms.test:7100', reason: 'refused' })]);
    // And through one member's address alone: membership knows them all.
    const viaOne = await eventually(async () => {
      const r = await discoverIn(ns, { peers: '127.0.0.11:7100' });
      return r.vms?.length === 3 ? r : undefined;
    }, 20_000);
    expect(viaOne!.vms!.map((v) => v.name).sort()).toEqual(['vm1', 'vm2', 'vm3']);

    // A fourth VM, started on its own (no --join), then added to the name: the others resolve
    // the name again, find an address that is not a member, and join through it.
    const late = startVm('vm4', '127.0.0.14', 7100);
    await listening(late);
    const alone = await discoverIn(ns, { peers: '127.0.0.14:7100' });
    expect(alone.vms!.map((v) => v.name)).toEqual(['vm4']);
    writeFileSync(join(hostsDir, 'vms'), ['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14', '127.0.0.19'].map((ip) => `${ip} vms.test\n`).join(''));
    const merged = await eventually(async () => {
      const r = await discoverIn(ns, { peers: '127.0.0.14:7100', timeoutMs: 1000 });
      return r.vms?.length === 4 ? r : undefined;
    }, 30_000);
    expect(merged!.vms!.map((v) => v.name).sort()).toEqual(['vm1', 'vm2', 'vm3', 'vm4']);

    await Promise.all([first, ...others, late].map((vm) => vm.kill(1000)));
  });

  test('a bare NAME is SRV _river._tcp.NAME: each target on its own port; a name without records finds nothing and says so', async () => {
    const a = startVm('srv-a', '127.0.0.21', 7200);
    const b = startVm('srv-b', '127.0.0.22', 7201);
    await Promise.all([listening(a), listening(b)]);
    const found = await discoverIn(ns, { peers: 'srv.test' });
    expect(found.error).toBeUndefined();
    expect(found.vms!.map((v) => `${v.name} ${v.host}:${v.port}`).sort()).toEqual(['srv-a 127.0.0.21:7200', 'srv-b 127.0.0.22:7201']);
    // The full SRV name works too.
    const full = await discoverIn(ns, { peers: '_river._tcp.srv.test' });
    expect(full.vms!.length).toBe(2);

    // A name with no records at all is a named peer that failed.
    const none = await discoverIn(ns, { peers: 'nothing.test:7100', timeoutMs: 1000 });
    expect(none.vms).toEqual([]);
    expect(none.failures).toEqual([expect.objectContaining({ source: 'peer', address: 'nothing.test:7100', reason: 'unreachable', message: 'no DNS records' })]);
    const bad = await discoverIn(ns, { peers: 'srv.test', dnsServer: 'not-an-ip' });
    expect(bad.error).toMatch(/bad DNS server "not-an-ip"/);

    await Promise.all([a, b].map((vm) => vm.kill(1000)));
  });
});
