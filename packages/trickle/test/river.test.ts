/**
 * Trickle over River with real `trickle vm` processes on loopback: sessions, isolation between
 * initiators, cleanup when an initiator disconnects or is killed, connect(n), lost VMs.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { silentPeer } from '../../river/test/fixtures/silent-peer';
import { eventually, startVms, type VmProcess } from '../../river/test/fixtures/vm-process';
import { connect, disconnect, fork, forkWork, inject, join as joinAll, NotEnoughVMsError, PeerFailureError, RemoteError, VMLostError, vmInfo } from '../src';

const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');
const INDEX = join(__dirname, '..', 'dist', 'index.js');
const peersOf = (vms: VmProcess[]) => vms.map((v) => v.address);
/** OS threads of a VM process: each session adds its worker thread. */
const threads = (vm: VmProcess) => readdirSync(`/proc/${vm.pid}/task`).length;

function foo(x: number) {
  return x + 10;
}

function pidOf(items: number[]) {
  return items.map(() => process.pid);
}

describe('connect() over River', () => {
  test('opens one session per VM; calls, fork/join and forkWork reach every VM', async () => {
    await using procs = await startVms(2, [], { cli: TRICKLE_CLI });
    await using vms = await inject(await connect({ peers: peersOf(procs), mdns: false }), { foo });
    expect(vms).toHaveLength(2);
    expect(new Set(vms.map((vm) => vmInfo(vm).id)).size).toBe(2);
    expect(await Promise.all(vms.map((vm) => vm.foo(10)))).toEqual([20, 20]);
    expect(await joinAll(fork(vms, foo, [1, 2]))).toEqual([11, 12]);
    await inject(vms, { pidOf });
    const pids = await forkWork(vms, pidOf, Array.from({ length: 40 }, (_, i) => i), { chunksize: 2 });
    expect(new Set(pids.flat())).toEqual(new Set(procs.map((p) => p.pid)));
  });

  test('connect(n) gives exactly n VMs, or NotEnoughVMsError', async () => {
    await using procs = await startVms(2, [], { cli: TRICKLE_CLI });
    await using one = await connect({ peers: peersOf(procs), mdns: false, max: 1, min: 1 });
    expect(one).toHaveLength(1);
    process.env.TRICKLE_PEERS = peersOf(procs).join(',');
    process.env.TRICKLE_MDNS = 'off';
    try {
      await using two = await connect(2);
      expect(two).toHaveLength(2);
      const error = await connect(3).then(() => undefined, (e: unknown) => e);
      expect(NotEnoughVMsError.isInstance(error)).toBe(true);
      expect((error as NotEnoughVMsError).wanted).toBe(3);
      expect((error as NotEnoughVMsError).found).toBe(2);
    } finally {
      delete process.env.TRICKLE_PEERS;
      delete process.env.TRICKLE_MDNS;
    }
  });

  test('connect(n) and { max } return once that many VMs answered; connect() listens the whole window', async () => {
    await using procs = await startVms(2, [], { cli: TRICKLE_CLI });
    // A peer that never answers would hold discovery for the whole timeoutMs.
    await using silent = await silentPeer();
    const peers = [silent.address, ...peersOf(procs)];
    process.env.TRICKLE_PEERS = peers.join(',');
    process.env.TRICKLE_MDNS = 'off';
    process.env.TRICKLE_TIMEOUT_MS = '20000';
    try {
      let started = Date.now();
      await using two = await connect(2);
      const took = Date.now() - started;
      console.log(`connect(2) with timeoutMs 20000 took ${took} ms`);
      expect(two).toHaveLength(2);
      expect(took).toBeLessThan(5_000);

      started = Date.now();
      await using max = await connect({ max: 2, timeoutMs: 20_000 });
      expect(max).toHaveLength(2);
      expect(Date.now() - started).toBeLessThan(5_000);

      // Without a count it wants every VM there is: it listens for the whole (here short) window,
      // and a named peer that never answered is an error that names it, not a smaller list.
      started = Date.now();
      const error = await connect({ timeoutMs: 1_500 }).then(() => undefined, (e: unknown) => e);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
      expect(PeerFailureError.isInstance(error)).toBe(true);
      expect((error as PeerFailureError).failures).toEqual([expect.objectContaining({ address: silent.address, reason: 'timeout' })]);
      expect((error as Error).message).toContain(`${silent.address}: no answer in time`);
    } finally {
      delete process.env.TRICKLE_PEERS;
      delete process.env.TRICKLE_MDNS;
      delete process.env.TRICKLE_TIMEOUT_MS;
    }
  });

  test('two initiators on the same VMs cannot see each other’s namespaces', async () => {
    await using procs = await startVms(1, [], { cli: TRICKLE_CLI });
    await using a = await connect({ peers: peersOf(procs), mdns: false });
    await using b = await connect({ peers: peersOf(procs), mdns: false });
    await inject(a, { secret: 'only for a' });
    expect(await a[0]!.secret).toBe('only for a');
    const error = await Promise.resolve(b[0]!.secret).then(() => undefined, (e: unknown) => e);
    expect(RemoteError.isInstance(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(/secret/);
    // b cannot change a's value either: its assignment lands in its own namespace.
    b[0]!.secret = 'b was here';
    expect(await b[0]!.secret).toBe('b was here');
    expect(await a[0]!.secret).toBe('only for a');
  });

  test('a session is removed from the VM on disconnect', async () => {
    await using procs = await startVms(1, [], { cli: TRICKLE_CLI });
    const idle = threads(procs[0]!);
    const vms = await connect({ peers: peersOf(procs), mdns: false });
    expect(threads(procs[0]!)).toBe(idle + 1);
    await disconnect(vms);
    await eventually(() => threads(procs[0]!) === idle);
  });

  test('the session of an initiator killed with SIGKILL is cleaned up on the VM', async () => {
    await using procs = await startVms(1, [], { cli: TRICKLE_CLI });
    const idle = threads(procs[0]!);
    const program = `
      const { connect, inject } = require(${JSON.stringify(INDEX)});
      (async () => {
        const vms = await connect({ peers: [${JSON.stringify(procs[0]!.address)}], mdns: false });
        await inject(vms, { big: new Array(1000).fill('x') });
        console.log('ready');
        setInterval(() => {}, 1000);
      })();`;
    const child = spawn(process.execPath, ['-e', program], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => String(d).includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`initiator exited early (${code})`)));
      });
      expect(threads(procs[0]!)).toBe(idle + 1);
      child.kill('SIGKILL');
      await eventually(() => threads(procs[0]!) === idle, 10_000);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('a call on a VM killed with SIGKILL rejects with VMLostError, promptly', async () => {
    await using procs = await startVms(2, [], { cli: TRICKLE_CLI });
    await using vms = await inject(await connect({ peers: peersOf(procs), mdns: false }), {
      sleep: (ms: number) => new Promise((r) => setTimeout(r, ms)),
    });
    const target = vms[0]!;
    // Which process hosts vms[0]? Ask it for its pid.
    const pid = await target.process.pid;
    const proc = procs.find((p) => p.pid === pid)!;
    const pending = target.sleep(60_000);
    const started = Date.now();
    proc.kill('SIGKILL');
    const error = await Promise.resolve(pending).then(() => undefined, (e: unknown) => e);
    expect(VMLostError.isInstance(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    // The other VM still works.
    const other = vms.find((vm) => vm !== target)!;
    expect(await other.sleep(1)).toBeUndefined();
  });
});

describe('trickle CLI', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [TRICKLE_CLI, ...args], {
        env: { ...process.env, TRICKLE_MDNS: 'off', RIVER_MDNS: 'off', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  test('--help for each command', async () => {
    const top = await run(['--help']);
    expect(top.code).toBe(0);
    for (const command of ['vm', 'run', 'ls', 'keygen']) expect(top.stdout).toContain(command);
    expect((await run(['run', '--help'])).stdout).toContain('usage: trickle run');
    expect((await run(['ls', '--help'])).stdout).toContain('usage: trickle ls');
    expect((await run(['keygen', '--help'])).stdout).toContain('usage: trickle keygen');
    expect((await run(['vm', '--help'])).stdout).toContain('trickle vm');
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
  });

  test('ls lists the VMs reachable through a static peer', async () => {
    await using procs = await startVms(2, [], { cli: TRICKLE_CLI });
    const listed = await run(['ls', '--json', '--peers', peersOf(procs).join(',')]);
    expect(listed.code).toBe(0);
    const vms = JSON.parse(listed.stdout) as Array<{ port: number }>;
    expect(vms.map((v) => v.port).sort()).toEqual(procs.map((p) => p.port).sort());
  });

  test('run: forkWork draws a progress bar on stderr when it is a terminal, and not otherwise', async () => {
    const script = join(__dirname, 'fixtures', 'cli-progress.ts');
    const env = { TRICKLE_LOCAL: '2', TRICKLE_PEERS: '', RIVER_PEERS: '' };
    const plain = await run(['run', script], env);
    expect(plain.stdout.trim()).toBe('sum 1560');
    expect(plain.stderr).not.toContain('[trickle] [');
    // `script` runs the command on a pseudo-terminal (stdout and stderr both), like a shell would.
    const command = [process.execPath, TRICKLE_CLI, 'run', script].map((a) => `'${a}'`).join(' ');
    const tty = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('script', ['-qfec', command, '/dev/null'], {
        env: { ...process.env, TRICKLE_MDNS: 'off', RIVER_MDNS: 'off', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.on('close', (code) => resolve({ code, out }));
    });
    expect(tty.code).toBe(0);
    expect(tty.out).toMatch(/\[trickle\] \[#*-*\] \d+\/40 /);
    expect(tty.out).toContain('sum 1560');
  });

  test('run: the progress bar is cleared when a run ends early (break, abort, error); an unknown total shows a count', async () => {
    const script = join(__dirname, 'fixtures', 'cli-progress-ends.ts');
    const command = [process.execPath, TRICKLE_CLI, 'run', script].map((a) => `'${a}'`).join(' ');
    const tty = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('script', ['-qfec', command, '/dev/null'], {
        env: { ...process.env, TRICKLE_MDNS: 'off', RIVER_MDNS: 'off', TRICKLE_LOCAL: '2', TRICKLE_PEERS: '', RIVER_PEERS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.on('close', (code) => resolve({ code, out }));
    });
    expect(tty.code).toBe(0);
    const lines = tty.out.split('\n').map((l) => l.replace(/\r$/, ''));
    const before = (word: string) => {
      const line = lines.find((l) => l.includes(word));
      expect(line).toBeDefined();
      return line!;
    };
    // Each message starts a clean line: whatever the bar drew before it on that line was erased.
    for (const word of ['after break', 'after abort', 'after error']) {
      const line = before(word);
      expect(line.slice(line.lastIndexOf('\x1b[2K') + '\x1b[2K'.length)).toBe(word);
    }
    const generatorPart = tty.out.slice(0, tty.out.indexOf('after break'));
    expect(generatorPart).toMatch(/\[trickle\] \d+ done \d+\.\ds/); // a count …
    expect(generatorPart).not.toMatch(/\[trickle\] \[/); // … not a bar
    expect(tty.out.slice(tty.out.indexOf('after break'))).toMatch(/\[trickle\] \[#*-*\] \d+\/12 /);
  });

  test('run: with no VMs anywhere, connect() starts local VMs and says so', async () => {
    const script = join(__dirname, 'fixtures', 'cli-program.ts');
    const result = await run(['run', script, 'hello'], { TRICKLE_PEERS: '', RIVER_PEERS: '' });
    expect(result.stderr).toMatch(/\[trickle: no VMs found; starting \d+ local VMs?\]/);
    expect(result.stderr).toMatch(/\[trickle: discovered \d+ VMs?\]/);
    expect(result.stdout.trim()).toBe('hello from a VM: 52');
    expect(result.code).toBe(0);
    // The program ended without disconnecting. 'close' waits for the local VMs too (they share
    // its stderr): they stopped without a word (no "peer … lost: ECONNREFUSED").
    expect(result.stderr).not.toMatch(/lost|ECONNREFUSED|terminated/);
  });

  test('run: cancelling a call on a local VM ends its session without a word from the VM', async () => {
    const script = join(__dirname, 'fixtures', 'cli-cancel.ts');
    const result = await run(['run', script], { TRICKLE_PEERS: '', RIVER_PEERS: '', TRICKLE_LOCAL: '1' });
    expect(result.stdout.trim()).toBe('cancelled: CancelledError');
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/terminated by its parent|lost|ECONNREFUSED/);
  });
});
