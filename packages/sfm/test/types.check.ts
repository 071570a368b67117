// Compile-time tests, checked by `pnpm typecheck` (tsc -p tsconfig.json --noEmit); never run.
// Each `@ts-expect-error` line must fail to compile: if it compiled, tsc reports the unused
// directive and the typecheck fails.
import { ANY, Codec, Mailbox, defineExtension, matches, type Message, type Pattern } from '../src';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | void {}

// Message types are object type aliases (exact keys) or interfaces that extend Message (which
// brings an index signature, so patterns may name other attributes too).
type Ping = { tag: 'ping'; id: number };
type Pong = { tag: 'pong'; id: number; payload?: string };
interface Envelope extends Message {
  src: string;
  tag: string;
}
const isPong = (m: Message): m is Pong => m.tag === 'pong';

export async function recvTypes(mb: Mailbox): Promise<void> {
  // A pattern with an explicit type argument gives that type.
  const pong = mb.recv<Pong>({ tag: 'pong' });
  assertType<Equal<typeof pong, Promise<Pong>>>();
  const byId = await mb.recv<Pong>({ tag: 'pong', id: (n) => n > 3, payload: ANY }, { timeoutMs: 10 });
  assertType<Equal<typeof byId, Pong>>();

  // A type guard narrows.
  const guarded = await mb.recv(isPong);
  assertType<Equal<typeof guarded, Pong>>();
  const peeked = mb.peek<Pong>({ tag: 'pong' });
  assertType<Equal<typeof peeked, Pong | undefined>>();
  const tried = mb.tryRecv(isPong);
  assertType<Equal<typeof tried, Pong | undefined>>();

  const fromPeer = await mb.recv<Envelope>({ src: 'A', tag: 'result', id: 7 });
  assertType<Equal<typeof fromPeer, Envelope>>();

  // No type argument, no guard: a Message, whatever the pattern looks like.
  const anything = await mb.recv({ tag: 'pong' });
  assertType<Equal<typeof anything, Message>>();
  const predicate = await mb.recv((m) => m.id === 1);
  assertType<Equal<typeof predicate, Message>>();
  const none = await mb.recv();
  assertType<Equal<typeof none, Message>>();

  // @ts-expect-error a literal the type does not allow
  await mb.recv<Pong>({ tag: 'ping' });
  // @ts-expect-error a literal of the wrong type
  await mb.recv<Pong>({ id: 'one' });
  // @ts-expect-error an attribute the type does not have
  await mb.recv<Pong>({ tag: 'pong', colour: 'red' });
  // @ts-expect-error a predicate over the wrong value type
  await mb.recv<Pong>({ id: (s: string) => s.length > 0 });
  // @ts-expect-error the result is a Pong, not a Ping
  const wrong: Ping = await mb.recv<Pong>({ tag: 'pong' });
  // @ts-expect-error a guarded result is a Pong, not a Ping
  const wrongGuard: Ping = await mb.recv(isPong);
  // @ts-expect-error options are an object
  await mb.recv<Pong>({ tag: 'pong' }, 100);
  // @ts-expect-error a message is a record, not a primitive
  mb.put('ping');
  mb.put({ tag: 'ping', id: 1 } satisfies Ping);
  void wrong;
  void wrongGuard;
}

export function patternTypes(m: Message): void {
  const p: Pattern<Ping> = { tag: 'ping', id: ANY };
  if (matches<Ping>(p, m)) {
    assertType<Equal<typeof m, Ping>>();
  }
  // @ts-expect-error 'pong' is not a Ping tag
  const q: Pattern<Ping> = { tag: 'pong' };
  void q;
}

export function extensionTypes(): void {
  class Ref {
    constructor(readonly id: string) {}
  }
  class Other {
    constructor(readonly n: number) {}
  }
  // `encode` gets its parameter type from `type`.
  const ext = defineExtension({ tag: 50000, type: Ref, encode: (ref) => ref.id, decode: (id) => new Ref(String(id)) });
  new Codec({ extensions: [ext] });
  // @ts-expect-error `encode` reads a property that `type` does not have
  defineExtension({ tag: 50000, type: Ref, encode: (ref) => ref.n, decode: () => 1 });
  // @ts-expect-error `encode` takes another class
  defineExtension({ tag: 50000, type: Ref, encode: (other: Other) => other.n, decode: () => 1 });
  // @ts-expect-error a tag is a number
  new Codec({ extensions: [{ tag: 'ref', type: Ref, encode: () => 1, decode: () => 1 }] });
  const decoded = new Codec().decode(new Uint8Array());
  assertType<Equal<typeof decoded, unknown>>();
}

// Interfaces are message types too (no index signature, no `extends Message` needed).
interface Job {
  tag: 'job';
  id: number;
  input?: string;
}
const isJob = (m: unknown): m is Job => (m as Job | undefined)?.tag === 'job';
const isJobObject = (m: object): m is Job => 'id' in m;

export async function interfaceTypes(mb: Mailbox, job: Job): Promise<void> {
  mb.put(job);
  const got = await mb.recv<Job>({ tag: 'job', id: (n) => n > 0, input: ANY });
  assertType<Equal<typeof got, Job>>();
  // Guards over unknown or object narrow, like guards over Message.
  const guarded = await mb.recv(isJob);
  assertType<Equal<typeof guarded, Job>>();
  const guardedObject = mb.tryRecv(isJobObject);
  assertType<Equal<typeof guardedObject, Job | undefined>>();
  const p: Pattern<Job> = { tag: 'job' };
  const m: Message = {};
  if (matches<Job>(p, m)) assertType<Equal<typeof m, Message & Job>>();

  // @ts-expect-error a misspelt attribute (the pattern is checked against the type argument)
  await mb.recv<Job>({ tga: 'job' });
  // @ts-expect-error a misspelt tag
  await mb.recv<Job>({ tag: 'jbo' });
  // @ts-expect-error a guarded Job is not a Ping
  const wrong: Ping = await mb.recv(isJob);
  void wrong;
}
