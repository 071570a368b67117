/**
 * Membership at scale: N = 48 `river vm` processes (env RIVER_SCALE_VMS for another N ≥ 48) on
 * loopback, all started with `--join` the first (in waves of 12 simultaneous joins), ten times
 * over, each time a fresh cluster.
 * Each time:
 *  - asking the seed alone, once, returns all N (every VM printed its address only after its
 *    join was answered, so the seed must know them all);
 *  - asking one other VM returns all N once gossip has spread them;
 *  - no VM keeps a connection to every other: once idle, each holds at most its ring
 *    neighbours (8) and the initiator's connection, where a full mesh would be N − 1.
 * Memory is bounded by N processes at a time (each cluster is stopped before the next); time by
 * each step's deadline.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

import { startInitiator } from '../src';
import { eventually, startVm, startVms, type VmProcess } from './fixtures/vm-process';

const N = Math.max(48, Number(process.env.RIVER_SCALE_VMS ?? 48));
const ROUNDS = 10;
const WAVE = 12;
/** Ring neighbours (4 out, 4 in) + the initiator's connection: what a VM may hold once idle. */
const MAX_CONNECTIONS = 9;

jest.setTimeout(ROUNDS * 180_000);

/** Established TCP connections a process holds (its socket inodes that /proc/net/tcp lists as ESTABLISHED). */
function connectionsOf(pid: number): number {
  const established = new Set<string>();
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '01') established.add(cols[9]!);
    }
  }
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && established.has(m[1]!)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

test(`discovery through one seed returns all ${N} VMs, ${ROUNDS} fresh clusters in a row; connections per VM stay bounded`, async () => {
  const options = { timeoutMs: 180_000 };
  // This machine runs N VMs on a few shared cores: node's start-up alone is seconds of CPU at
  // once, so handshakes and heartbeats get more time than a real machine needs.
  const patient = ['--handshake-timeout', '20000', '--peer-timeout', '20000'];
  for (let round = 1; round <= ROUNDS; round++) {
    await using seed = await startVm(['--name', 'seed', ...patient], options);
    // In waves of WAVE joiners at once (each wave's joins are simultaneous).
    const others: VmProcess[] = [];
    await using _others = { [Symbol.asyncDispose]: () => Promise.all(others.map((v) => v.dispose())).then(() => undefined) };
    while (others.length < N - 1) {
      const wave = await startVms(Math.min(WAVE, N - 1 - others.length), ['--join', seed.address, ...patient], options);
      others.push(...wave);
    }
    const all: VmProcess[] = [seed, ...others];
    const ports = all.map((v) => v.port).sort();
    await using init = await startInitiator({ mdns: false });

    // Once: the seed's answer, not a retry until it is complete.
    const fromSeed = await init.discover({ peers: [seed.address], want: N, timeoutMs: 10_000 });
    // (On failure, the seed's log says which members it lost and why.)
    expect({ round, found: fromSeed.length, seedLog: fromSeed.length === N ? [] : seed.lines.slice(4, 40) }).toEqual({ round, found: N, seedLog: [] });
    expect(fromSeed.map((v) => v.port).sort()).toEqual(ports);
    expect(new Set(fromSeed.map((v) => v.id)).size).toBe(N);

    // Through any other member, once the news has spread.
    const other = others[Math.floor(Math.random() * others.length)]!;
    const fromOther = (await eventually(async () => {
      const list = await init.discover({ peers: [other.address], want: N, timeoutMs: 5000 });
      return list.length === N ? list : undefined;
    }, 60_000))!;
    expect(fromOther.map((v) => v.port).sort()).toEqual(ports);

    // Connections: bounded, whatever N (the seed had one from every joiner at first).
    if (round === 1 || round === ROUNDS) {
      const most = await eventually(() => {
        const counts = all.map((v) => connectionsOf(v.pid));
        const max = Math.max(...counts);
        return max <= MAX_CONNECTIONS ? max : undefined;
      }, 60_000, 1000);
      expect(most).toBeLessThanOrEqual(MAX_CONNECTIONS);
    }
    for (const vm of all) expect(vm.child.exitCode).toBeNull();
  }
});
