/**
 * The raw floor's echo server, shared by the micro benchmarks: plain node:net in its own process,
 * 4-byte big-endian length-prefixed frames, every complete frame echoed back (batched per chunk).
 * Prints its port on the first line of stdout; exits when its stdin closes.
 *   node dist/micro/raw-echo-server.js
 */
import { createServer } from 'node:net';

/** This file, compiled: what a benchmark starts as the floor's server process. */
export const RAW_ECHO_SERVER = __filename;

export function runRawEchoServer(): void {
  const server = createServer((s) => {
    s.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      let end = 0;
      while (buf.length - end >= 4) {
        const n = buf.readUInt32BE(end);
        if (buf.length - end < 4 + n) break;
        end += 4 + n;
      }
      if (end > 0) {
        s.write(buf.subarray(0, end));
        buf = buf.subarray(end);
      }
    });
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    process.stdout.write(`${typeof a === 'object' && a ? a.port : 0}\n`);
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

if (require.main === module) runRawEchoServer();
