/**
 * mDNS discovery end to end, for real: two `river vm --key-file K` processes and an initiator,
 * each in its own network namespace on one bridge (test/fixtures/netns.ts). The initiator finds
 * the VMs over mDNS, deploys an echo VR on each and talks to it over the bridge; a VM stopped
 * with SIGTERM withdraws its record. This jest process does no mDNS itself: every process that
 * does runs inside the lab (`ip netns exec`), so no multicast reaches the host's interfaces.
 * Without namespaces the suite is skipped, or fails under RIVER_REQUIRE_NETNS=1 (CI).
 */
import { describeNetns, type NsProcess } from './fixtures/netns';
import {
  MDNS_AGENT,
  RIVER_CLI,
  RIVER_DIR,
  RIVER_INITIATOR,
  sigterm,
  spawnActor,
  startLabVm,
  tcpPeersOf,
  waitForEvent,
  useMdnsLab,
  type ActorEvent,
  type LabVm,
} from './fixtures/mdns-e2e';
import type { VMInfo } from '../src/vm-info';

type Found = ActorEvent & { vms: VMInfo[] };
type VmEvent = ActorEvent & { vm: VMInfo };
type EchoResult = {
  vm: string;
  uuid: string;
  exitValue: unknown;
  pong: { seq: number; text: string; from: string; parent: string; node: string; pid: number; addresses: string[]; src: string; dest: string };
};

const PORT = 7100;
const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);

