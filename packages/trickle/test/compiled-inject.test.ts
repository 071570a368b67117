import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import * as ts from 'typescript';
import { connectWorkers, inject, type VM } from '../src';
import * as original from './fixtures/functions';
import * as originalPrivate from './fixtures/private-class';

type Fixture = typeof original;
type PrivateFixture = typeof originalPrivate;

const outDir = mkdtempSync(join(tmpdir(), 'trickle-compiled-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

function load<T>(name: string, code: string): T {
  const file = join(outDir, `${name}.js`);
  writeFileSync(file, code);
  return require(file) as T;
}

function withTsc<T>(fixture: string, target: ts.ScriptTarget): T {
  const source = readFileSync(join(__dirname, 'fixtures', `${fixture}.ts`), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { target, module: ts.ModuleKind.CommonJS, downlevelIteration: true, strict: true },
    fileName: `${fixture}.ts`,
  });
  return load<T>(`${fixture}-tsc-${ts.ScriptTarget[target]}`, outputText);
}

function withEsbuild<T>(fixture: string, target: string): T {
  const source = readFileSync(join(__dirname, 'fixtures', `${fixture}.ts`), 'utf8');
  // What tsx does: esbuild, CommonJS, keepNames (which wraps functions in __name(...)).
  const { code } = esbuild.transformSync(source, { loader: 'ts', format: 'cjs', target, keepNames: true, sourcefile: `${fixture}.ts` });
  return load<T>(`${fixture}-esbuild-${target}`, code);
}

const variants: Array<[string, () => Fixture]> = [
  ['ts-jest (ES2022)', () => original],
  ['tsc ES5', () => withTsc<Fixture>('functions', ts.ScriptTarget.ES5)],
  ['tsc ES2015', () => withTsc<Fixture>('functions', ts.ScriptTarget.ES2015)],
  ['tsc ES2022', () => withTsc<Fixture>('functions', ts.ScriptTarget.ES2022)],
  ['esbuild (tsx) node20', () => withEsbuild<Fixture>('functions', 'node20')],
  ['esbuild es2015', () => withEsbuild<Fixture>('functions', 'es2015')],
];

let vms: VM[] & AsyncDisposable;
beforeAll(async () => {
  vms = await connectWorkers(1);
});
afterAll(async () => {
  await vms[Symbol.asyncDispose]();
});

/** What every variant must compute, computed locally with the ts-jest build. */
async function expected() {
  const o = original;
  return {
    sum: o.sum(1, 2, 3),
    merge: o.merge({ a: 1 }, { b: 2 }),
    pick: o.pick({ a: 1, b: 2, c: 3 }),
    later: await o.later(4),
    collect: o.collect(3),
    asyncSum: await o.asyncSum([1, 2]),
    twice: o.helpers.twice(4),
    slowly: await o.helpers.slowly(4),
    square: new o.Square(3).describe(),
    wordcount: o.wordcount(['a b a', 'c a']),
  };
}

describe.each(variants)('injecting code compiled by %s', (label, build) => {
  test('functions, generators, async functions, method shorthand, rest/spread, classes', async () => {
    const m = build();
    const vm = vms[0]!;
    // A fresh name space per variant: inject under the same names, replacing the previous ones.
    await inject(vm, m.sum, m.merge, m.pick, m.later, m.range, m.collect, m.asyncSum, m.helpers, m.Shape, m.Square, m.wordcount);
    const got = {
      sum: await vm.sum(1, 2, 3),
      merge: await vm.merge({ a: 1 }, { b: 2 }),
      pick: await vm.pick({ a: 1, b: 2, c: 3 }),
      later: await vm.later(4),
      collect: await vm.collect(3),
      asyncSum: await vm.asyncSum([1, 2]),
      twice: await vm.twice(4),
      slowly: await vm.slowly(4),
      square: await (await new vm.Square(3)).describe(),
      wordcount: await vm.wordcount(['a b a', 'c a']),
    };
    expect(got).toEqual(await expected());
    const square = await new vm.Square(2);
    expect(await square.kind).toBe('shape');
    expect(await square.area()).toBe(4);
    expect(await vm.eval('Shape.created')).toBeGreaterThan(0);
    void label;
  });
});

const privateVariants: Array<[string, () => PrivateFixture]> = [
  ['ts-jest (ES2022)', () => originalPrivate],
  ['tsc ES2015', () => withTsc<PrivateFixture>('private-class', ts.ScriptTarget.ES2015)],
  ['tsc ES2022', () => withTsc<PrivateFixture>('private-class', ts.ScriptTarget.ES2022)],
  ['esbuild (tsx) node20', () => withEsbuild<PrivateFixture>('private-class', 'node20')],
  ['esbuild es2020', () => withEsbuild<PrivateFixture>('private-class', 'es2020')],
];

describe.each(privateVariants)('injecting a class with private fields compiled by %s', (_label, build) => {
  test('private fields work on the VM, per instance', async () => {
    const { Vault } = build();
    const vm = vms[0]!;
    await inject(vm, Vault);
    const a = await new vm.Vault();
    const b = await new vm.Vault();
    expect(await a.add('x')).toBe(1);
    expect(await a.add('y')).toBe(2);
    expect(await b.add('z')).toBe(1);
    expect(await a.size).toBe(2);
    expect(await a.holds('y')).toBe(true);
    expect(await b.holds('y')).toBe(false);
    expect(await a.opened).toBe(2);
    expect(await vm.Vault.label).toBe('vault');
  });
});

test('the compiled variants really use the helpers the VM must provide', () => {
  const es5 = ts.transpileModule(readFileSync(join(__dirname, 'fixtures', 'functions.ts'), 'utf8'), {
    compilerOptions: { target: ts.ScriptTarget.ES5, module: ts.ModuleKind.CommonJS, downlevelIteration: true },
  }).outputText;
  for (const helper of ['__awaiter', '__generator', '__assign', '__rest', '__spreadArray', '__values', '__read', '__extends']) {
    expect(es5).toContain(`${helper}(`);
  }
  const m = withEsbuild<Fixture>('functions', 'es2015');
  expect(Function.prototype.toString.call(m.collect)).toContain('__name(');
  expect(Function.prototype.toString.call(m.later)).toContain('__async(');
  const p = withEsbuild<PrivateFixture>('private-class', 'es2020');
  expect(Function.prototype.toString.call(p.Vault)).toContain('__privateAdd(');
  const t = withTsc<PrivateFixture>('private-class', ts.ScriptTarget.ES2015);
  expect(Function.prototype.toString.call(t.Vault)).toContain('__classPrivateFieldGet(');
});
