// Micro benchmark of @river/engine: VR-to-VR round-trip latency and pipelined throughput between
// two `river vm` processes on loopback, each beside its floor measured in the same run: a raw
// node:net ping-pong between two processes with 4-byte length-prefixed frames carrying the same
// bytes. Not a test. Loopback only; mDNS off; every loop bounded.
//   pnpm --filter @trickle/benchmarks build && pnpm --filter @trickle/benchmarks run bench:river
//   (node benchmarks/dist/micro/river.js [--rounds N] [--out-dir DIR])
import { RAW_ECHO_SERVER } from './raw-echo-server';
import { EchoVR, PING_WORKLOAD, flag, runPinger, machineSummary, runMain, median, percentile, startChild } from './harness';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';

import { startInitiator, type VMInfo } from '@river/engine';
import { encode } from '@river/sfm';

const {
  rttMessages: RTT_MESSAGES,
  rttWarmup: RTT_WARMUP,
  throughputMessages: TPUT_MESSAGES,
  window: WINDOW,
  deadlineMs: DEADLINE_MS,
} = PING_WORKLOAD;

const ROUNDS = Number(flag('--rounds', '5'));
const OUT_DIR = flag('--out-dir', join(__dirname, '..', '..', 'results'));


// ---------------------------------------------------------------------------------------------
// The floor: raw node:net, two processes, 4-byte big-endian length prefix.

/** A client for the raw floor that counts complete frames as they come back. */
class RawClient {
  private buf: Buffer = Buffer.alloc(0);
  private onFrames: (n: number) => void = () => undefined;
  constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      let k = 0;
      let end = 0;
      while (this.buf.length - end >= 4) {
        const n = this.buf.readUInt32BE(end);
        if (this.buf.length - end < 4 + n) break;
        end += 4 + n;
        k++;
      }
      this.buf = this.buf.subarray(end);
      if (k) this.onFrames(k);
    });
  }
  frames(handler: (n: number) => void): void {
    this.onFrames = handler;
  }
}

function frameOf(seq: number): Buffer {
  const payload = encode({ tag: 'ping', seq });
  const f = Buffer.allocUnsafe(4 + payload.byteLength);
  f.writeUInt32BE(payload.byteLength, 0);
  f.set(payload, 4);
  return f;
}

async function rawRtt(c: RawClient): Promise<{ median: number; p99: number }> {
  const lat = new Float64Array(RTT_MESSAGES);
  let i = -RTT_WARMUP;
  let t = 0n;
  const deadline = Date.now() + DEADLINE_MS;
  await new Promise<void>((resolve, reject) => {
    c.frames(() => {
      if (i >= 0) lat[i] = Number(process.hrtime.bigint() - t) / 1000;
      i++;
      if (i >= RTT_MESSAGES) return resolve();
      if (Date.now() > deadline) return reject(new Error('deadline'));
      t = process.hrtime.bigint();
      c.socket.write(frameOf(i));
    });
    t = process.hrtime.bigint();
    c.socket.write(frameOf(i));
  });
  lat.sort();
  return { median: percentile(lat, 0.5), p99: percentile(lat, 0.99) };
}

async function rawThroughput(c: RawClient): Promise<number> {
  let sent = 0;
  let got = 0;
  const started = process.hrtime.bigint();
  const deadline = Date.now() + DEADLINE_MS;
  await new Promise<void>((resolve, reject) => {
    const more = (n: number) => {
      const out: Buffer[] = [];
      for (let j = 0; j < n && sent < TPUT_MESSAGES; j++) out.push(frameOf(sent++));
      if (out.length) c.socket.write(Buffer.concat(out));
    };
    c.frames((k) => {
      got += k;
      if (got >= TPUT_MESSAGES) return resolve();
      if (Date.now() > deadline) return reject(new Error('deadline'));
      more(k);
    });
    more(WINDOW);
  });
  return TPUT_MESSAGES / (Number(process.hrtime.bigint() - started) / 1e9);
}

// ---------------------------------------------------------------------------------------------
// River: Pinger (a VR on VM A) and EchoVR (a VR on VM B), both in harness.ts.


// ---------------------------------------------------------------------------------------------


