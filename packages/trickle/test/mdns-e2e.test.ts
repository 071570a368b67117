/**
 * Trickle over mDNS end to end, for real: two `trickle vm --key-file K` processes and a program
 * calling `connect({ key, mdns: true, local: 0 })`, each in its own network namespace on one
 * bridge (packages/river/test/fixtures/netns.ts). The program finds both VMs over mDNS, injects a
 * function, calls it on every VM over the bridge, and disconnects. This jest process does no
 * mDNS itself: every process that does runs inside the lab (`ip netns exec`), so no multicast
 * reaches the host's interfaces. Without namespaces the suite is skipped, or fails under
 * RIVER_REQUIRE_NETNS=1 (CI).
 */
import { describeNetns } from '../../river/test/fixtures/netns';
import {
  MDNS_AGENT,
  pidsIn,
  RIVER_DIR,
  sigterm,
  spawnActor,
  startLabVm,
  tcpPeersOf,
  TRICKLE_CLI,
  TRICKLE_DIR,
  TRICKLE_INITIATOR,
  labEnv,
  waitForEvent,
  useMdnsLab,
  type ActorEvent,
  type LabVm,
} from '../../river/test/fixtures/mdns-e2e';

type Result = { vm: string; x: number; doubled: number; pid: number; addresses: string[] };
type Fake = { id: string; name: string; kind: 'silent' | 'closing' | 'garbage'; port: number };

const PORT = 7100;
const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);

