/**
 * mDNS discovery. The first part tests the record logic as pure functions. The second runs real
 * mDNS between processes in private network namespaces (test/fixtures/netns.ts): this test
 * process never opens a multicast socket itself, and nothing is ever sent on the host's
 * interfaces. Each actor is `test/fixtures/mdns-agent.js`, which loads the package's build
 * (dist/discovery/mdns.js).
 */
import { randomUUID } from 'node:crypto';
import { Service } from 'bonjour-service';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { MdnsInterfaceError } from '../src/errors/mdns-interface-error';
import { inSubnet, mdnsInterfaceFromEnv, onInterface, resolveMdnsInterface } from '../src/discovery/mdns-interface';
import {
  advertisedAddresses,
  assertAdvertisable,
  chooseHost,
  encodeTxt,
  instanceName,
  parseTxt,
  pinAddressRecords,
  UNKNOWN_VERSION,
  vmInfoFromService,
} from '../src/discovery/mdns-records';
import type { VMInfo } from '../src/vm-info';
import {
  createLab,
  createLoopbackNamespace,
  describeNetns,
  linkStats,
  type Lab,
  type NsHost,
  type NsProcess,
} from './fixtures/netns';

const vm = (over: Partial<VMInfo> = {}): VMInfo => ({
  id: randomUUID(),
  name: 'worker-1',
  host: '0.0.0.0',
  port: 7000,
  slots: 4,
  version: '0.1.0',
  ...over,
});