async function main(): Promise<void> {
  const cli = join(dirname(require.resolve('@river/engine/package.json')), 'dist', 'cli.js');
  const children: ChildProcess[] = [];
  const cleanup = () => children.forEach((c) => c.kill('SIGKILL'));
  process.on('exit', cleanup);
  try {
    const [vmA, vmB, raw] = await Promise.all([
      startChild([cli, 'vm', '--port', '0', '--host', '127.0.0.1', '--no-advertise', '--name', 'bench-A'], { RIVER_KEY: '' }),
      startChild([cli, 'vm', '--port', '0', '--host', '127.0.0.1', '--no-advertise', '--name', 'bench-B'], { RIVER_KEY: '' }),
      startChild([RAW_ECHO_SERVER]),
    ]);
    children.push(vmA.proc, vmB.proc, raw.proc);
    const address = (line: string) => /listening on (\S+)/.exec(line)![1]!;
    const init = await startInitiator({ mdns: false, key: undefined, peers: [address(vmA.firstLine), address(vmB.firstLine)] });
    const found = await init.discover({ timeoutMs: 5000 });
    const a = found.find((f) => f.name === 'bench-A') as VMInfo;
    const b = found.find((f) => f.name === 'bench-B') as VMInfo;
    const ponger = await init.deploy(b, EchoVR);
    const socket = await new Promise<Socket>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: Number(raw.firstLine) }, () => resolve(s));
    });
    const rawClient = new RawClient(socket);

    const runRiver = (mode: 'rtt' | 'tput') => runPinger(init, a, ponger, mode);

    // Warm both paths, then interleave the rounds so machine noise hits both alike.
    await rawThroughput(rawClient);
    await runRiver('tput');
    const rounds: Array<Record<string, number>> = [];
    for (let r = 0; r < ROUNDS; r++) {
      const rr = await rawRtt(rawClient);
      const vr = (await runRiver('rtt')) as { median: number; p99: number };
      const rt = await rawThroughput(rawClient);
      const vt = ((await runRiver('tput')) as { perSec: number }).perSec;
      const round = {
        rawRttMedianUs: rr.median,
        rawRttP99Us: rr.p99,
        riverRttMedianUs: vr.median,
        riverRttP99Us: vr.p99,
        rawMsgsPerSec: rt,
        riverMsgsPerSec: vt,
      };
      rounds.push(round);
      console.log(`round ${r + 1}: ${JSON.stringify(Object.fromEntries(Object.entries(round).map(([k, v]) => [k, Math.round(v * 10) / 10])))}`);
    }
    init.send(ponger, { tag: 'stop' });
    await init.stop();
    socket.destroy();

    const pick = (k: string) => median(rounds.map((r) => r[k]!));
    const figures = {
      rawRttMedianUs: pick('rawRttMedianUs'),
      rawRttP99Us: pick('rawRttP99Us'),
      riverRttMedianUs: pick('riverRttMedianUs'),
      riverRttP99Us: pick('riverRttP99Us'),
      rawMsgsPerSec: pick('rawMsgsPerSec'),
      riverMsgsPerSec: pick('riverMsgsPerSec'),
    };
    // Ratios are taken within each round (same machine state), then their median.
    const rttRatios = rounds.map((r) => r.riverRttMedianUs! / r.rawRttMedianUs!);
    const tputRatios = rounds.map((r) => r.riverMsgsPerSec! / r.rawMsgsPerSec!);
    const rttRatio = median(rttRatios);
    const tputRatio = median(tputRatios);
    const quiet = rounds.reduce((best, r) => (r.rawRttMedianUs! < best.rawRttMedianUs! ? r : best));
    const quietRatio = quiet.riverRttMedianUs! / quiet.rawRttMedianUs!;
    const machine = machineSummary();
    const command = 'pnpm --filter @trickle/benchmarks run bench:river';
    const result = {
      benchmark: 'river-micro',
      date: new Date().toISOString(),
      command,
      machine,
      setup: {
        rttMessages: RTT_MESSAGES,
        rttWarmup: RTT_WARMUP,
        throughputMessages: TPUT_MESSAGES,
        window: WINDOW,
        rounds: ROUNDS,
        message: "{ tag: 'ping', seq } / { tag: 'pong', seq } (SFM CBOR); the raw floor echoes the same bytes",
      },
      figures,
      ratios: {
        rttMedianVsFloor: rttRatio,
        throughputVsFloor: tputRatio,
        perRound: rounds.map((_, i) => ({ rtt: rttRatios[i], throughput: tputRatios[i] })),
        rttInRoundWithLowestFloor: quietRatio,
      },
      aims: {
        rttMedianWithin: 2,
        throughputAtLeast: 0.5,
        rttMetInRounds: rttRatios.filter((x) => x <= 2).length,
        throughputMetInRounds: tputRatios.filter((x) => x >= 0.5).length,
        rounds: ROUNDS,
      },
      rounds,
    };
    mkdirSync(OUT_DIR, { recursive: true });
    writeFileSync(join(OUT_DIR, 'river-micro.json'), `${JSON.stringify(result, null, 2)}\n`);
    const f = (x: number, d = 1) => x.toFixed(d);
    const md = `# @river/engine micro benchmark

VR-to-VR messaging between two \`river vm\` processes on loopback, beside the floor measured in the
same run: a raw \`node:net\` ping-pong between two processes with 4-byte length-prefixed frames
carrying the same message bytes. ${ROUNDS} interleaved rounds; figures are medians over the rounds,
ratios are taken within each round (same machine state) and then their median.

- Date: ${result.date}
- Command: \`${command}\` (after \`pnpm build\`)
- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}; load average at the end ${machine.loadavgAtEnd.join(' / ')} (the machine is shared)

| measure | River (VR ⇄ VR) | raw node:net floor | River / floor | aim |
| --- | ---: | ---: | ---: | --- |
| round trip, median (${RTT_MESSAGES.toLocaleString('en')} sequential) | ${f(figures.riverRttMedianUs)} µs | ${f(figures.rawRttMedianUs)} µs | ${f(rttRatio, 2)}× | ≤ 2× — met in ${rttRatios.filter((x) => x <= 2).length} of ${ROUNDS} rounds |
| round trip, p99 | ${f(figures.riverRttP99Us)} µs | ${f(figures.rawRttP99Us)} µs | ${f(figures.riverRttP99Us / figures.rawRttP99Us, 2)}× | |
| pipelined messages/s (window ${WINDOW}, ${TPUT_MESSAGES.toLocaleString('en')} msgs) | ${Math.round(figures.riverMsgsPerSec).toLocaleString('en')} | ${Math.round(figures.rawMsgsPerSec).toLocaleString('en')} | ${f(tputRatio, 3)} | ≥ 0.5 — met in ${tputRatios.filter((x) => x >= 0.5).length} of ${ROUNDS} rounds |

Per round:

| round | raw RTT median µs | River RTT median µs | RTT ratio | raw msgs/s | River msgs/s | throughput ratio |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rounds.map((r, i) => `| ${i + 1} | ${f(r.rawRttMedianUs!)} | ${f(r.riverRttMedianUs!)} | ${f(rttRatios[i]!, 2)}× | ${Math.round(r.rawMsgsPerSec!).toLocaleString('en')} | ${Math.round(r.riverMsgsPerSec!).toLocaleString('en')} | ${f(tputRatios[i]!, 3)} |`).join('\n')}

In the round with the lowest raw floor (${f(quiet.rawRttMedianUs!)} µs) River's median round trip was
${f(quiet.riverRttMedianUs!)} µs, ${f(quietRatio, 2)}× the floor.

Raw JSON: [river-micro.json](river-micro.json).

## What the figures mean

- Path of one River round trip: Pinger's worker → port → VM A's engine (main thread) → TCP →
  VM B's engine → port → the echo VR's worker, and back: four MessagePort hops and two TCP hops,
  against the floor's two TCP hops. A bare MessagePort round trip (two hops) measured about
  9 µs median on this machine, so the architecture (user code in worker threads, the network on
  a thread user code never runs on) puts a floor of roughly 2 × that under River's round trip
  before any work is done. Wake-up latency dominates both figures and is bimodal on this
  (virtual, shared, 2-core) machine: the raw floor measured ~11 µs in some runs and ~75–80 µs in
  others (a cross-CPU wake-up costs tens of µs here), River ~65–80 µs or ~135–155 µs. River's path
  has six wake-ups per round trip where the floor has two, so the ratio swings between about 1×
  and 13× with the machine's state; in development runs it met the 2× aim only when the floor
  was in its slow mode. Read the per-round table, not only the headline.
- Throughput: every message is SFM-encoded and decoded once (in the two VRs' threads), crosses
  two thread boundaries on each side and is routed by two engines (~4.5 µs of CPU per
  ping/pong exchange in total, measured per step), while the floor only copies bytes. Already in
  place: one port post per tick carrying all of that tick's messages packed into one transferred
  ArrayBuffer; one socket write per tick; ROUTE frames written and read by hand (same CBOR bytes,
  no general encoder); bodies never decoded by engines. These took River from ~55k to ~150k
  messages/s; the aim of half the floor is out of reach for this design on 2 shared cores.
`;
    writeFileSync(join(OUT_DIR, 'river-micro.md'), md);
    console.log(md);
  } finally {
    cleanup();
  }
}

runMain(main);
