import { clientOf } from '../src/internal';
import { connectWorkers, inject, InjectError, RemoteError } from '../src';

// Each kind of function, as ts-jest compiles this file (ES2022, CommonJS).
function plain(x: number) {
  return x + 10;
}
const arrow = (x: number) => x * 2;
async function asyncFn(x: number) {
  await new Promise((r) => setTimeout(r, 1));
  return x + 1;
}
function* gen(n: number) {
  for (let i = 0; i < n; i++) yield i;
}
async function* asyncGen(n: number) {
  for (let i = 0; i < n; i++) yield i;
}
const methods = {
  shorthand(x: number) {
    return x - 1;
  },
  async asyncShorthand(x: number) {
    return x * 10;
  },
  *genShorthand() {
    yield 'a';
    yield 'b';
  },
  async *asyncGenShorthand() {
    yield 'c';
  },
};

class Account {
  static count = 0;
  static label = 'acct';
  static create(owner: string) {
    return new Account(owner);
  }
  #balance = 0;
  readonly owner: string;
  constructor(owner: string) {
    this.owner = owner;
    Account.count++;
  }
  deposit(n: number) {
    this.#balance += n;
    return this.#balance;
  }
  get balance() {
    return this.#balance;
  }
  #secret() {
    return 'hidden';
  }
  reveal() {
    return this.#secret();
  }
  static #instances = 0;
  static bump() {
    return ++Account.#instances;
  }
}

class SavingsAccount extends Account {
  interest(rate: number) {
    return this.balance * rate;
  }
}