// ---------------------------------------------------------------------------------------------
describe('mDNS records', () => {
  test('instance names are a DNS label derived from the id', () => {
    const id = '0b7e2b0e-5c1a-4c55-9f4e-2f1d6a1c9e11';
    expect(instanceName(id)).toBe(`river-${id}`);
    expect(instanceName('a.b c')).toBe('river-a-b-c');
    expect(instanceName('x'.repeat(100))).toHaveLength(63);
  });

  test('encodeTxt publishes id, slots, version, name; strips controls and fits 255 bytes', () => {
    const info = vm({ name: `line\nbreak${'é'.repeat(200)}`, version: '1.2.3' });
    const txt = encodeTxt(info);
    expect(Object.keys(txt).sort()).toEqual(['id', 'name', 'slots', 'version']);
    expect(txt).toMatchObject({ id: info.id, slots: '4', version: '1.2.3' });
    expect(txt.name).toMatch(/^line break/);
    expect(Buffer.byteLength(`name=${txt.name}`)).toBeLessThanOrEqual(255);
    expect(txt.name).not.toContain('\uFFFD');
  });

  test('parseTxt: first occurrence wins, keys are case-insensitive, junk is skipped', () => {
    const parsed = parseTxt([
      Buffer.from('ID=first'),
      Buffer.from('id=second'),
      Buffer.from('flag'),
      Buffer.from('=nokey'),
      Buffer.alloc(0),
      Buffer.alloc(300, 0x61),
      42,
      null,
      { id: 'object' },
      'slots=3',
      Buffer.from('name=a=b'),
    ]);
    expect({ ...parsed }).toEqual({ id: 'first', flag: '', slots: '3', name: 'a=b' });
  });

  test.each([undefined, null, 7, 'id=x', {}, Buffer.from('id=solo-id-1')])('parseTxt(%p) never throws', (raw) => {
    expect(() => parseTxt(raw)).not.toThrow();
  });

  test('chooseHost prefers the sender address when advertised, then the pinned subnet, then non-loopback', () => {
    const referer = { address: '198.18.0.5', family: 'IPv4', port: 5353, size: 100 };
    expect(chooseHost(['10.0.0.5', '198.18.0.5'], referer)).toBe('198.18.0.5');
    expect(chooseHost(['10.0.0.5', '198.18.1.9'], referer, { networks: [{ address: '198.18.1.2', netmask: '255.255.255.0' }] })).toBe(
      '198.18.1.9',
    );
    expect(chooseHost(['127.0.0.1', '10.0.0.5'], referer)).toBe('10.0.0.5');
    expect(chooseHost(['127.0.0.1'], referer)).toBe('198.18.0.5');
    expect(chooseHost(['127.0.0.1'], { address: '127.0.0.1' })).toBe('127.0.0.1');
    expect(chooseHost(['fe80::1', 'nonsense', 3], referer)).toBe('198.18.0.5');
    expect(chooseHost([], { address: 'fe80::1' })).toBeUndefined();
    expect(chooseHost(undefined, undefined)).toBeUndefined();
  });

  const good = {
    port: 7001,
    addresses: ['198.18.0.3'],
    referer: { address: '198.18.0.3' },
    rawTxt: [Buffer.from('id=vm-one-0001'), Buffer.from('slots=8'), Buffer.from('version=0.1.0'), Buffer.from('name=one')],
  };

  test('vmInfoFromService builds a VMInfo', () => {
    expect(vmInfoFromService(good)).toEqual({
      id: 'vm-one-0001',
      name: 'one',
      host: '198.18.0.3',
      port: 7001,
      slots: 8,
      version: '0.1.0',
    });
  });

  test('vmInfoFromService fills defaults for bad slots, missing version and name', () => {
    expect(vmInfoFromService({ ...good, rawTxt: [Buffer.from('id=vm-two-0002'), Buffer.from('slots=-3')] })).toEqual({
      id: 'vm-two-0002',
      name: '198.18.0.3:7001',
      host: '198.18.0.3',
      port: 7001,
      slots: 1,
      version: UNKNOWN_VERSION,
    });
  });

  test.each([
    ['no TXT', { ...good, rawTxt: undefined }],
    ['no id', { ...good, rawTxt: [Buffer.from('slots=2')] }],
    ['id with spaces', { ...good, rawTxt: [Buffer.from('id=a b c')] }],
    ['port 0', { ...good, port: 0 }],
    ['port 70000', { ...good, port: 70000 }],
    ['port as string', { ...good, port: '7001' }],
    ['no usable address', { ...good, addresses: ['fe80::1'], referer: { address: 'fe80::1' } }],
  ])('vmInfoFromService ignores a service with %s', (_label, service) => {
    expect(vmInfoFromService(service as never)).toBeUndefined();
  });

  test('vmInfoFromService never throws on junk (fuzz, bounded)', () => {
    const junk = [undefined, null, 0, -1, NaN, '', 'x', [], {}, [null], [1, 2], Buffer.alloc(3), { address: 5 }];
    let seed = 7;
    const pick = () => junk[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % junk.length];
    for (let i = 0; i < 500; i++) {
      const service = { port: pick(), addresses: pick(), referer: pick(), rawTxt: pick() };
      expect(() => vmInfoFromService(service)).not.toThrow();
    }
    expect(vmInfoFromService(null as never)).toBeUndefined();
  });

  test('advertisedAddresses: the VM host if on the pinned interface, else that interface; unpinned the VM host or all', () => {
    const table = {
      lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
      eth0: [
        { address: '10.0.0.2', family: 'IPv4', internal: false },
        { address: 'fe80::1', family: 'IPv6', internal: false },
      ],
      br0: [{ address: '198.18.0.2', family: 'IPv4', internal: false }],
    };
    expect(advertisedAddresses('198.18.0.2', undefined, table)).toEqual(['198.18.0.2']);
    expect(advertisedAddresses('0.0.0.0', { addresses: ['198.18.0.2'] }, table)).toEqual(['198.18.0.2']);
    expect(advertisedAddresses('198.18.0.2', { addresses: ['198.18.0.2', '198.18.9.2'] }, table)).toEqual(['198.18.0.2']);
    // Bound to all addresses but reporting another interface's address: publish the pinned link's.
    expect(advertisedAddresses('10.0.0.2', { addresses: ['198.18.0.2'] }, table)).toEqual(['198.18.0.2']);
    expect(advertisedAddresses('myhost', undefined, table)).toEqual(['10.0.0.2', '198.18.0.2']);
    expect(advertisedAddresses(undefined, undefined, { lo: table.lo })).toEqual(['127.0.0.1']);
  });

  test('pinAddressRecords replaces bonjour-service\'s every-interface A/AAAA records', () => {
    // A real bonjour-service Service (constructing one opens no socket).
    const noop = () => undefined;
    const service = new Service(
      { name: 'river-x', type: 'river', port: 7000, host: 'river-x.local', txt: { id: 'x' } },
      noop,
      noop,
    );
    pinAddressRecords(service, ['198.18.0.7']);
    const records = service.records();
    expect(records.filter((r) => r.type === 'A' || r.type === 'AAAA')).toEqual([
      { name: 'river-x.local', type: 'A', ttl: 120, data: '198.18.0.7' },
    ]);
    expect(records.map((r) => r.type).sort()).toEqual(['A', 'PTR', 'PTR', 'SRV', 'TXT']);
    expect(records.find((r) => r.type === 'SRV')).toMatchObject({
      name: 'river-x._river._tcp.local',
      data: { port: 7000, target: 'river-x.local' },
    });
  });

  test('assertAdvertisable rejects what cannot be advertised', () => {
    expect(() => assertAdvertisable(vm())).not.toThrow();
    expect(() => assertAdvertisable(vm({ id: '' }))).toThrow(TypeError);
    expect(() => assertAdvertisable(vm({ port: 0 }))).toThrow(RangeError);
    expect(() => assertAdvertisable(vm({ slots: 0 }))).toThrow(RangeError);
    expect(() => assertAdvertisable(vm({ slots: 1.5 }))).toThrow(RangeError);
  });
});

