/**
 * `trickle vm --metrics-port`: a live VM (a real process on loopback) is scraped over HTTP while
 * and after an initiator uses it; `trickle ping` against it, against it with the wrong key, a
 * closed port and a port that accepts but never answers.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { eventually, startVm } from '../../river/test/fixtures/vm-process';
import { connect, disconnect, forkWork, inject } from '../src';

jest.setTimeout(90_000);

const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');

/** Parses the Prometheus text format into `name{labels}` → value (labels as printed). */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not a metrics line: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return parseMetrics(await res.text());
}

function trickle(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TRICKLE_CLI, ...args], { env: { ...process.env, RIVER_KEY: '', TRICKLE_KEY: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

test('a live trickle vm serves its metrics: sessions, requests and failures by kind, chunks, bytes, VR heap, event-loop lag', async () => {
  await using vm = await startVm(['--metrics-port', '0'], { cli: TRICKLE_CLI, env: { RIVER_QUIET: '' } });
  const line = (await eventually(() => vm.lines.find((l) => l.includes('metrics: http://'))))!;
  const url = /metrics: (http:\S+)/.exec(line)![1]!;
  // Loopback unless a host is given.
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

  const idle = await scrape(url);
  expect(idle.get('river_members')).toBe(1);
  expect(idle.get('river_connections{role="initiator"}')).toBe(0);
  expect(idle.has('nodejs_eventloop_lag_seconds')).toBe(true);
  expect(idle.get('process_resident_memory_bytes')).toBeGreaterThan(10 * 2 ** 20);

  const vms = await connect({ peers: [vm.address], mdns: false, local: 0, timeoutMs: 5000 });
  try {
    function square(x: number): number {
      if (x === 13) throw new Error('unlucky');
      return x * x;
    }
    await inject(vms, square);
    const results = await forkWork(vms, 'square', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(results).toEqual([1, 4, 9, 16, 25, 36, 49, 64, 81, 100]);
    await expect(vms[0]!.square(13)).rejects.toThrow('unlucky');
    await expect(vms[0]!.nothingHere()).rejects.toThrow();

    // Workers report once a second.
    const busy = (await eventually(async () => {
      const m = await scrape(url);
      return m.get('trickle_chunks_served_total') === 10 && m.get('trickle_requests_total{kind="call"}') === 12 ? m : undefined;
    }))!;
    expect(busy.get('river_vrs{kind="trickle:rai"}')).toBe(1);
    expect(busy.get('river_vrs_started_total{kind="trickle:rai"}')).toBe(1);
    expect(busy.get('trickle_requests_total{kind="inject"}')).toBe(1);
    expect(busy.get('trickle_request_failures_total{kind="call",failure="ERROR"}')).toBe(1);
    expect([...busy.keys()].some((k) => k.startsWith('trickle_request_failures_total{kind="call",failure="') && !k.includes('"ERROR"'))).toBe(true);
    expect(busy.get('river_requests_total{op="deploy"}')).toBe(1);
    expect(busy.get('river_connections{role="initiator"}')).toBe(1);
    expect(busy.get('river_vr_heap_used_bytes')).toBeGreaterThan(1e6);
    expect(busy.get('river_vr_heap_used_max_bytes')).toBe(busy.get('river_vr_heap_used_bytes'));
    expect(busy.get('river_bytes_received_total')).toBeGreaterThan(500);
    expect(busy.get('river_bytes_sent_total')).toBeGreaterThan(500);
    expect(busy.get('river_bytes_received_total')).toBeGreaterThan(idle.get('river_bytes_received_total')!);
  } finally {
    await disconnect(vms);
  }

  const after = (await eventually(async () => {
    const m = await scrape(url);
    return m.get('river_vrs{kind="trickle:rai"}') === undefined && m.get('river_connections{role="initiator"}') === 0 ? m : undefined;
  }))!;
  expect(after.get('river_vrs_ended_total{kind="trickle:rai",end="returned"}')).toBe(1);
  expect(after.get('river_vr_heap_used_bytes')).toBe(0);

  const notFound = await fetch(url.replace(/\/metrics$/, '/other'));
  expect(notFound.status).toBe(404);
});

test('trickle vm --metrics-host without --metrics-port is refused', async () => {
  const r = await trickle(['vm', '--port', '0', '--no-advertise', '--metrics-host', '127.0.0.1']);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('--metrics-host needs --metrics-port');
});

test('trickle ping: 0 when the VM authenticates and answers; 1 with a one-line reason for a wrong key, a closed port, a silent port', async () => {
  const key = randomBytes(32).toString('hex');
  await using vm = await startVm([], { cli: TRICKLE_CLI, env: { RIVER_KEY: key, RIVER_MDNS: 'off' } });

  const ok = await trickle(['ping', vm.address], { TRICKLE_KEY: key });
  expect(ok.stderr).toBe('');
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(new RegExp(`^ok ${vm.address.replace(/\./g, '\\.')}: VM \\S+ \\(id [0-9a-f-]{36}\\), 1 member, \\d+ ms\\n$`));

  const wrong = await trickle(['ping', vm.address], { TRICKLE_KEY: randomBytes(32).toString('hex') });
  expect(wrong.code).toBe(1);
  expect(wrong.stdout).toBe('');
  expect(wrong.stderr).toMatch(new RegExp(`^trickle ping: ${vm.address.replace(/\./g, '\\.')}: wrong key \\(.*\\)\\n$`));

  const keyless = await trickle(['ping', vm.address]);
  expect(keyless.code).toBe(1);
  expect(keyless.stderr).toContain(': wrong key (');

  // A port nothing listens on: take a free port and close it again.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const refused = await trickle(['ping', `127.0.0.1:${closedPort}`]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(new RegExp(`^trickle ping: 127\\.0\\.0\\.1:${closedPort}: refused \\(.*\\)\\n$`));

  // A port that accepts and never says a word.
  const sockets = new Set<Socket>();
  const silent = createServer((s) => sockets.add(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const started = Date.now();
    const timeout = await trickle(['ping', `127.0.0.1:${(silent.address() as AddressInfo).port}`, '--timeout', '700']);
    expect(timeout.code).toBe(1);
    expect(timeout.stderr).toMatch(/^trickle ping: 127\.0\.0\.1:\d+: timeout \(.*\)\n$/);
    expect(Date.now() - started).toBeLessThan(20_000);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  }

  const usage = await trickle(['ping']);
  expect(usage.code).toBe(2);
  expect(usage.stderr).toContain('expected one HOST:PORT');
});
