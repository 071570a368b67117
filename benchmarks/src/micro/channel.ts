// What the encrypted channel costs: VR-to-VR round trip and pipelined throughput between two
// `river vm` processes on loopback, plain (no key) beside keyed (every frame in TLS 1.3 PSK),
// interleaved round by round so machine noise hits both alike. Not a test. Loopback only; mDNS
// off; every loop bounded.
//   pnpm --filter @trickle/benchmarks build && pnpm --filter @trickle/benchmarks run bench:channel
//   (node benchmarks/dist/micro/channel.js [--rounds N] [--out-dir DIR])
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { generateKey, startInitiator, type Initiator, type UUID, type VMInfo } from '@river/engine';

import { EchoVR, PING_WORKLOAD, flag, machineSummary, median, runMain, runPinger, startChild } from './harness';

const { rttMessages: RTT_MESSAGES, throughputMessages: TPUT_MESSAGES, window: WINDOW } = PING_WORKLOAD;
const ROUNDS = Number(flag('--rounds', '5'));
const OUT_DIR = flag('--out-dir', join(__dirname, '..', '..', 'results'));

interface Pair {
  init: Initiator;
  a: VMInfo;
  ponger: UUID;
}

async function startPair(cli: string, key: string | undefined, children: ChildProcess[]): Promise<Pair> {
  const env = { RIVER_KEY: key ?? '' };
  const vms = await Promise.all(
    ['A', 'B'].map((n) => startChild([cli, 'vm', '--port', '0', '--host', '127.0.0.1', '--no-advertise', '--name', `bench-${key ? 'tls' : 'plain'}-${n}`], env)),
  );
  children.push(...vms.map((v) => v.proc));
  const address = (line: string) => /listening on (\S+)/.exec(line)![1]!;
  const init = await startInitiator({ mdns: false, key, peers: vms.map((v) => address(v.firstLine)) });
  const found = await init.discover({ timeoutMs: 5000 });
  const a = found.find((f) => f.name.endsWith('-A'))!;
  const b = found.find((f) => f.name.endsWith('-B'))!;
  return { init, a, ponger: await init.deploy(b, EchoVR) };
}

function run(pair: Pair, mode: 'rtt' | 'tput'): ReturnType<typeof runPinger> {
  return runPinger(pair.init, pair.a, pair.ponger, mode);
}

async function main(): Promise<void> {
  const cli = join(dirname(require.resolve('@river/engine/package.json')), 'dist', 'cli.js');
  const children: ChildProcess[] = [];
  process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
  const plain = await startPair(cli, undefined, children);
  const tls = await startPair(cli, generateKey(), children);
  // Warm both.
  await run(plain, 'tput');
  await run(tls, 'tput');
  const rounds: Array<Record<string, number>> = [];
  for (let r = 0; r < ROUNDS; r++) {
    const pr = await run(plain, 'rtt');
    const tr = await run(tls, 'rtt');
    const pt = await run(plain, 'tput');
    const tt = await run(tls, 'tput');
    const round = {
      plainRttMedianUs: pr.median!,
      tlsRttMedianUs: tr.median!,
      plainRttP99Us: pr.p99!,
      tlsRttP99Us: tr.p99!,
      plainMsgsPerSec: pt.perSec!,
      tlsMsgsPerSec: tt.perSec!,
    };
    rounds.push(round);
    console.log(`round ${r + 1}: ${JSON.stringify(Object.fromEntries(Object.entries(round).map(([k, v]) => [k, Math.round(v * 10) / 10])))}`);
  }
  for (const p of [plain, tls]) {
    p.init.send(p.ponger, { tag: 'stop' });
    await p.init.stop();
  }
  const pick = (k: string) => median(rounds.map((r) => r[k]!));
  const rttCost = median(rounds.map((r) => r.tlsRttMedianUs! / r.plainRttMedianUs! - 1));
  const tputChange = median(rounds.map((r) => r.tlsMsgsPerSec! / r.plainMsgsPerSec! - 1));
  const machine = machineSummary();
  const command = `pnpm --filter @trickle/benchmarks run bench:channel${ROUNDS !== 5 ? ` -- --rounds ${ROUNDS}` : ''}`;
  const figures = {
    plainRttMedianUs: pick('plainRttMedianUs'),
    tlsRttMedianUs: pick('tlsRttMedianUs'),
    plainRttP99Us: pick('plainRttP99Us'),
    tlsRttP99Us: pick('tlsRttP99Us'),
    plainMsgsPerSec: pick('plainMsgsPerSec'),
    tlsMsgsPerSec: pick('tlsMsgsPerSec'),
    rttCost,
    throughputChange: tputChange,
  };
  const result = { benchmark: 'channel-micro', date: new Date().toISOString(), command, machine, rounds: ROUNDS, figures, perRound: rounds };
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, 'channel-micro.json'), `${JSON.stringify(result, null, 2)}\n`);
  const f = (x: number, d = 1) => x.toFixed(d);
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
  const md = `# What the encrypted channel costs

VR-to-VR messaging between two \`river vm\` processes on loopback: a plain pair (no key, loopback
only) beside a keyed pair (every frame inside TLS 1.3 with a PSK derived from the cluster key,
AES-128-GCM, ECDHE at connect), ${ROUNDS} rounds interleaved plain/keyed. Costs are taken within each
round (same machine state), then their median.

- Date: ${result.date}
- Command: \`${command}\` (after \`pnpm build\`)
- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}; load average at the end ${machine.loadavgAtEnd.join(' / ')}

| measure | plain | TLS channel | TLS / plain − 1 | aim |
| --- | ---: | ---: | ---: | --- |
| round trip, median (${RTT_MESSAGES.toLocaleString('en')} sequential) | ${f(figures.plainRttMedianUs)} µs | ${f(figures.tlsRttMedianUs)} µs | ${pct(rttCost)} | ≤ +10% |
| round trip, p99 | ${f(figures.plainRttP99Us)} µs | ${f(figures.tlsRttP99Us)} µs | | |
| pipelined throughput (${TPUT_MESSAGES.toLocaleString('en')} messages, ${WINDOW} in flight) | ${Math.round(figures.plainMsgsPerSec).toLocaleString('en')} msg/s | ${Math.round(figures.tlsMsgsPerSec).toLocaleString('en')} msg/s | ${pct(tputChange)} | |

Per round (µs, msg/s):

| round | plain RTT | TLS RTT | plain msg/s | TLS msg/s |
| ---: | ---: | ---: | ---: | ---: |
${rounds.map((r, i) => `| ${i + 1} | ${f(r.plainRttMedianUs!)} | ${f(r.tlsRttMedianUs!)} | ${Math.round(r.plainMsgsPerSec!)} | ${Math.round(r.tlsMsgsPerSec!)} |`).join('\n')}
`;
  writeFileSync(join(OUT_DIR, 'channel-micro.md'), md);
  console.log(md);
}

runMain(main);
