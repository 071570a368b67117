/**
 * Compile-time tests of River's message types (checked by `pnpm typecheck`, never run): message
 * types may be interfaces; `recv<M>(pattern)` checks the pattern against M; type guards narrow;
 * River's own messages have types; `src` and `dest` cannot be sent. Each `@ts-expect-error` line
 * must fail to compile (an unused directive fails the typecheck).
 */
import {
  ANY,
  type Message,
} from '@river/sfm';
import {
  VirtualResource,
  isExitMessage,
  isStopMessage,
  isSystemMessage,
  isUndeliverableMessage,
  type ExitMessage,
  type Initiator,
  type Received,
  type SystemMessage,
  type UndeliverableMessage,
  type UUID,
} from '../src';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assert = <T extends true>(): T => true as T;

interface Ping {
  tag: 'ping';
  seq: number;
}
interface Pong {
  tag: 'pong';
  seq: number;
  note?: string;
}
type Result = { tag: 'result'; value: number };
const isPong = (m: unknown): m is Pong => (m as Pong | undefined)?.tag === 'pong';
const isResult = (m: Message): m is Message & Result => m.tag === 'result';

export async function interfaces(init: Initiator, peer: UUID, ping: Ping): Promise<void> {
  // An interface is a message type: sent as it is, received by type argument.
  init.send(peer, ping);
  init.send<Ping>(peer, { tag: 'ping', seq: 1 });
  const pong = await init.recv<Pong>({ tag: 'pong', seq: (n) => n > 0, note: ANY });
  assert<Equal<typeof pong, Received<Pong>>>();
  assert<Equal<typeof pong.src, UUID>>();
  // src and dest may be selected on, whatever the type.
  await init.recv<Pong>({ src: peer, tag: 'pong' });
  // A pattern without a type argument takes any attribute and gives a Received message.
  const any = await init.recv({ tag: 'pong', colour: 'red' });
  assert<Equal<typeof any, Received>>();

  // @ts-expect-error a misspelt attribute and tag: the pattern is checked against Ping
  await init.recv<Ping>({ tga: 'pnig' });
  // @ts-expect-error a tag Ping does not have
  await init.recv<Ping>({ tag: 'pnig' });
  // @ts-expect-error a value of the wrong type
  await init.recv<Ping>({ seq: 'one' });
  // @ts-expect-error a predicate over the wrong type
  await init.recv<Ping>({ seq: (s: string) => s === '' });
  // @ts-expect-error the same checks for tryRecv and peek
  init.tryRecv<Ping>({ tga: 'ping' });
  // @ts-expect-error
  init.peek<Ping>({ sqe: 1 });
}

export async function guards(init: Initiator): Promise<void> {
  // Type guards narrow, over unknown or over Message.
  const pong = await init.recv(isPong);
  assert<Equal<typeof pong, Received<Pong>>>();
  const result = init.tryRecv(isResult);
  assert<Equal<typeof result, Received<Message & Result> | undefined>>();
  const peeked = init.peek(isPong);
  assert<Equal<typeof peeked, Received<Pong> | undefined>>();
  // A plain predicate gives a Received message (its parameter is one).
  const byPredicate = await init.recv((m) => m.src === 'x' && m.tag === 'y');
  assert<Equal<typeof byPredicate, Received>>();
  // @ts-expect-error a guarded Pong is not a Ping
  const wrong: Ping = await init.recv(isPong);
  void wrong;
}

export async function systemMessages(init: Initiator, child: UUID): Promise<void> {
  const exit = await init.recv<ExitMessage<number>>({ tag: 'river:exit', src: child });
  assert<Equal<typeof exit.value, number | undefined>>();
  assert<Equal<typeof exit.error, Error | undefined>>();
  const exit2 = await init.recv(isExitMessage);
  assert<Equal<typeof exit2.uuid, UUID>>();
  const bounced = await init.recv(isUndeliverableMessage);
  assert<Equal<typeof bounced, Received<UndeliverableMessage>>>();
  const stop = init.tryRecv(isStopMessage);
  assert<Equal<typeof stop, Received<{ tag: 'river:stop' }> | undefined>>();
  const system = await init.recv(isSystemMessage);
  if (system.tag === 'river:exit') assert<Equal<typeof system.uuid, UUID>>();
  assert<Equal<typeof system, Received<SystemMessage>>>();
  // @ts-expect-error River's exit has no `result`
  await init.recv<ExitMessage>({ tag: 'river:exit', result: 1 });
}

export function reserved(init: Initiator, peer: UUID, got: Received<Pong>): void {
  // @ts-expect-error src is set by River on delivery
  init.send(peer, { tag: 'hello', src: 'me' });
  // @ts-expect-error so is dest
  init.send(peer, { tag: 'hello', dest: peer });
  // @ts-expect-error a received message carries both: forward a copy without them
  init.send(peer, got);
  const { src, dest, ...pong } = got;
  init.send(peer, pong);
  void src;
  void dest;
}

// Inside a VR class, the same types.
export class Worker extends VirtualResource {
  async main(): Promise<number> {
    const job = await this.recv<Ping>({ tag: 'ping' });
    this.send<Pong>(job.src, { tag: 'pong', seq: job.seq });
    // @ts-expect-error Pong has no `colour`
    this.send<Pong>(job.src, { tag: 'pong', seq: job.seq, colour: 'red' });
    return job.seq;
  }
}