describeNetns('mDNS end to end: river vm ⇄ initiator in network namespaces', () => {
  const labs = useMdnsLab([RIVER_DIR]);

  test('an initiator finds two VMs over mDNS, echoes through each, and sees a SIGTERMed VM withdrawn', async () => {
    const { key, init, vma, vmb } = await labs.start();

    // vm-a pinned to its veth, vm-b unpinned (its namespace's only link carries the multicast route).
    const [a, b] = (await Promise.all([
      startLabVm(vma, { cli: RIVER_CLI, keyFile: key.keyFile, port: PORT, name: 'vm-a', extra: ['--interface', 'eth0'] }),
      startLabVm(vmb, { cli: RIVER_CLI, keyFile: key.keyFile, port: PORT, name: 'vm-b' }),
    ])) as [LabVm, LabVm];
    // With a key a VM listens on every address and reports its namespace's bridge address.
    expect([a.listenHost, b.listenHost]).toEqual([vma.address, vmb.address]);
    expect([a.port, b.port]).toEqual([PORT, PORT]);

    // A plain mDNS watcher beside the initiator: bonjour-service never expires records, so a
    // `down` from it can only come from the VM's goodbye packet (not from a missed answer).
    const mdnsWatcher = spawnActor(init, 'mdns-watch@init', MDNS_AGENT, 'watch', { interface: 'eth0' });
    await waitForEvent(mdnsWatcher, 'watching', 10_000);

    const initiator = spawnActor(init, 'initiator@init', RIVER_INITIATOR, 'run', { keyFile: key.keyFile, timeoutMs: 4_000 });
    const { uuid: initiatorUuid } = await waitForEvent<ActorEvent & { uuid: string }>(initiator, 'ready', 10_000);

    // 1. Discovery over mDNS only (no peers, no local VMs): both VMs, with their bridge addresses.
    initiator.write('discover');
    const { vms } = await waitForEvent<Found>(initiator, 'found', 10_000);
    const expected = [a, b].map((vm) => ({ id: vm.id, name: vm.name, host: vm.host.address, port: PORT }));
    expect(vms.map(({ id, name, host, port }) => ({ id, name, host, port })).sort(byId)).toEqual(expected.sort(byId));
    for (const info of vms) {
      expect(info.slots).toBeGreaterThanOrEqual(1);
      expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    }

    // 1b. With `want`, discovery returns once both answered instead of listening for 20 s.
    const fromWant = initiator.lines.length;
    initiator.write('discover 20000 2');
    const quick = await waitForEvent<Found & { elapsedMs: number }>(initiator, 'found', 15_000, { from: fromWant });
    expect(quick.vms.map((v) => v.id).sort()).toEqual([a.id, b.id].sort());
    expect(quick.elapsedMs).toBeLessThan(5_000);

    // 2. An echo VR deployed on each, one round trip each, over the bridge.
    initiator.write('echo');
    const { results } = await waitForEvent<ActorEvent & { results: EchoResult[] }>(initiator, 'echo', 15_000);
    expect(results).toHaveLength(2);
    for (const vm of [a, b]) {
      const r = results.find((x) => x.vm === vm.id)!;
      expect(r).toBeDefined();
      expect(r.pong).toMatchObject({ from: r.uuid, src: r.uuid, dest: initiatorUuid, parent: initiatorUuid, node: vm.id, pid: vm.proc.pid });
      expect(r.pong.text).toBe(`hello ${vm.name}`);
      expect(r.pong.addresses).toEqual([vm.host.address]); // it ran inside that VM's namespace
      expect(r.exitValue).toBe(1); // one ping answered, then a clean exit reported to its parent
      // The connection really crosses the bridge: the VM's port has the initiator's address as peer.
      expect(await tcpPeersOf(vm.host, PORT)).toContain(init.address);
    }

    // 3. Watchers see both: the initiator's (connected to both VMs by now), and that of a second
    //    initiator that never connects to them, so it can only go by mDNS.
    const onlyMdns = spawnActor(init, 'watching-initiator@init', RIVER_INITIATOR, 'run', { keyFile: key.keyFile });
    await waitForEvent(onlyMdns, 'ready', 10_000);
    for (const proc of [initiator, onlyMdns]) proc.write('watch');
    for (const proc of [initiator, onlyMdns, mdnsWatcher]) {
      await waitForEvent(proc, 'watching', 10_000);
      for (const vm of [a, b]) await waitForEvent<VmEvent>(proc, 'up', 10_000, { match: (m) => m.vm.id === vm.id });
    }

    // 4. SIGTERM vm-b: it stops cleanly and says goodbye; both watchers report it down, vm-a stays.
    const stoppedAt = Date.now();
    expect(await sigterm(b.proc)).toEqual({ code: 0, signal: null });
    expect(b.proc.lines).toContain('river vm: SIGTERM, stopping');
    const goodbye = await waitForEvent<VmEvent>(mdnsWatcher, 'down', 5_000, { match: (m) => m.vm.id === b.id });
    expect(goodbye.vm).toMatchObject({ id: b.id, host: vmb.address, port: PORT });
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    for (const proc of [initiator, onlyMdns]) {
      const down = await waitForEvent<VmEvent>(proc, 'down', 10_000, { match: (m) => m.vm.id === b.id });
      expect(down.vm).toMatchObject({ id: b.id, host: vmb.address, port: PORT });
    }

    // 5. A new discovery no longer returns it (vm-a answers within a second or two: 2 s is plenty).
    const from = initiator.lines.length;
    initiator.write('discover 2000');
    const again = await waitForEvent<Found>(initiator, 'found', 10_000, { from });
    expect(again.vms.map((v) => v.id)).toEqual([a.id]);

    const events = (proc: NsProcess, event: string, id: string) => proc.json<VmEvent>().filter((m) => m.event === event && m.vm?.id === id);
    for (const proc of [initiator, onlyMdns, mdnsWatcher]) {
      expect(events(proc, 'down', a.id)).toEqual([]);
      expect(events(proc, 'up', a.id)).toHaveLength(1);
      expect(events(proc, 'up', b.id)).toHaveLength(1);
    }

    // 6. Everyone stops cleanly and exits by itself (nothing left open).
    for (const proc of [initiator, onlyMdns]) {
      proc.write('stop');
      await waitForEvent(proc, 'stopped', 10_000);
      expect(await proc.waitForExit(5_000)).toEqual({ code: 0, signal: null });
      expect(proc.stderr).not.toMatch(/error/i);
    }
    mdnsWatcher.write('stop');
    await waitForEvent(mdnsWatcher, 'stopped', 5_000);
    expect(await mdnsWatcher.waitForExit(5_000)).toEqual({ code: 0, signal: null });
    expect(await sigterm(a.proc)).toEqual({ code: 0, signal: null });
  }, 45_000);
});
