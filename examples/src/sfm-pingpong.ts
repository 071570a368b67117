// Two processes exchanging typed SFM messages over a real TCP socket on the loopback address.
// The parent sends pings; the child (a forked process) answers them in reverse order; the parent
// still takes each reply in the order it wants, by id, with selective receive.
//
//   node examples/dist/sfm-pingpong.js
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { FrameDecoder, Mailbox, TimeoutError, encodeFrame, type Message } from '@river/sfm';

type Ping = { tag: 'ping'; id: number; n: number };
type Pong = { tag: 'pong'; id: number; root?: number; error?: Error };

/** A mailbox fed with the messages framed on `socket`, and a function to send messages on it. */
function link(socket: Socket): { mailbox: Mailbox; send: (msg: Message) => void } {
  const mailbox = new Mailbox();
  const frames = new FrameDecoder({ maxFrameBytes: 1024 * 1024 });
  socket.on('data', (chunk) => {
    try {
      for (const msg of frames.push(chunk)) mailbox.put(msg as Message);
    } catch (error) {
      socket.destroy(error as Error); // a FrameError: the peer sent bad bytes
    }
  });
  socket.on('close', () => mailbox.close(new Error('connection closed')));
  return { mailbox, send: (msg) => void socket.write(encodeFrame(msg)) };
}

/** The parent: starts the child, sends it pings, and picks the replies by id. */
export async function runPingPong(log: (line: string) => void = console.log): Promise<void> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  log(`parent: listening on 127.0.0.1:${port}`);
  const child = fork(__filename, ['child', String(port)]);
  const [socket] = (await once(server, 'connection')) as [Socket];
  const { mailbox, send } = link(socket);

  const numbers = [9, 16, 25, -1];
  numbers.forEach((n, i) => send({ tag: 'ping', id: i + 1, n } satisfies Ping));
  send({ tag: 'answer' });
  log(`parent: sent ${numbers.length} pings`);

  // Wait for 'done' while the pongs, which arrive before it, stay queued in arrival order.
  const done = await mailbox.recv<{ tag: 'done'; order: number[] }>({ tag: 'done' });
  log(`parent: the child answered in the order ${done.order.join(', ')}; ${mailbox.size} pongs queued`);
  for (let id = 1; id <= numbers.length; id++) {
    const pong = await mailbox.recv<Pong>({ tag: 'pong', id });
    log(pong.error ? `parent: ping ${id} failed remotely: ${String(pong.error)}` : `parent: pong ${id}: √${numbers[id - 1]} = ${pong.root}`);
  }
  try {
    await mailbox.recv<Pong>({ tag: 'pong', id: 99 }, { timeoutMs: 100 });
  } catch (error) {
    if (!TimeoutError.isInstance(error)) throw error;
    log(`parent: no pong 99 within 100 ms (${error.code})`);
  }

  send({ tag: 'bye' });
  const [code] = (await once(child, 'exit')) as [number];
  log(`parent: child exited with code ${code}`);
  server.close();
}

/** The child: collects the pings, then answers them in reverse order. */
async function runChild(port: number): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const { mailbox, send } = link(socket);

  await mailbox.recv({ tag: 'answer' });
  const pings: Ping[] = [];
  for (let ping = mailbox.tryRecv<Ping>({ tag: 'ping' }); ping; ping = mailbox.tryRecv<Ping>({ tag: 'ping' })) pings.push(ping);
  for (const { id, n } of pings.reverse()) {
    const pong: Pong = n >= 0 ? { tag: 'pong', id, root: Math.sqrt(n) } : { tag: 'pong', id, error: new RangeError(`no real square root of ${n}`) };
    send(pong);
  }
  send({ tag: 'done', order: pings.map((p) => p.id) });

  await mailbox.recv({ tag: 'bye' });
  socket.end();
}

if (require.main === module) {
  const run = process.argv[2] === 'child' ? runChild(Number(process.argv[3])) : runPingPong();
  run.catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
