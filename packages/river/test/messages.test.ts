/**
 * River's message rules at run time: `send` refuses the attributes River sets on delivery (`src`,
 * `dest`) with a ReservedAttributeError instead of overwriting them, and delivers nothing; the
 * exported guards recognise River's own messages as they arrive.
 */
import {
  ReservedAttributeError,
  RiverVM,
  isExitMessage,
  isStopMessage,
  isSystemMessage,
  isUndeliverableMessage,
  startInitiator,
  type ExitMessage,
} from '../src';
import { Returner } from './fixtures/vrs';

jest.setTimeout(30_000);

test('send refuses src and dest with ReservedAttributeError and sends nothing; other messages get both set', async () => {
  await using init = await startInitiator({ mdns: false, peers: [] });
  for (const attribute of ['src', 'dest']) {
    const error = (() => {
      try {
        init.send(init.uuid, { tag: 'forged', [attribute]: 'someone-else' } as never);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(ReservedAttributeError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'RIVER_RESERVED_ATTRIBUTE', attribute, message: expect.stringContaining(`'${attribute}'`) });
  }
  init.send(init.uuid, { tag: 'real', from: 'me' });
  const got = await init.recv({ tag: (t: unknown) => t === 'forged' || t === 'real' }, { timeoutMs: 5000 });
  expect(got).toEqual({ tag: 'real', from: 'me', src: init.uuid, dest: init.uuid });
  expect(init.tryRecv({ tag: 'forged' })).toBeUndefined();
});

test("the guards recognise River's messages: river:exit, river:undeliverable, river:stop", async () => {
  await using vm = await new RiverVM({ advertise: false }).start();
  await using init = await startInitiator({ mdns: false, peers: [] });
  const child = await init.deploy(vm.info, Returner, 7);
  const exit = await init.recv(isExitMessage, { timeoutMs: 10_000 });
  expect(exit).toMatchObject({ tag: 'river:exit', uuid: child, src: child, dest: init.uuid });
  expect((exit as ExitMessage<{ args: number[] }>).value?.args).toEqual([7]);
  expect(isSystemMessage(exit)).toBe(true);

  init.send(child, { tag: 'too-late' });
  const bounce = await init.recv(isUndeliverableMessage, { timeoutMs: 10_000 });
  expect(bounce).toMatchObject({ dest: child, src: child, message: { tag: 'too-late' } });
  expect(bounce.error.name).toMatch(/VRExitedError|UnknownVRError/);

  expect(isStopMessage({ tag: 'river:stop' })).toBe(true);
  expect(isStopMessage({ tag: 'stop' })).toBe(false);
  expect(isExitMessage({ tag: 'river:exit' })).toBe(false); // no uuid
  expect(isSystemMessage({ tag: 'riverine' })).toBe(false);
  expect(isSystemMessage('river:exit')).toBe(false);
});
