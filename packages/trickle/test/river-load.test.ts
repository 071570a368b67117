/**
 * Load: 8 initiator processes at once, each with 1,000 concurrent forks on every one of 4 `trickle
 * vm` processes (4,000 calls in flight per initiator, 32,000 in all). No reply is lost (every
 * fork returns), none is duplicated (every token is unique and each VM session ran exactly the
 * calls it was sent), and every token names the initiator, fork and VM it belongs to.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startVms } from '../../river/test/fixtures/vm-process';

jest.setTimeout(90_000);

const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');
const INITIATOR = join(__dirname, 'fixtures', 'load-initiator.js');
const INITIATORS = 8;
const FORKS = 1000;
const VMS = 4;

interface Report {
  who: string;
  tokens: string[];
  perVm: Array<{ vm: string; sent: number; ran: number }>;
}

function runInitiator(peers: string, who: string): Promise<Report> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [INITIATOR, peers, String(FORKS), who], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RIVER_MDNS: 'off', TRICKLE_MDNS: 'off' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 80_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(out.trim()) as Report);
      else reject(new Error(`initiator ${who} exited with ${code}: ${err}`));
    });
  });
}

test(`${INITIATORS} initiators × ${FORKS} concurrent forks × ${VMS} VMs: no reply lost, none duplicated`, async () => {
  await using vms = await startVms(VMS, [], { cli: TRICKLE_CLI });
  const peers = vms.map((v) => v.address).join(',');
  const pids = new Set(vms.map((v) => String(v.pid)));
  const started = Date.now();
  const reports = await Promise.all(Array.from({ length: INITIATORS }, (_, k) => runInitiator(peers, `i${k}`)));
  const seconds = (Date.now() - started) / 1000;
  const all = new Set<string>();
  let calls = 0;
  for (const report of reports) {
    // Each fork returned exactly once per VM, in order, with its own token.
    expect(report.tokens).toHaveLength(FORKS * VMS);
    report.tokens.forEach((token, n) => {
      const [who, i, pid] = token.split(':');
      expect(who).toBe(report.who);
      expect(Number(i)).toBe(Math.floor(n / VMS));
      expect(pids.has(pid!)).toBe(true);
      all.add(token);
    });
    // Each VM session ran exactly the calls it was sent: nothing executed twice, nothing missed.
    for (const { sent, ran } of report.perVm) expect(ran).toBe(sent);
    expect(new Set(report.tokens.map((t) => t.split(':')[2])).size).toBe(VMS);
    calls += report.tokens.length;
  }
  expect(calls).toBe(INITIATORS * FORKS * VMS);
  expect(all.size).toBe(calls);
  console.log(`load: ${INITIATORS} initiator processes × ${FORKS} forks × ${VMS} VMs = ${calls} calls in ${seconds.toFixed(1)} s; all returned once, all tokens unique`);
  for (const v of vms) expect(v.child.exitCode).toBeNull();
});
