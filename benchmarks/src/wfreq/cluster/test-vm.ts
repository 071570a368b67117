// A stand-in VM for exercising the cluster before `trickle vm` exists:
//
//   node dist/wfreq/cluster/test-vm.js --host H --port P [--name N] [--mcast]
//
// Listens on TCP host:port and prints `host:port` as its first line of stdout (as `river vm` and
// `trickle vm` do). Protocol: one JSON object per line each way.
//   {"op":"ping"}                → {"ok":true,"name","address","pid"}
//   {"op":"burn","iterations":N} → {"ok":true,"cpuMs","wallMs","result"}  (fixed CPU-bound work)
//   {"op":"count","files":[…]}   → {"ok":true,"counts":[[word,count],…]}  (the paper's wordcount)
// With --mcast it also answers multicast probes ("who?" datagrams to MCAST_GROUP:MCAST_PORT,
// joined on its own --host interface only) with a unicast {"name","address"}: proof that
// multicast works across the bridge. The cluster passes --mcast only inside its namespaces.
// Exits on SIGTERM/SIGINT and when its stdin closes (its parent is gone).
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { wordcount } from '../wordcount';

export const MCAST_GROUP = '239.255.70.70';
export const MCAST_PORT = 7070;

/** Fixed, deterministic CPU work (no allocation): `iterations` rounds of an integer mix. */
export function burn(iterations: number): number {
  let x = 0x12345678;
  let acc = 0;
  for (let i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    acc = (acc + (x >>> 0)) % 1_000_000_007;
  }
  return acc;
}

/** Runs `burn` and measures it: wall time and this process's CPU time. */
export function timedBurn(iterations: number): { cpuMs: number; wallMs: number; result: number } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = burn(iterations);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs, result };
}

function main(argv: string[]): void {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const host = get('--host') ?? '127.0.0.1';
  const port = Number(get('--port') ?? 0);
  const name = get('--name') ?? `test-vm-${process.pid}`;
  const mcast = argv.includes('--mcast');
  let address = '';

  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    createInterface({ input: socket }).on('line', (line) => {
      let req: { op?: string; iterations?: number; files?: string[] };
      try {
        req = JSON.parse(line) as typeof req;
      } catch {
        socket.write(`${JSON.stringify({ ok: false, error: 'bad json' })}\n`);
        return;
      }
      if (req.op === 'ping') socket.write(`${JSON.stringify({ ok: true, name, address, pid: process.pid })}\n`);
      else if (req.op === 'burn') {
        const iterations = Math.min(Math.max(0, Math.floor(req.iterations ?? 0)), 5e10);
        socket.write(`${JSON.stringify({ ok: true, name, ...timedBurn(iterations) })}\n`);
      } else if (req.op === 'count' && Array.isArray(req.files)) {
        try {
          socket.write(`${JSON.stringify({ ok: true, name, counts: [...wordcount(req.files)] })}\n`);
        } catch (err) {
          socket.write(`${JSON.stringify({ ok: false, error: (err as Error).message })}\n`);
        }
      } else socket.write(`${JSON.stringify({ ok: false, error: `unknown op ${String(req.op)}` })}\n`);
    });
  });

  const udp = mcast ? createSocket({ type: 'udp4', reuseAddr: true }) : undefined;
  const shutdown = () => {
    server.close();
    udp?.close();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();

  server.listen(port, host, () => {
    const a = server.address() as AddressInfo;
    address = `${a.address}:${a.port}`;
    const ready = () => process.stdout.write(`${address}\n`);
    if (!udp) return ready();
    udp.on('error', (err) => {
      process.stderr.write(`multicast: ${err.message}\n`);
      process.exit(1);
    });
    udp.on('message', (msg, rinfo) => {
      if (msg.toString() === 'who?') udp.send(JSON.stringify({ name, address }), rinfo.port, rinfo.address);
    });
    udp.bind(MCAST_PORT, () => {
      udp.addMembership(MCAST_GROUP, host);
      ready();
    });
  });
}

if (require.main === module) main(process.argv.slice(2));