describe('inject', () => {
  test('plain, arrow, async, generator and async generator functions', async () => {
    await using vms = await connectWorkers(1);
    const vm = vms[0]!;
    await inject(vm, plain, asyncFn, gen, asyncGen, { arrow });
    await inject(vm, { drain: async (it: AsyncIterable<number>) => { const out = []; for await (const x of it) out.push(x); return out; } });
    expect(await vm.plain(1)).toBe(11);
    expect(await vm.arrow(4)).toBe(8);
    expect(await vm.asyncFn(1)).toBe(2);
    expect(await vm.Array.from(await vm.gen(3))).toEqual([0, 1, 2]); // a remote generator as an argument
    await expect(vm.Array.from(vm.gen(3))).rejects.toThrow(/argument 1 of Array.from\(\) to VM 'worker-\d+': it is a Promise; await it first/);
    const g = await vm.gen(2); // a generator object comes back by reference
    expect(await g.next()).toEqual({ value: 0, done: false });
    expect(await vm.eval('Array.from(gen(4))')).toEqual([0, 1, 2, 3]);
    expect(await vm.drain(await vm.asyncGen(3))).toEqual([0, 1, 2]);
  });

  test('method shorthand: plain, async, generator, async generator', async () => {
    await using vms = await connectWorkers(1);
    const vm = vms[0]!;
    await inject(vm, methods);
    expect(await vm.shorthand(5)).toBe(4);
    expect(await vm.asyncShorthand(5)).toBe(50);
    expect(await vm.eval('[...genShorthand()]')).toEqual(['a', 'b']);
    expect(await vm.eval('(async () => { const o = []; for await (const x of asyncGenShorthand()) o.push(x); return o; })()')).toEqual(['c']);
    // Method shorthand passed by itself keeps its name.
    await inject(vm, methods.shorthand);
    expect(await vm.shorthand(1)).toBe(0);
  });

  test('classes with private fields, private methods, statics and inheritance', async () => {
    await using vms = await connectWorkers(1);
    const vm = vms[0]!;
    await inject(vm, Account, SavingsAccount);
    const a = await new vm.Account('ann');
    expect(await a.deposit(5)).toBe(5);
    expect(await a.deposit(7)).toBe(12);
    expect(await a.balance).toBe(12);
    expect(await a.owner).toBe('ann');
    expect(await a.reveal()).toBe('hidden');
    expect(await vm.Account.count).toBe(1);
    expect(await vm.Account.label).toBe('acct');
    expect(await vm.Account.bump()).toBe(1);
    const b = await vm.Account.create('bob');
    expect(await b.owner).toBe('bob');
    const s = await new vm.SavingsAccount('sue');
    await s.deposit(100);
    expect(await s.interest(0.5)).toBe(50);
    expect(await vm.eval('new SavingsAccount("x") instanceof Account')).toBe(true);
  });

  test('data by key, and a function given by key is injected under that key', async () => {
    await using vms = await connectWorkers(2);
    const table = new Map([[1, 'a'], [2, 'b']]);
    const typed = await inject(vms, { table, names: ['x', 'y'], double: (x: number) => 2 * x, config: { retries: 3, onRetry: (n: number) => n + 1 } });
    for (const vm of typed) {
      expect(await vm.table.get(2)).toBe('b');
      expect(await vm.names).toEqual(['x', 'y']);
      expect(await vm.double(21)).toBe(42);
      expect(await vm.config.retries).toBe(3);
      expect(await vm.config.onRetry(1)).toBe(2);
    }
    // Injected objects are copies.
    table.set(3, 'c');
    expect(await typed[0]!.table.size).toBe(2);
  });

  test('each session has its own namespace', async () => {
    await using vms = await connectWorkers(2);
    const [a, b] = [vms[0]!, vms[1]!];
    await inject(a, { secret: 42 });
    expect(await a.secret).toBe(42);
    await expect(b.secret).rejects.toThrow(/'secret' is not defined/);
  });

  test('anonymous functions and name collisions are rejected before anything is sent', async () => {
    await using vms = await connectWorkers(1);
    const vm = vms[0]!;
    const before = clientOf(vm).requestsSent;
    const anonymous = [(x: number) => x][0]!;
    await expect(inject(vm, anonymous)).rejects.toThrow(/argument 2 is an anonymous function/);
    await expect(inject(vm, plain, { plain: 1 })).rejects.toThrow(/the name 'plain' is given twice \(argument 2 and key 'plain' of argument 3\)/);
    await expect(inject(vm, 42 as any)).rejects.toThrow(InjectError);
    await expect(inject(vm, [plain] as any)).rejects.toThrow(/is an array/);
    expect(clientOf(vm).requestsSent).toBe(before);
  });

  test('native and bound functions are rejected on the initiator with a clear error', async () => {
    await using vms = await connectWorkers(1);
    const vm = vms[0]!;
    const before = clientOf(vm).requestsSent;
    const native = await inject(vm, Math.max).catch((e: unknown) => e);
    expect(InjectError.isInstance(native)).toBe(true);
    expect((native as Error).message).toMatch(/'max' is a native function; its source is `function max\(\) \{ \[native code\] \}`/);
    const bound = await inject(vm, plain.bind(null)).catch((e: unknown) => e);
    expect((bound as Error).message).toMatch(/'bound plain' is a bound function; its source is `function \(\) \{ \[native code\] \}`/);
    // Also as arguments.
    await inject(vm, { apply: (f: Function, x: unknown) => f(x) }).catch(() => undefined);
    expect(clientOf(vm).requestsSent).toBe(before + 1);
    await expect(vm.apply(plain.bind(null), 1)).rejects.toThrow(/bound function/);
    await expect(vm.apply(parseInt, '1')).rejects.toThrow(/'parseInt' is a native function/);
    expect(clientOf(vm).requestsSent).toBe(before + 1);
  });

  test('a closure over the initiator scope fails with an error naming the variable', async () => {
    await using vms = await connectWorkers(1);
    const vm = vms[0]!;
    const rate = 0.2;
    function helper(x: number) {
      return x * 2;
    }
    function price(x: number) {
      return helper(x) * (1 + rate);
    }
    await inject(vm, price);
    const error = await vm.price(10).catch((e: unknown) => e);
    expect(RemoteError.isInstance(error)).toBe(true);
    expect(error.name).toBe('ReferenceError');
    expect(error.failure).toBe('FREE_VARIABLE');
    expect(error.variable).toBe('helper');
    expect(error.message).toMatch(/helper is not defined: price\(\) uses 'helper'.*inject it too, e\.g\. inject\(vm, helper\)/);
    await inject(vm, helper);
    const second = await vm.price(10).catch((e: unknown) => e);
    expect(second.variable).toBe('rate');
    expect(second.message).toMatch(/inject\(vm, \{ rate \}\)/);
    await inject(vm, { rate });
    expect(await vm.price(10)).toBe(24);
  });

  test('a class whose parent was not injected fails at inject with an error naming it', async () => {
    await using vms = await connectWorkers(1);
    const error: any = await inject(vms[0]!, SavingsAccount).catch((e: unknown) => e);
    expect(InjectError.isInstance(error)).toBe(true);
    expect(error.item).toBe('SavingsAccount');
    expect(error.message).toMatch(/cannot inject 'SavingsAccount' into VM 'worker-\d+': Account is not defined/);
    expect(RemoteError.isInstance(error.cause)).toBe(true);
    expect(error.cause.variable).toBe('Account');
  });
});
