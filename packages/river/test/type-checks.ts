/**
 * Compile-time checks of the public types (run by `pnpm typecheck`, never executed).
 * Each `@ts-expect-error` line must fail to compile.
 */
import {
  RiverError,
  UnknownVRError,
  VirtualResource,
  runInitiator,
  startInitiator,
  type Initiator,
  type Received,
  type UUID,
  type VMInfo,
} from '../src';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assert = <T extends true>(): T => true as T;

class Adder extends VirtualResource {
  main(a: number, b: number): number {
    return a + b;
  }
}

export async function checks(init: Initiator, vm: VMInfo): Promise<void> {
  // runInitiator: argument and result types follow main.
  const sum = await runInitiator(Adder, 1, 2);
  assert<Equal<typeof sum, number>>();
  // @ts-expect-error main takes numbers
  await runInitiator(Adder, 'x', 2);

  // recv: every received message has src and dest; a type argument shapes the rest.
  const m = await init.recv({ src: 'x', tag: 'result' });
  assert<Equal<typeof m.src, UUID>>();
  const typed = await init.recv<{ tag: 'result'; value: number }>({ tag: 'result' });
  assert<Equal<typeof typed, Received<{ tag: 'result'; value: number }>>>();
  assert<Equal<typeof typed.value, number>>();
  // @ts-expect-error the pattern names an attribute the type does not have
  await init.recv<{ value: number }>({ tag: 'result' });
  init.tryRecv((msg) => msg.tag === 'x');

  // send takes a record.
  init.send(m.src, { tag: 'ok' });
  // @ts-expect-error a message is a record, not a string
  init.send(m.src, 'hello');

  // deploy: a VR class or an extension name; resolves with a UUID.
  const id: UUID = await init.deploy(vm, Adder, 1, 2);
  await init.deploy(vm, 'trickle:rai');
  await init.deployWith(vm, Adder, { args: [1, 2], lifetime: 'detached', resourceLimits: { maxOldGenerationSizeMb: 64 } });
  // @ts-expect-error lifetime is 'parent' or 'detached'
  await init.deployWith(vm, Adder, { lifetime: 'forever' });
  void id;

  // Initiator is disposable.
  {
    await using scoped = await startInitiator({ mdns: false });
    void scoped.uuid;
  }

  // Errors narrow through isInstance.
  const e: unknown = new Error();
  if (UnknownVRError.isInstance(e)) assert<Equal<typeof e.code, string>>();
  if (RiverError.isInstance(e)) void e.cause;
}