describe('mDNS interface selection', () => {
  const table = {
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    br0: [
      { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: 'aa:bb:cc:dd:ee:ff', internal: false, cidr: 'fe80::1/64', scopeid: 3 },
      { address: '198.18.0.2', netmask: '255.255.255.0', family: 'IPv4', mac: 'aa:bb:cc:dd:ee:ff', internal: false, cidr: '198.18.0.2/24' },
      { address: '198.18.9.2', netmask: '255.255.255.0', family: 'IPv4', mac: 'aa:bb:cc:dd:ee:ff', internal: false, cidr: '198.18.9.2/24' },
    ],
    v6only: [{ address: 'fe80::2', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: 'aa:bb:cc:dd:ee:00', internal: false, cidr: 'fe80::2/64', scopeid: 4 }],
  } as unknown as NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>;

  test('by name and by address', () => {
    expect(resolveMdnsInterface('br0', table)).toEqual({
      name: 'br0',
      address: '198.18.0.2',
      netmask: '255.255.255.0',
      addresses: ['198.18.0.2', '198.18.9.2'],
      networks: [
        { address: '198.18.0.2', netmask: '255.255.255.0' },
        { address: '198.18.9.2', netmask: '255.255.255.0' },
      ],
    });
    expect(resolveMdnsInterface(' 198.18.9.2 ', table)).toMatchObject({ name: 'br0', address: '198.18.9.2' });
    expect(resolveMdnsInterface('lo', table)).toMatchObject({ name: 'lo', address: '127.0.0.1', netmask: '255.0.0.0' });
  });

  test.each([
    ['eth9', /no such interface/],
    ['10.1.2.3', /no local interface has this address/],
    ['v6only', /no IPv4 address/],
    ['', /empty/],
  ])('%j is an MdnsInterfaceError', (spec, reason) => {
    let error: unknown;
    try {
      resolveMdnsInterface(spec, table);
    } catch (err) {
      error = err;
    }
    expect(MdnsInterfaceError.isInstance(error)).toBe(true);
    expect((error as MdnsInterfaceError).code).toBe('RIVER_MDNS_INTERFACE');
    expect((error as Error).message).toMatch(reason);
  });

  test('RIVER_MDNS_INTERFACE', () => {
    expect(mdnsInterfaceFromEnv({ RIVER_MDNS_INTERFACE: ' br0 ' })).toBe('br0');
    expect(mdnsInterfaceFromEnv({ RIVER_MDNS_INTERFACE: '' })).toBeUndefined();
    expect(mdnsInterfaceFromEnv({})).toBeUndefined();
  });

  test('inSubnet', () => {
    expect(inSubnet('198.18.0.77', '198.18.0.2', '255.255.255.0')).toBe(true);
    expect(inSubnet('198.18.1.77', '198.18.0.2', '255.255.255.0')).toBe(false);
    expect(inSubnet('127.9.9.9', '127.0.0.1', '255.0.0.0')).toBe(true);
    expect(inSubnet('fe80::1', '198.18.0.2', '255.255.255.0')).toBe(false);
    const br0 = resolveMdnsInterface('br0', table);
    expect(onInterface('198.18.9.77', br0)).toBe(true);
    expect(onInterface('198.18.0.77', br0)).toBe(true);
    expect(onInterface('198.18.5.77', br0)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Real mDNS in network namespaces

const packageDir = join(__dirname, '..');
const agentPath = join(__dirname, 'fixtures', 'mdns-agent.js');
const builtModule = join(packageDir, 'dist', 'discovery', 'mdns.js');

/** Fails loudly when dist/ is missing or older than the sources it is built from. */
function assertBuildIsFresh(): void {
  if (!existsSync(builtModule)) {
    throw new Error(`${builtModule} is missing: build the package first (pnpm build, or npx tsc -p tsconfig.build.json)`);
  }
  const built = statSync(builtModule).mtimeMs;
  const sources = ['discovery', 'errors'].flatMap((dir) =>
    readdirSync(join(packageDir, 'src', dir))
      .filter((f) => f.endsWith('.ts') && (dir === 'errors' ? f.startsWith('mdns-') : f.startsWith('mdns')))
      .map((f) => join(packageDir, 'src', dir, f)),
  );
  const stale = sources.filter((f) => statSync(f).mtimeMs > built);
  if (stale.length > 0) throw new Error(`dist/ is older than ${stale.join(', ')}: rebuild the package`);
}

type AgentEvent = { event: string; vms?: VMInfo[]; elapsedMs?: number; vm?: VMInfo; id?: string; code?: string; message?: string };

function agent(host: NsHost, label: string, mode: string, args: object): NsProcess {
  return host.spawn(label, process.execPath, [agentPath, mode, JSON.stringify({ maxLifetimeMs: 40_000, ...args })]);
}

/** Starts an advertiser and waits until it has announced. */
async function advertiseIn(host: NsHost, info: VMInfo, iface?: string): Promise<NsProcess> {
  const proc = agent(host, `advertise ${info.name}@${host.name}`, 'advertise', { info, interface: iface });
  await proc.waitForJson<AgentEvent>((m) => m.event === 'advertised', 10_000);
  return proc;
}

/** Asks an advertiser to stop and checks it said goodbye and then exited on its own. */
async function stopAdvertiser(proc: NsProcess): Promise<void> {
  proc.write('stop');
  await proc.waitForJson<AgentEvent>((m) => m.event === 'stopped', 5_000);
  // No process.exit in the agent: exiting proves every socket and timer was released.
  expect(await proc.waitForExit(5_000)).toEqual({ code: 0, signal: null });
}

async function browseIn(host: NsHost, timeoutMs: number, iface?: string): Promise<VMInfo[]> {
  return (await browseTimedIn(host, timeoutMs, iface)).vms;
}

/** A browse in `host` (returning once `want` VMs answered, when given), and how long it took. */
async function browseTimedIn(host: NsHost, timeoutMs: number, iface?: string, want?: number): Promise<{ vms: VMInfo[]; elapsedMs: number }> {
  const proc = agent(host, `browse@${host.name}`, 'browse', { timeoutMs, interface: iface, want });
  const { vms, elapsedMs } = await proc.waitForJson<AgentEvent>((m) => m.event === 'found', timeoutMs + 10_000);
  expect(await proc.waitForExit(5_000)).toEqual({ code: 0, signal: null });
  return { vms: vms ?? [], elapsedMs: elapsedMs ?? NaN };
}

const byId = (a: VMInfo, b: VMInfo) => a.id.localeCompare(b.id);
const only = (vms: VMInfo[], ids: string[]) => vms.filter((v) => ids.includes(v.id)).sort(byId);

describeNetns('mDNS between network namespaces', () => {
  let lab: Lab;

  beforeAll(async () => {
    assertBuildIsFresh();
    // Segment "lan": a1..a3 advertise, b browses; "dual" is on both; "far" only on "wan".
    lab = await createLab({
      hosts: { a1: ['lan'], a2: ['lan'], a3: ['lan'], b: ['lan'], dual: ['lan', 'wan'], far: ['wan'] },
    });
  }, 30_000);

  afterAll(async () => {
    await lab?.dispose();
  }, 30_000);

  test('three advertisers on a bridge are found by a browser in another namespace', async () => {
    const [a1, a2, a3, b] = ['a1', 'a2', 'a3', 'b'].map((h) => lab.host(h)) as [NsHost, NsHost, NsHost, NsHost];
    const infos = [
      // Pinned by interface name; the VM listens on its own address.
      [a1, vm({ name: 'alpha', host: a1.address, port: 7101, slots: 2, version: '0.1.0' }), 'eth0'],
      // Pinned by IPv4 address; the VM listens on all addresses.
      [a2, vm({ name: 'beta — ünïcode', port: 7102, slots: 16, version: '0.2.0-rc.1' }), a2.address],
      // Not pinned (the namespace's only link carries the multicast route).
      [a3, vm({ name: 'gamma', port: 7103, slots: 1, version: '0.1.0' }), undefined],
    ] as const;
    const advertisers = await Promise.all(infos.map(([host, info, iface]) => advertiseIn(host, info, iface)));
    try {
      const found = await browseIn(b, 2_000, 'eth0');
      const expected = infos.map(([host, info]) => ({ ...info, host: host.address })).sort(byId);
      expect(only(found, expected.map((v) => v.id))).toEqual(expected);
      expect(found.filter((v) => !expected.some((e) => e.id === v.id))).toEqual([]);
      // With `want`, browse returns once that many answered instead of listening for 20 s.
      const quick = await browseTimedIn(b, 20_000, 'eth0', 3);
      expect(only(quick.vms, expected.map((v) => v.id))).toEqual(expected);
      expect(quick.elapsedMs).toBeLessThan(5_000);
    } finally {
      await Promise.all(advertisers.map(stopAdvertiser));
    }
  }, 30_000);

  test('stop() withdraws the record: a watcher sees onDown, a new browse no longer finds it', async () => {
    const [a1, a2, b] = ['a1', 'a2', 'b'].map((h) => lab.host(h)) as [NsHost, NsHost, NsHost];
    const watcher = agent(b, 'watch@b', 'watch', { interface: 'eth0' });
    await watcher.waitForJson<AgentEvent>((m) => m.event === 'watching', 10_000);
    const stays = vm({ name: 'stays', port: 7202 });
    const leaves = vm({ name: 'leaves', port: 7201, slots: 3 });
    const staying = await advertiseIn(a2, stays, 'eth0');
    const leaving = await advertiseIn(a1, leaves, 'eth0');
    try {
      const up = await watcher.waitForJson<AgentEvent>((m) => m.event === 'up' && m.vm?.id === leaves.id, 5_000);
      expect(up.vm).toEqual({ ...leaves, host: a1.address });
      await watcher.waitForJson<AgentEvent>((m) => m.event === 'up' && m.vm?.id === stays.id, 5_000);

      const before = Date.now();
      await stopAdvertiser(leaving);
      const down = await watcher.waitForJson<AgentEvent>((m) => m.event === 'down' && m.vm?.id === leaves.id, 3_000);
      expect(down.vm).toEqual({ ...leaves, host: a1.address });
      expect(Date.now() - before).toBeLessThan(3_000);
      expect(watcher.json<AgentEvent>().filter((m) => m.event === 'down' && m.vm?.id === stays.id)).toEqual([]);

      const found = await browseIn(b, 1_500, 'eth0');
      expect(found.map((v) => v.id)).toContain(stays.id);
      expect(found.map((v) => v.id)).not.toContain(leaves.id);
    } finally {
      await stopAdvertiser(staying);
      watcher.write('stop');
      await watcher.waitForJson<AgentEvent>((m) => m.event === 'stopped', 5_000);
      expect(await watcher.waitForExit(5_000)).toEqual({ code: 0, signal: null });
    }
    // Exactly one up per VM: re-queries and re-announcements are not new arrivals.
    expect(watcher.json<AgentEvent>().filter((m) => m.event === 'up' && m.vm?.id === leaves.id)).toHaveLength(1);
  }, 30_000);

  test('malformed TXT records and garbage packets are tolerated', async () => {
    const [a1, a2, b] = ['a1', 'a2', 'b'].map((h) => lab.host(h)) as [NsHost, NsHost, NsHost];
    const good = vm({ name: 'good', port: 7301 });
    const advertiser = await advertiseIn(a2, good, 'eth0');
    try {
      const browser = agent(b, 'browse@b', 'browse', { timeoutMs: 2_500, interface: 'eth0' });
      const sender = agent(a1, 'malformed@a1', 'malformed', { interfaceAddress: a1.address, port: 7399, repeat: 3, gapMs: 300 });
      await sender.waitForJson<AgentEvent>((m) => m.event === 'sent', 10_000);
      expect(await sender.waitForExit(5_000)).toEqual({ code: 0, signal: null });

      const { vms = [] } = await browser.waitForJson<AgentEvent>((m) => m.event === 'found', 10_000);
      expect(await browser.waitForExit(5_000)).toEqual({ code: 0, signal: null });
      expect(vms.find((v) => v.id === good.id)).toEqual({ ...good, host: a2.address });
      // The sloppy-but-usable record, with defaults; the broken ones are left out.
      expect(vms.find((v) => v.id === 'lenient-id-0001')).toEqual({
        id: 'lenient-id-0001',
        name: `${a1.address}:7399`,
        host: a1.address,
        port: 7399,
        slots: 1,
        version: UNKNOWN_VERSION,
      });
      const ids = vms.map((v) => v.id);
      expect(ids).not.toContain('port-zero-0001');
      expect(ids).not.toContain('second-id-ignored');
      expect(ids).not.toContain('not valid');
      expect(vms).toHaveLength(2);

      // The advertiser survived the garbage queries and still answers.
      expect((await browseIn(b, 1_200, 'eth0')).map((v) => v.id)).toContain(good.id);
    } finally {
      await stopAdvertiser(advertiser);
    }
  }, 30_000);

  test('pinned to one interface, nothing is sent on the other and the far segment sees nothing', async () => {
    const dual = lab.host('dual');
    const far = lab.host('far');
    expect(dual.links.map((l) => l.name)).toEqual(['eth0', 'eth1']);
    const info = vm({ name: 'dual-pinned', port: 7401 });

    const farBrowser = agent(far, 'browse@far', 'browse', { timeoutMs: 2_500, interface: 'eth0' });
    const before = await linkStats(dual.ns, 'eth1');
    const advertiser = await advertiseIn(dual, info, 'eth0');
    const seen = await browseIn(dual, 1_200, 'eth0'); // a pinned browser in the same namespace
    const { vms: farVms = [] } = await farBrowser.waitForJson<AgentEvent>((m) => m.event === 'found', 10_000);
    await stopAdvertiser(advertiser);
    const after = await linkStats(dual.ns, 'eth1');

    expect(seen.map((v) => v.id)).toContain(info.id);
    expect(farVms.map((v) => v.id)).not.toContain(info.id);
    expect(after.txPackets - before.txPackets).toBe(0);

    // Control: the same advertiser unpinned joins the group on eth1 too, which the counter shows
    // (so a zero above is a measurement, not a broken counter).
    const unpinned = await advertiseIn(dual, vm({ name: 'dual-unpinned', port: 7402 }));
    await stopAdvertiser(unpinned);
    const control = await linkStats(dual.ns, 'eth1');
    expect(control.txPackets - after.txPackets).toBeGreaterThan(0);
  }, 30_000);

  test('a pinned browser ignores other interfaces even while the namespace listens on all of them', async () => {
    const dual = lab.host('dual');
    const far = lab.host('far');
    // An unpinned watcher in "dual" joins the group on eth0 and eth1; Linux then delivers
    // multicast from both links to every socket on port 5353 in the namespace.
    const watcher = agent(dual, 'watch@dual', 'watch', {});
    await watcher.waitForJson<AgentEvent>((m) => m.event === 'watching', 10_000);
    const farInfo = vm({ name: 'far-away', port: 7501 });
    const advertiser = await advertiseIn(far, farInfo, 'eth0');
    try {
      await watcher.waitForJson<AgentEvent>((m) => m.event === 'up' && m.vm?.id === farInfo.id, 5_000);
      // While dual's pinned browser listens, a browser on "far" makes the advertiser answer on
      // "wan": those answers reach dual's eth1 and, through the unpinned socket's membership,
      // the pinned browser's socket too, which must drop them.
      const [pinned, farSide] = await Promise.all([browseIn(dual, 2_500, 'eth0'), browseIn(far, 2_000, 'eth0')]);
      expect(farSide.map((v) => v.id)).toContain(farInfo.id);
      expect(pinned.map((v) => v.id)).not.toContain(farInfo.id);
      const other = await browseIn(dual, 1_500, 'eth1');
      expect(other.find((v) => v.id === farInfo.id)).toEqual({ ...farInfo, host: far.address });
    } finally {
      await stopAdvertiser(advertiser);
      watcher.write('stop');
      await watcher.waitForJson<AgentEvent>((m) => m.event === 'stopped', 5_000);
      expect(await watcher.waitForExit(5_000)).toEqual({ code: 0, signal: null });
    }
  }, 30_000);

  test('one namespace with multicast on loopback; a bad interface fails before any socket', async () => {
    await using solo = await createLoopbackNamespace();
    const info = vm({ name: 'solo', port: 7601 });
    const advertiser = await advertiseIn(solo, info, 'lo');
    try {
      const found = await browseIn(solo, 1_200, '127.0.0.1');
      expect(found).toEqual([{ ...info, host: '127.0.0.1' }]);
    } finally {
      await stopAdvertiser(advertiser);
    }
    const bad = agent(solo, 'advertise@solo', 'advertise', { info: vm(), interface: 'eth9' });
    const error = await bad.waitForJson<AgentEvent>((m) => m.event === 'error', 10_000);
    expect(error).toMatchObject({ name: 'MdnsInterfaceError', code: 'RIVER_MDNS_INTERFACE' });
    expect(await bad.waitForExit(5_000)).toEqual({ code: 1, signal: null });
  }, 30_000);
});