describeNetns('Trickle over mDNS: trickle vm ⇄ connect() in network namespaces', () => {
  const labs = useMdnsLab([RIVER_DIR, TRICKLE_DIR]);

  test('connect({ mdns: true, local: 0 }) finds two VMs, injects and calls on each, announces, disconnects', async () => {
    const { key, init, vma, vmb } = await labs.start();

    // local: 0 with nothing to find is NotEnoughVMsError, not a fallback to local VMs. (mDNS off
    // here, so this runs before the VMs exist and needs no multicast at all.)
    const empty = spawnActor(init, 'empty@init', TRICKLE_INITIATOR, 'empty', { keyFile: key.keyFile, timeoutMs: 300 });
    const rejected = await waitForEvent(empty, 'rejected', 15_000);
    expect(rejected).toMatchObject({ name: 'NotEnoughVMsError', message: expect.stringMatching(/found 0/) });
    expect(await empty.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(empty.stderr).not.toMatch(/starting \d+ local VM/);

    // vm-a pinned to its veth, vm-b unpinned.
    const [a, b] = (await Promise.all([
      startLabVm(vma, { cli: TRICKLE_CLI, keyFile: key.keyFile, port: PORT, name: 'vm-a', extra: ['--interface', 'eth0'] }),
      startLabVm(vmb, { cli: TRICKLE_CLI, keyFile: key.keyFile, port: PORT, name: 'vm-b' }),
    ])) as [LabVm, LabVm];
    expect(a.proc.lines[0]).toMatch(/^trickle vm listening on /);
    expect([a.listenHost, b.listenHost]).toEqual([vma.address, vmb.address]);

    // The program, pinned to its veth.
    const program = spawnActor(init, 'connect@init', TRICKLE_INITIATOR, 'connect', { keyFile: key.keyFile, timeoutMs: 4_000, interface: 'eth0' });
    const { vms } = await waitForEvent<ActorEvent & { vms: Array<{ id: string; name: string }> }>(program, 'connected', 15_000);
    expect([...vms].sort(byId)).toEqual([a, b].map(({ id, name }) => ({ id, name })).sort(byId));
    // local: 0 started no local VM: the program is the only process in its namespace.
    expect(await pidsIn(init)).toEqual([program.pid]);
    expect(program.stderr).toContain('[trickle: discovered 2 VMs]');
    expect(program.stderr).not.toMatch(/starting \d+ local VM/);
    // Each session's connection crosses the bridge: the VM's port has the program's address as peer.
    for (const vm of [a, b]) expect(await tcpPeersOf(vm.host, PORT)).toContain(init.address);

    program.write('go');
    const { results } = await waitForEvent<ActorEvent & { results: Result[] }>(program, 'results', 15_000);
    expect(results).toHaveLength(2);
    for (const vm of [a, b]) {
      const i = vms.findIndex((v) => v.id === vm.id);
      // Ran in that VM's process, inside its namespace.
      expect(results[i]).toEqual({ vm: vm.id, x: i + 1, doubled: 2 * (i + 1), pid: vm.proc.pid, addresses: [vm.host.address] });
    }

    await waitForEvent(program, 'disconnected', 10_000);
    // disconnect stops the engine; the program then ends by itself (nothing left running).
    expect(await program.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(program.stderr.trim()).toBe('[trickle: discovered 2 VMs]');

    // `trickle ls` (key from TRICKLE_KEY_FILE, so mDNS is on) lists both as well.
    const ls = await init.exec(process.execPath, [TRICKLE_CLI, 'ls', '--json', '--timeout', '1500'], {
      env: labEnv({ TRICKLE_KEY_FILE: key.keyFile }),
      timeoutMs: 15_000,
    });
    expect(ls).toMatchObject({ code: 0, stderr: '' });
    const listed = (JSON.parse(ls.stdout) as Array<{ id: string; name: string; host: string; port: number }>).map(({ id, name, host, port }) => ({ id, name, host, port }));
    expect(listed.sort(byId)).toEqual([a, b].map((vm) => ({ id: vm.id, name: vm.name, host: vm.host.address, port: PORT })).sort(byId));

    // SIGTERM: each trickle vm withdraws its record (a plain mDNS watcher sees the goodbye) and exits 0.
    const watcher = spawnActor(init, 'mdns-watch@init', MDNS_AGENT, 'watch', { interface: 'eth0' });
    await waitForEvent(watcher, 'watching', 10_000);
    for (const vm of [a, b]) await waitForEvent(watcher, 'up', 10_000, { match: (m) => (m.vm as { id: string }).id === vm.id });
    for (const vm of [a, b]) {
      expect(await sigterm(vm.proc)).toEqual({ code: 0, signal: null });
      await waitForEvent(watcher, 'down', 5_000, { match: (m) => (m.vm as { id: string }).id === vm.id });
    }
    watcher.write('stop');
    await waitForEvent(watcher, 'stopped', 5_000);
    expect(await watcher.waitForExit(5_000)).toEqual({ code: 0, signal: null });
  }, 45_000);

  test('impostors on mDNS (silent, closing, garbage) beside a real VM: connect() uses the real one and names each fake', async () => {
    const { key, init, vma, vmb } = await labs.start();
    const real = await startLabVm(vma, { cli: TRICKLE_CLI, keyFile: key.keyFile, port: PORT, name: 'vm-real' });
    const impostors = spawnActor(vmb, 'impostors@vmb', MDNS_AGENT, 'impostors', { interfaceAddress: vmb.address, count: 3 });
    const { fakes } = await waitForEvent<ActorEvent & { fakes: Fake[] }>(impostors, 'announcing', 10_000);
    expect(fakes.map((f) => f.kind)).toEqual(['silent', 'closing', 'garbage']);

    const program = spawnActor(init, 'connect@init', TRICKLE_INITIATOR, 'connect', { keyFile: key.keyFile, timeoutMs: 3_000, interface: 'eth0' });
    const { vms } = await waitForEvent<ActorEvent & { vms: Array<{ id: string; name: string }> }>(program, 'connected', 20_000);
    expect(vms).toEqual([{ id: real.id, name: real.name }]);
    // Garbage is not the encrypted channel: to a keyed program, like a node without the key.
    const why: Record<Fake['kind'], string> = { silent: 'no answer in time', closing: 'closed the connection', garbage: 'wrong cluster key: the peer did not answer with the encrypted channel' };
    for (const fake of fakes) {
      expect(program.stderr).toContain(`[trickle: skipped ${fake.name} (${vmb.address}:${fake.port}): ${why[fake.kind]}`);
    }
    program.write('go');
    const { results } = await waitForEvent<ActorEvent & { results: Result[] }>(program, 'results', 15_000);
    expect(results).toEqual([expect.objectContaining({ vm: real.id, pid: real.proc.pid, addresses: [vma.address] })]);
    await waitForEvent(program, 'disconnected', 10_000);
    expect(await program.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    // Nothing of the fakes' bytes reached the program's stderr unescaped.
    expect(program.stderr).not.toContain('\x1b[31m');

    // `trickle ls` lists all four, each with its state.
    const ls = await init.exec(process.execPath, [TRICKLE_CLI, 'ls', '--json', '--timeout', '2000', '--interface', 'eth0'], {
      env: labEnv({ TRICKLE_KEY_FILE: key.keyFile }),
      timeoutMs: 20_000,
    });
    expect(ls).toMatchObject({ code: 0 });
    const rows = JSON.parse(ls.stdout) as Array<{ name: string; state: string; reason?: string }>;
    expect(rows.map(({ name, state, reason }) => ({ name, state, reason })).sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      [
        { name: real.name, state: 'usable', reason: undefined },
        ...fakes.map((f) => ({ name: f.name, ...{ silent: { state: 'unreachable', reason: 'timeout' }, closing: { state: 'unreachable', reason: 'closed' }, garbage: { state: 'wrong-key', reason: 'wrong-key' } }[f.kind] })),
      ].sort((a, b) => a.name.localeCompare(b.name)),
    );

    // A live list (watch: mDNS followed as it happens) takes in none of the fakes either, while
    // they keep announcing themselves.
    const watching = spawnActor(init, 'watch@init', TRICKLE_INITIATOR, 'watch', { keyFile: key.keyFile, timeoutMs: 2_000, interface: 'eth0', intervalMs: 120_000 });
    const live = await waitForEvent<ActorEvent & { vms: Array<{ id: string; name: string }> }>(watching, 'connected', 20_000);
    expect(live.vms).toEqual([{ id: real.id, name: real.name }]);
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // a few announcement rounds
    expect(watching.lines.some((l) => l.includes('"joined"'))).toBe(false);
    // The engine checks an announcement before reporting it: no session was even tried on a fake.
    expect(watching.stderr).not.toMatch(/could not join/);
    watching.write('go');
    await waitForEvent(watching, 'disconnected', 15_000);
    expect(await watching.waitForExit(10_000)).toEqual({ code: 0, signal: null });

    impostors.write('stop');
    await waitForEvent(impostors, 'stopped', 10_000);
    expect(await sigterm(real.proc)).toEqual({ code: 0, signal: null });
  }, 90_000);

  test('a flood of 200 fake VMs on mDNS: connect() and connect(1) still use the real one', async () => {
    const { key, init, vma, vmb } = await labs.start();
    const real = await startLabVm(vma, { cli: TRICKLE_CLI, keyFile: key.keyFile, port: PORT, name: 'vm-real' });
    const impostors = spawnActor(vmb, 'flood@vmb', MDNS_AGENT, 'impostors', { interfaceAddress: vmb.address, count: 200, gapMs: 1_000 });
    const { fakes } = await waitForEvent<ActorEvent & { fakes: Fake[] }>(impostors, 'announcing', 15_000);
    expect(fakes).toHaveLength(200);

    const program = spawnActor(init, 'connect@init', TRICKLE_INITIATOR, 'connect', { keyFile: key.keyFile, timeoutMs: 3_000, interface: 'eth0' });
    const { vms } = await waitForEvent<ActorEvent & { vms: Array<{ id: string; name: string }> }>(program, 'connected', 30_000);
    expect(vms).toEqual([{ id: real.id, name: real.name }]);
    // The fakes are named (the first ones one by one, then a count), never a reason to fail.
    expect(program.stderr).toMatch(/\[trickle: skipped fake-(silent|closing|garbage)-\d+ /);
    expect(program.stderr).toMatch(/\[trickle: skipped \d+ more VMs that could not be used\]/);
    program.write('go');
    await waitForEvent(program, 'results', 15_000);
    await waitForEvent(program, 'disconnected', 10_000);
    expect(await program.waitForExit(10_000)).toEqual({ code: 0, signal: null });

    // connect(1): done once the real VM answered, whatever the fakes do.
    const one = spawnActor(init, 'connect1@init', TRICKLE_INITIATOR, 'connect', { keyFile: key.keyFile, timeoutMs: 10_000, interface: 'eth0', n: 1 });
    const first = await waitForEvent<ActorEvent & { vms: Array<{ id: string; name: string }> }>(one, 'connected', 30_000);
    expect(first.vms).toEqual([{ id: real.id, name: real.name }]);
    one.write('go');
    await waitForEvent(one, 'disconnected', 15_000);
    expect(await one.waitForExit(10_000)).toEqual({ code: 0, signal: null });

    impostors.write('stop');
    await waitForEvent(impostors, 'stopped', 10_000);
    expect(await sigterm(real.proc)).toEqual({ code: 0, signal: null });
  }, 90_000);

  test('connect({ watch: true }): a VM announced over mDNS joins the live list at once, not at the next poll', async () => {
    const { key, init, vma, vmb } = await labs.start();
    const a = await startLabVm(vma, { cli: TRICKLE_CLI, keyFile: key.keyFile, port: PORT, name: 'vm-a' });

    // A poll interval far longer than the test: only mDNS's own events can bring vm-b in.
    const program = spawnActor(init, 'watch@init', TRICKLE_INITIATOR, 'watch', { keyFile: key.keyFile, timeoutMs: 1_500, interface: 'eth0', intervalMs: 120_000 });
    const { vms } = await waitForEvent<ActorEvent & { vms: Array<{ id: string; name: string }> }>(program, 'connected', 15_000);
    expect(vms).toEqual([{ id: a.id, name: a.name }]);

    // startLabVm returns once vm-b says it is advertised; it joins (session, whereAmI replayed) promptly.
    const b = await startLabVm(vmb, { cli: TRICKLE_CLI, keyFile: key.keyFile, port: PORT, name: 'vm-b' });
    const announcedAt = Date.now();
    const joined = await waitForEvent<ActorEvent & { vm: { id: string; name: string }; size: number }>(program, 'joined', 15_000);
    const joinedAfter = Date.now() - announcedAt;
    console.log(`vm-b joined the live list ${joinedAfter} ms after it was announced`);
    expect(joined).toMatchObject({ vm: { id: b.id, name: b.name }, size: 2 });
    expect(joinedAfter).toBeLessThan(10_000);

    // Both run the injected function, each in its own namespace.
    program.write('go');
    const { results } = await waitForEvent<ActorEvent & { results: Result[] }>(program, 'results', 15_000);
    expect(results.map((r) => r.vm).sort()).toEqual([a.id, b.id].sort());
    for (const vm of [a, b]) expect(results.find((r) => r.vm === vm.id)).toMatchObject({ pid: vm.proc.pid, addresses: [vm.host.address] });
    await waitForEvent(program, 'disconnected', 10_000);
    expect(await program.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    for (const vm of [a, b]) expect(await sigterm(vm.proc)).toEqual({ code: 0, signal: null });
  }, 60_000);
});
