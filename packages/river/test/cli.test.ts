/** The `river` command: first line, key modes, help, clean stop on SIGINT/SIGTERM, keygen. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { generateKey, startInitiator } from '../src';
import { CLI, eventually, startVm } from './fixtures/vm-process';
import { BusyThenReport, Echo } from './fixtures/vrs';

jest.setTimeout(60_000);

test('first line: host:port, id, and — without a key — loopback only', async () => {
  await using vm = await startVm(['--name', 'first', '--slots', '3']);
  expect(vm.firstLine).toMatch(/^river vm listening on 127\.0\.0\.1:\d+ \(id [0-9a-f-]{36}, name first, slots 3; no cluster key: listening on loopback only\)$/);
  await eventually(() => vm.lines.some((l) => /mDNS advertisement off/.test(l)));
  expect(vm.lines.join('\n')).toMatch(/reach it: RIVER_PEERS=127\.0\.0\.1:\d+/);
});

test('without a key, a non-loopback --host is refused with a clear error', () => {
  const r = spawnSync(process.execPath, [CLI, 'vm', '--host', '0.0.0.0', '--no-advertise'], { encoding: 'utf8', env: { ...process.env, RIVER_KEY: '', RIVER_MDNS: 'off' }, timeout: 20_000 });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without a cluster key/);
});

test('--help and bad flags', () => {
  const help = spawnSync(process.execPath, [CLI, 'vm', '--help'], { encoding: 'utf8', timeout: 20_000 });
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/usage: river vm/);
  expect(help.stdout).toMatch(/--join HOST:PORT/);
  const bad = spawnSync(process.execPath, [CLI, 'vm', '--port', 'nope'], { encoding: 'utf8', timeout: 20_000 });
  expect(bad.status).toBe(1);
  expect(bad.stderr).toMatch(/--port must be an integer/);
});

test.each(['SIGTERM', 'SIGINT'] as const)('%s stops the VM cleanly and its VRs are told', async (signal) => {
  // Echo ignores river:stop: it is terminated when the (short) stop grace ends.
  await using vm = await startVm(['--stop-grace', '0.5']);
  await using init = await startInitiator({ mdns: false, peers: [vm.address] });
  const [info] = await init.discover({ timeoutMs: 5000 });
  const echo = await init.deploy(info!, Echo);
  vm.kill(signal);
  const exit = await init.recv({ src: echo, tag: 'river:exit' }, { timeoutMs: 10_000 });
  expect(exit).toBeDefined();
  expect(await vm.exited).toEqual({ code: 0, signal: null });
  expect(vm.lines.join('\n')).toMatch(new RegExp(`${signal}, stopping`));
});

test('the stop grace: --stop-grace, env RIVER_STOP_GRACE_MS, and a second signal that stops at once', async () => {
  // From the environment (milliseconds); a VR still running when it ends is terminated.
  {
    await using vm = await startVm([], { env: { RIVER_STOP_GRACE_MS: '300' } });
    await using init = await startInitiator({ mdns: false, peers: [vm.address] });
    const [info] = await init.discover({ timeoutMs: 5000 });
    const echo = await init.deploy(info!, Echo);
    vm.kill('SIGTERM');
    await init.recv({ src: echo, tag: 'river:exit' }, { timeoutMs: 10_000 });
    expect(await vm.exited).toEqual({ code: 0, signal: null });
    expect(vm.lines.join('\n')).toMatch(/finishing the work in hand \(at most 0\.3 s\)/);
  }
  // A long grace holds the VM while its VR runs; a second SIGTERM cuts it short.
  {
    await using vm = await startVm(['--stop-grace', '60']);
    await using init = await startInitiator({ mdns: false, peers: [vm.address] });
    const [info] = await init.discover({ timeoutMs: 5000 });
    const echo = await init.deploy(info!, Echo);
    vm.kill('SIGTERM');
    await eventually(() => vm.lines.some((l) => /finishing the work in hand \(at most 60 s\)/.test(l)));
    // Still there: no new sessions, but the one it has still answers.
    init.send(echo, { tag: 'ping', seq: 1 });
    expect(await init.recv({ src: echo, tag: 'pong' }, { timeoutMs: 10_000 })).toMatchObject({ seq: 1 });
    expect(vm.child.exitCode).toBeNull();
    const again = Date.now();
    vm.kill('SIGTERM');
    const exit = await init.recv({ src: echo, tag: 'river:exit' }, { timeoutMs: 10_000 });
    expect(exit.error).toBeDefined();
    expect(await vm.exited).toEqual({ code: 1, signal: null });
    expect(Date.now() - again).toBeLessThan(10_000);
    expect(vm.lines.join('\n')).toMatch(/SIGTERM again, stopping now/);
  }
  // Bad values are refused.
  const bad = spawnSync(process.execPath, [CLI, 'vm', '--stop-grace', 'soon'], { encoding: 'utf8', env: { ...process.env, RIVER_MDNS: 'off' }, timeout: 20_000 });
  expect(bad.status).toBe(1);
  expect(bad.stderr).toMatch(/--stop-grace must be a number of seconds/);
  const badEnv = spawnSync(process.execPath, [CLI, 'vm', '--no-advertise'], { encoding: 'utf8', env: { ...process.env, RIVER_MDNS: 'off', RIVER_STOP_GRACE_MS: 'soon' }, timeout: 20_000 });
  expect(badEnv.status).toBe(1);
  expect(badEnv.stderr).toMatch(/RIVER_STOP_GRACE_MS must be an integer/);
});

test('a VR busy when its VM is told to stop sees `stopping` at once, before it reads the stop message', async () => {
  await using vm = await startVm();
  await using init = await startInitiator({ mdns: false, peers: [vm.address] });
  const [info] = await init.discover({ timeoutMs: 5000 });
  const busy = await init.deploy(info!, BusyThenReport);
  init.send(busy, { tag: 'go', ms: 1500 });
  await init.recv({ src: busy, tag: 'looping' }, { timeoutMs: 10_000 });
  vm.kill('SIGTERM');
  const report = await init.recv({ src: busy, tag: 'report' }, { timeoutMs: 10_000 });
  expect(report).toMatchObject({ before: false, stopping: true, aborted: false });
  // Its main then returned: the VM exits by itself, well within the default 30 s grace.
  await init.recv({ src: busy, tag: 'river:exit' }, { timeoutMs: 10_000 });
  expect(await vm.exited).toEqual({ code: 0, signal: null });
});

test('key file: the VM takes it, initiators with the same key connect, keygen writes 0600 files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'river-key-'));
  try {
    const file = join(dir, 'key');
    const r = spawnSync(process.execPath, [CLI, 'keygen', file], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = readFileSync(file, 'utf8').trim();
    await using vm = await startVm(['--key-file', file, '--host', '127.0.0.1']);
    expect(vm.firstLine).toMatch(/cluster key set/);
    await using good = await startInitiator({ mdns: false, key, peers: [vm.address] });
    expect(await good.discover({ timeoutMs: 5000 })).toHaveLength(1);
    await using bad = await startInitiator({ mdns: false, key: generateKey(), peers: [vm.address] });
    expect(await bad.discover({ timeoutMs: 3000 })).toHaveLength(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
