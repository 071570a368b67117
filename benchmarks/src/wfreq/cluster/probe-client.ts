// Runs on the initiator's machine of a cluster and talks to test VMs (test-vm.ts):
//
//   node dist/wfreq/cluster/probe-client.js --targets h:p,h:p [--burn ITERATIONS]
//        [--mcast-from ADDR --expect N] [--timeout MS]
//
// Pings every target over TCP; with --mcast-from, multicasts "who?" from that interface address
// and collects answers (until N answered or 2 s); with --burn, asks every target at once to do
// the same fixed CPU work and reports each one's CPU and wall time. Prints one JSON line.
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { MCAST_GROUP, MCAST_PORT } from './test-vm';

export interface ProbeReport {
  pings: { address: string; name: string; pid: number; rttMs: number }[];
  mcast: { name: string; address: string }[];
  burns: { address: string; name: string; cpuMs: number; wallMs: number }[];
  /** Wall time of the whole concurrent burn, ms. */
  burnWallMs?: number;
}

class Conn {
  private readonly queue: ((line: string) => void)[] = [];
  private constructor(
    readonly address: string,
    private readonly socket: Socket,
  ) {
    createInterface({ input: socket }).on('line', (line) => this.queue.shift()?.(line));
  }

  static open(address: string, timeoutMs: number): Promise<Conn> {
    const i = address.lastIndexOf(':');
    const host = address.slice(0, i);
    const port = Number(address.slice(i + 1));
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, timeout: timeoutMs });
      socket.once('connect', () => {
        socket.setTimeout(0);
        socket.setNoDelay(true);
        resolve(new Conn(address, socket));
      });
      socket.once('timeout', () => {
        socket.destroy();
        reject(new Error(`connect ${address}: timed out`));
      });
      socket.once('error', reject);
    });
  }

  request<T>(msg: object, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.address}: no reply in ${timeoutMs} ms`)), timeoutMs);
      this.queue.push((line) => {
        clearTimeout(timer);
        try {
          const reply = JSON.parse(line) as T & { ok?: boolean; error?: string };
          if (reply.ok === false) reject(new Error(`${this.address}: ${reply.error}`));
          else resolve(reply);
        } catch (err) {
          reject(err as Error);
        }
      });
      this.socket.write(`${JSON.stringify(msg)}\n`);
    });
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}

function multicastWho(from: string, expect: number, timeoutMs: number): Promise<{ name: string; address: string }[]> {
  return new Promise((resolve, reject) => {
    const udp = createSocket({ type: 'udp4', reuseAddr: true });
    const answers = new Map<string, { name: string; address: string }>();
    let timer: NodeJS.Timeout | undefined;
    let resend: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      clearInterval(resend);
      udp.close();
      resolve([...answers.values()].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })));
    };
    udp.on('error', (err) => {
      clearTimeout(timer);
      clearInterval(resend);
      udp.close();
      reject(err);
    });
    udp.on('message', (msg) => {
      try {
        const a = JSON.parse(msg.toString()) as { name: string; address: string };
        answers.set(a.name, a);
        if (answers.size >= expect) finish();
      } catch {
        // not ours
      }
    });
    // Bind to the interface address: the probe leaves only by that interface.
    udp.bind(0, from, () => {
      udp.setMulticastInterface(from);
      udp.setMulticastTTL(1);
      const send = () => udp.send('who?', MCAST_PORT, MCAST_GROUP);
      send();
      let sends = 1;
      resend = setInterval(() => {
        if (++sends <= 4) send();
      }, 400);
      timer = setTimeout(finish, timeoutMs);
    });
  });
}

async function main(argv: string[]): Promise<void> {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const targets = (get('--targets') ?? '').split(',').filter(Boolean);
  const iterations = Number(get('--burn') ?? 0);
  const timeoutMs = Number(get('--timeout') ?? 120_000);
  const mcastFrom = get('--mcast-from');
  const expect = Number(get('--expect') ?? targets.length);
  const report: ProbeReport = { pings: [], mcast: [], burns: [] };

  const conns = await Promise.all(targets.map((t) => Conn.open(t, 10_000)));
  try {
    for (const c of conns) {
      const t0 = performance.now();
      const r = await c.request<{ name: string; pid: number }>({ op: 'ping' }, 10_000);
      report.pings.push({ address: c.address, name: r.name, pid: r.pid, rttMs: performance.now() - t0 });
    }
    if (mcastFrom) report.mcast = await multicastWho(mcastFrom, expect, 2_000);
    if (iterations > 0) {
      const t0 = performance.now();
      const replies = await Promise.all(
        conns.map((c) => c.request<{ name: string; cpuMs: number; wallMs: number }>({ op: 'burn', iterations }, timeoutMs)),
      );
      report.burnWallMs = performance.now() - t0;
      report.burns = replies.map((r, i) => ({ address: conns[i]!.address, name: r.name, cpuMs: r.cpuMs, wallMs: r.wallMs }));
    }
  } finally {
    for (const c of conns) c.close();
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
