import { connectWorkers, createVM, inject, disconnect, CancelledError, RemoteError, SerializationError, TrickleError, VMLostError, WorkerLink, vmInfo } from '../src';

class QuotaError extends Error {
  constructor(message: string, readonly limit: number) {
    super(message);
    this.name = 'QuotaError';
  }
}

function failures(kind: string) {
  switch (kind) {
    case 'type':
      return (null as any).length;
    case 'range':
      return new Array(-1);
    case 'custom':
      throw new QuotaError('over quota', 10);
    case 'code': {
      const error = new Error('no such file') as Error & { code: string; path: string };
      error.code = 'ENOENT';
      error.path = '/nope';
      throw error;
    }
    case 'cause':
      throw new Error('outer', { cause: new TypeError('inner') });
    case 'string':
      throw 'just a string';
    case 'async':
      return Promise.reject(new SyntaxError('late'));
    case 'symbol':
      return Symbol('s');
  }
  return 'fine';
}

async function caught(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('remote errors', () => {
  test('keep the remote name, message, stack, VM, own properties and cause — and the local stack', async () => {
    await using vms = await connectWorkers(1);
    // failures() throws a QuotaError: the class must be on the VM too.
    const vm = await inject(vms[0]!, QuotaError, { failures });
    const name = vmInfo(vms[0]!).name;

    const type = await caught(vm.failures('type'));
    expect(type).toBeInstanceOf(RemoteError);
    expect(RemoteError.isInstance(type)).toBe(true);
    expect(TrickleError.isInstance(type)).toBe(true);
    expect(type.name).toBe('TypeError');
    expect(type.remoteMessage).toMatch(/Cannot read properties of null/);
    expect(type.message).toContain(`[TypeError on VM '${name}', in failures()]`);
    expect(type.vm).toEqual(vmInfo(vms[0]!));
    expect(type.remoteName).toBe('failures()');
    expect(type.code).toBe('TRICKLE_REMOTE');
    expect(type.failure).toBeUndefined();
    // Remote stack: where it happened on the VM (inside the injected function).
    expect(type.remoteStack).toMatch(/at failures/);
    // Local stack: where the caller made the call (this test file), then the remote one.
    expect(type.stack).toMatch(/errors\.test\.ts/);
    expect(type.stack).toMatch(/--- remote stack on VM .* ---\n\s+at failures/);

    const range = await caught(vm.failures('range'));
    expect(range.name).toBe('RangeError');

    const custom = await caught(vm.failures('custom'));
    expect(custom.name).toBe('QuotaError');
    expect(custom.remoteMessage).toBe('over quota');
    expect(custom.limit).toBe(10);
    expect(custom.props).toEqual({ limit: 10 });

    const coded = await caught(vm.failures('code'));
    expect(coded.code).toBe('ENOENT');
    expect(coded.path).toBe('/nope');

    const withCause = await caught(vm.failures('cause'));
    expect(withCause.remoteMessage).toBe('outer');
    expect(RemoteError.isInstance(withCause.cause)).toBe(true);
    expect(withCause.cause.name).toBe('TypeError');
    expect(withCause.cause.remoteMessage).toBe('inner');

    const thrownString = await caught(vm.failures('string'));
    expect(thrownString.remoteMessage).toBe('just a string');
    expect(thrownString.thrown).toBe('just a string');

    const late = await caught(vm.failures('async'));
    expect(late.name).toBe('SyntaxError');
    expect(late.remoteMessage).toBe('late');

    // The VM works on after each failure.
    expect(await vm.failures('none')).toBe('fine');
  });

  test('a missing name, something not callable, a bad path: each names the VM and the remote name', async () => {
    await using vms = await connectWorkers(1);
    const vm = vms[0]!;
    const name = vmInfo(vm).name;
    await inject(vm, { data: { n: 1 }, nothing: null });

    const missing = await caught(vm.foo(1));
    expect(missing.name).toBe('ReferenceError');
    expect(missing.failure).toBe('NOT_DEFINED');
    expect(missing.message).toMatch(new RegExp(`'foo' is not defined in the session namespace; inject it first.*VM '${name}', in foo\\(\\)`));

    const notCallable = await caught(vm.data.n(1));
    expect(notCallable.name).toBe('TypeError');
    expect(notCallable.failure).toBe('NOT_CALLABLE');
    expect(notCallable.message).toMatch(/data\.n is not a function \(it is a number: 1\)/);

    const notConstructor = await caught(new vm.data.n());
    expect(notConstructor.failure).toBe('NOT_CALLABLE');
    expect(notConstructor.message).toMatch(/data\.n is not a constructor/);

    const badPath = await caught(vm.nothing.x.y);
    expect(badPath.failure).toBe('BAD_PATH');
    expect(badPath.message).toMatch(/cannot read 'x' of nothing: nothing is null/);
  });

  test('unserialisable values fail with SerializationError naming the VM and the remote name', async () => {
    await using vms = await connectWorkers(1);
    const vm = await inject(vms[0]!, { failures, echo: (x: unknown) => x });
    const name = vmInfo(vms[0]!).name;

    // A result that cannot come back.
    const result = await caught(vm.failures('symbol'));
    expect(SerializationError.isInstance(result)).toBe(true);
    expect(result.message).toMatch(new RegExp(`a symbol .* cannot be sent \\(failures\\(\\) on VM '${name}'\\)`));
    expect(result.vm.name).toBe(name);

    // Arguments that cannot go: checked before sending.
    class Local {
      x = 1;
    }
    const instance = await caught(vm.echo({ list: [1, new Local()] }));
    expect(SerializationError.isInstance(instance)).toBe(true);
    expect(instance.message).toMatch(new RegExp(`cannot send argument 1 of echo\\(\\)\\.list\\[1\\] to VM '${name}': it is an instance of Local`));
    expect(instance.where).toBe('argument 1 of echo().list[1]');

    const symbol = await caught(vm.echo(Symbol('x')));
    expect(symbol.message).toMatch(/a symbol \(Symbol\(x\)\) cannot be sent/);

    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cycle = await caught(vm.echo(cyclic));
    expect(cycle.message).toMatch(/cyclic structure/);

    // set with an unsendable value throws at once.
    const untyped = vms[0]!;
    expect(() => {
      untyped.echo.x = Symbol('y');
    }).toThrow(SerializationError);
  });

  test('a lost session fails pending and later requests with VMLostError', async () => {
    const link = new WorkerLink({ name: 'doomed' });
    const vm = createVM(link);
    await inject(vm, { spin: () => new Promise(() => undefined), crash: () => process.exit(3) });
    const pending = caught(vm.spin());
    const crashed = caught(vm.crash());
    const error = await pending;
    expect(VMLostError.isInstance(await crashed)).toBe(true);
    expect(VMLostError.isInstance(error)).toBe(true);
    expect(error.vm.name).toBe('doomed');
    expect(error.message).toMatch(/lost the session on VM 'doomed' during spin\(\): the session worker of VM 'doomed' exited \(code 3\)/);
    const later = await caught(vm.spin());
    expect(VMLostError.isInstance(later)).toBe(true);
    await disconnect(vm);
  });

  test('disconnect cancels what is outstanding', async () => {
    const vms = await connectWorkers(1);
    const vm = vms[0]!;
    await inject(vm, { spin: () => new Promise(() => undefined) });
    const pending = caught(vm.spin());
    await disconnect(vms);
    const error = await pending;
    expect(CancelledError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/closed while spin\(\) was outstanding/);
    expect(CancelledError.isInstance(await caught(vm.spin()))).toBe(true);
  });
});
