/**
 * No silent fallbacks: what connect() and `trickle ls` do when VMs cannot be used. Real
 * `trickle vm` processes on loopback, one with another cluster key; a port nobody listens on;
 * a server that accepts and says nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentPeer } from '../../river/test/fixtures/silent-peer';
import { startVm } from '../../river/test/fixtures/vm-process';
import { connect, KeyError, NotEnoughVMsError, PeerFailureError, vmInfo } from '../src';

jest.setTimeout(60_000);

const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');
const KEY = 'connect-failures-test-key-0123456789';
const OTHER_KEY = 'another-cluster-key-9876543210-abcdef';

/** A loopback port nobody listens on. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** What connect() writes on stderr meanwhile. */
async function withStderr<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; stderr: string }> {
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stderr += String(chunk);
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    return { value: await fn(), stderr };
  } catch (error) {
    return { error, stderr };
  } finally {
    process.stderr.write = write;
  }
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [TRICKLE_CLI, ...args], { env: { ...process.env, TRICKLE_MDNS: 'off', RIVER_MDNS: 'off', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('peers that cannot be used are errors, never a fallback to local VMs', () => {
  test('a wrong port, a VM with another key, a program without a key: PeerFailureError naming each and why', async () => {
    await using keyed = await startVm(['--name', 'keyed'], { cli: TRICKLE_CLI, env: { RIVER_KEY: KEY } });
    const refused = `127.0.0.1:${await freePort()}`;

    const wrong = await withStderr(() => connect({ peers: [refused, keyed.address], key: OTHER_KEY, mdns: false }));
    expect(PeerFailureError.isInstance(wrong.error)).toBe(true);
    const error = wrong.error as PeerFailureError;
    expect(error.code).toBe('TRICKLE_PEER_FAILURE');
    expect(error.failures.map((f) => [f.address, f.reason])).toEqual([
      [refused, 'refused'],
      [keyed.address, 'wrong-key'],
    ]);
    expect(error.message).not.toContain('\n');
    expect(error.message).toContain(`${refused}: connection refused`);
    expect(error.message).toContain(`${keyed.address}: wrong cluster key`);
    expect(wrong.stderr).not.toMatch(/starting \d+ local VM/);

    // No key at all, against a keyed VM: the same, and the reason says it.
    const none = await withStderr(() => connect({ peers: keyed.address, mdns: false }));
    expect(PeerFailureError.isInstance(none.error)).toBe(true);
    expect((none.error as PeerFailureError).failures[0]).toMatchObject({ reason: 'wrong-key', message: expect.stringMatching(/^it requires a cluster key and this node has none/) });
    expect(none.stderr).not.toMatch(/starting \d+ local VM/);

    // From TRICKLE_PEERS, the message says so.
    process.env.TRICKLE_PEERS = refused;
    try {
      const fromEnv = await connect({ mdns: false }).then(() => undefined, (e: unknown) => e);
      expect((fromEnv as Error).message).toMatch(/^1 peer named in TRICKLE_PEERS cannot be used: /);
    } finally {
      delete process.env.TRICKLE_PEERS;
    }

    // The right key works.
    await using vms = await connect({ peers: keyed.address, key: KEY, mdns: false });
    expect(vms.map((vm) => vmInfo(vm).name)).toEqual(['keyed']);
  });

  test('connect(n): enough usable VMs make a failed peer a warning; too few, NotEnoughVMsError naming each failure', async () => {
    await using vm = await startVm(['--name', 'good'], { cli: TRICKLE_CLI });
    await using silent = await silentPeer();
    const refused = `127.0.0.1:${await freePort()}`;

    const one = await withStderr(() => connect({ peers: [refused, vm.address], mdns: false, max: 1, min: 1 }));
    expect(one.error).toBeUndefined();
    expect(one.value!.map((v) => vmInfo(v).name)).toEqual(['good']);
    expect(one.stderr).toContain(`[trickle: skipped ${refused}: connection refused]`);
    await one.value![Symbol.asyncDispose]();

    const two = await withStderr(() => connect({ peers: [refused, silent.address, vm.address], mdns: false, max: 2, min: 2, timeoutMs: 1_000 }));
    expect(NotEnoughVMsError.isInstance(two.error)).toBe(true);
    const error = two.error as NotEnoughVMsError;
    expect(error).toMatchObject({ wanted: 2, found: 1 });
    expect(error.failures.map((f) => [f.address, f.reason]).sort()).toEqual([
      [refused, 'refused'],
      [silent.address, 'timeout'],
    ].sort());
    expect(error.message).toContain(`${refused}: connection refused`);
    expect(error.message).toContain(`${silent.address}: no answer in time`);
    expect(two.stderr).not.toMatch(/starting \d+ local VM/);
  });

  test('a missing, unreadable or insecure key file is one KeyError line naming where the key came from', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trickle-key-'));
    try {
      const missing = join(dir, 'nope');
      process.env.TRICKLE_KEY_FILE = missing;
      try {
        const error = await connect({ mdns: false, peers: '127.0.0.1:1' }).then(() => undefined, (e: unknown) => e);
        expect(KeyError.isInstance(error)).toBe(true);
        expect(error).toMatchObject({ code: 'TRICKLE_KEY', reason: 'RIVER_KEY_FILE_UNREADABLE', source: `TRICKLE_KEY_FILE=${missing}` });
        expect((error as Error).message).toMatch(new RegExp(`^cannot use the cluster key \\(TRICKLE_KEY_FILE=${missing}\\): cannot read key file ${missing}.*ENOENT`));
        expect((error as Error).message).not.toContain('\n');
      } finally {
        delete process.env.TRICKLE_KEY_FILE;
      }
      const open = join(dir, 'open');
      writeFileSync(open, `${KEY}\n`, { mode: 0o644 });
      const insecure = await connect({ mdns: false, keyFile: open }).then(() => undefined, (e: unknown) => e);
      expect(insecure).toMatchObject({ name: 'KeyError', reason: 'RIVER_KEY_FILE_INSECURE', source: `keyFile ${open}` });
      expect((insecure as Error).message).toMatch(/chmod 600/);
      const short = await connect({ mdns: false, key: 'short' }).then(() => undefined, (e: unknown) => e);
      expect(short).toMatchObject({ name: 'KeyError', reason: 'RIVER_INVALID_KEY', source: 'the key option' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('trickle run: a wrong TRICKLE_PEERS ends the program with the error, starts no local VM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trickle-run-'));
    try {
      const script = join(dir, 'p.js');
      writeFileSync(script, 'connect().then(() => console.log("connected"), (e) => { console.log(e.name, e.code); process.exitCode = 3; });\n');
      const refused = `127.0.0.1:${await freePort()}`;
      const result = await cli(['run', script], { TRICKLE_PEERS: refused });
      expect(result.stdout.trim()).toBe('PeerFailureError TRICKLE_PEER_FAILURE');
      expect(result.code).toBe(3);
      expect(result.stderr).not.toMatch(/starting \d+ local VM/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('trickle ls shows every VM it found, with its state', () => {
  test('usable, wrong-key and unreachable, in text and JSON', async () => {
    await using good = await startVm(['--name', 'good'], { cli: TRICKLE_CLI, env: { RIVER_KEY: KEY } });
    await using other = await startVm(['--name', 'other'], { cli: TRICKLE_CLI, env: { RIVER_KEY: OTHER_KEY } });
    const refused = `127.0.0.1:${await freePort()}`;
    const peers = [good.address, other.address, refused].join(',');

    const text = await cli(['ls', '--no-mdns', '--peers', peers], { TRICKLE_KEY: KEY, RIVER_KEY: KEY });
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.find((l) => l.startsWith(good.address))).toMatch(/\tgood\tusable\tslots=/);
    expect(lines.find((l) => l.startsWith(other.address))).toMatch(/\twrong-key\twrong cluster key: /);
    expect(lines.find((l) => l.startsWith(refused))).toMatch(/\tunreachable\tconnection refused$/);

    const json = await cli(['ls', '--no-mdns', '--json', '--peers', peers], { RIVER_KEY: KEY });
    const rows = JSON.parse(json.stdout) as Array<{ state: string; name?: string; address?: string; reason?: string }>;
    expect(rows.map((r) => r.state).sort()).toEqual(['unreachable', 'usable', 'wrong-key']);
    expect(rows.find((r) => r.state === 'usable')).toMatchObject({ name: 'good', port: good.port });
    expect(rows.find((r) => r.state === 'unreachable')).toMatchObject({ address: refused, reason: 'refused' });
  });
});
