/**
 * Large values over River: 256 MiB cross in both directions — as an argument (initiator → VM)
 * and as a result (VM → initiator) — intact, and with peak memory on both sides bounded (stated
 * below). The initiator runs as its own process so its memory can be measured.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startVm } from '../../river/test/fixtures/vm-process';

jest.setTimeout(90_000);

const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');
const INITIATOR = join(__dirname, 'fixtures', 'large-values.js');
const MB = 256;
/**
 * Peak resident memory allowed, in MiB, for moving one 256 MiB value each way: the value itself
 * plus the copies made on the way (codec, batch, port, frame), on each side.
 */
const INITIATOR_PEAK_MB = 8 * MB;
const VM_PEAK_MB = 6 * MB;

const peakMb = (pid: number) => Math.round(Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);

test(`values of ${MB} MiB cross both ways, with bounded memory`, async () => {
  await using vm = await startVm([], { cli: TRICKLE_CLI });
  const child = spawn(process.execPath, [INITIATOR, vm.address, String(MB)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RIVER_MDNS: 'off', TRICKLE_MDNS: 'off' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 80_000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  expect({ code, err }).toEqual({ code: 0, err: '' });
  const result = JSON.parse(out.trim()) as { toVmMs: number; fromVmMs: number; peakMb: number };
  const vmPeak = peakMb(vm.pid);
  console.log(
    `large values: ${MB} MiB to the VM in ${result.toVmMs} ms, back in ${result.fromVmMs} ms; peak RSS: initiator ${result.peakMb} MiB (bound ${INITIATOR_PEAK_MB}), VM ${vmPeak} MiB (bound ${VM_PEAK_MB})`,
  );
  expect(result.peakMb).toBeLessThan(INITIATOR_PEAK_MB);
  expect(vmPeak).toBeLessThan(VM_PEAK_MB);
  expect(vm.child.exitCode).toBeNull();
});
