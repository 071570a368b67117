import { ANY, matches } from '../src';

describe('matches', () => {
  test('literals by SameValueZero', () => {
    expect(matches({ tag: 'a', n: 1 }, { tag: 'a', n: 1, extra: true })).toBe(true);
    expect(matches({ tag: 'a' }, { tag: 'b' })).toBe(false);
    expect(matches({ n: 1 }, { n: '1' })).toBe(false);
    expect(matches({ n: Number.NaN }, { n: Number.NaN })).toBe(true);
    expect(matches({ n: 0 }, { n: -0 })).toBe(true);
    expect(matches({ big: 10n }, { big: 10n })).toBe(true);
    expect(matches({ x: null }, { x: undefined })).toBe(false);
  });

  test('an undefined literal matches an absent attribute; ANY does not', () => {
    expect(matches({ x: undefined }, {})).toBe(true);
    expect(matches({ x: ANY }, {})).toBe(false);
    expect(matches({ x: ANY }, { x: undefined })).toBe(true);
    expect(matches({ x: ANY }, { x: 0 })).toBe(true);
  });

  test('the empty pattern matches everything', () => {
    expect(matches({}, {})).toBe(true);
    expect(matches({}, { a: 1 })).toBe(true);
  });

  test('predicates get the attribute value (undefined when absent)', () => {
    const seen: unknown[] = [];
    const positive = (v: unknown): boolean => {
      seen.push(v);
      return typeof v === 'number' && v > 0;
    };
    expect(matches({ n: positive }, { n: 3 })).toBe(true);
    expect(matches({ n: positive }, { n: -3 })).toBe(false);
    expect(matches({ n: positive }, {})).toBe(false);
    expect(seen).toEqual([3, -3, undefined]);
  });

  test('arrays, plain objects, Maps, Sets, Dates and bytes by deep equality', () => {
    expect(matches({ path: ['a', 1] }, { path: ['a', 1] })).toBe(true);
    expect(matches({ path: ['a', 1] }, { path: ['a', 1, 2] })).toBe(false);
    expect(matches({ o: { a: [1, { b: 2 }] } }, { o: { a: [1, { b: 2 }] } })).toBe(true);
    expect(matches({ o: { a: 1 } }, { o: { a: 1, b: 2 } })).toBe(false);
    expect(matches({ o: { a: undefined } }, { o: {} })).toBe(false);
    expect(matches({ m: new Map([[1, 'x']]) }, { m: new Map([[1, 'x']]) })).toBe(true);
    expect(matches({ m: new Map([[1, 'x']]) }, { m: new Map([[1, 'y']]) })).toBe(false);
    expect(matches({ m: new Map([[{ k: 1 }, 'x']]) }, { m: new Map([[{ k: 1 }, 'x']]) })).toBe(true);
    expect(matches({ s: new Set([1, [2]]) }, { s: new Set([[2], 1]) })).toBe(true);
    expect(matches({ s: new Set([1]) }, { s: new Set([2]) })).toBe(false);
    expect(matches({ d: new Date(5) }, { d: new Date(5) })).toBe(true);
    expect(matches({ d: new Date(5) }, { d: new Date(6) })).toBe(false);
    expect(matches({ b: new Uint8Array([1, 2]) }, { b: new Uint8Array([1, 2]) })).toBe(true);
    expect(matches({ b: new Uint8Array([1, 2]) }, { b: new Int8Array([1, 2]) })).toBe(false);
    expect(matches({ b: new Uint8Array([1, 2]) }, { b: new Uint8Array([1, 3]) })).toBe(false);
  });

  test('kinds never equal each other, and class instances compare by identity', () => {
    class Point {
      constructor(readonly x: number) {}
    }
    const p = new Point(1);
    expect(matches({ v: [1] }, { v: { 0: 1, length: 1 } })).toBe(false);
    expect(matches({ v: {} }, { v: [] })).toBe(false);
    expect(matches({ v: new Map() }, { v: {} })).toBe(false);
    expect(matches({ v: p }, { v: p })).toBe(true);
    expect(matches({ v: p }, { v: new Point(1) })).toBe(false);
    expect(matches({ v: { x: 1 } }, { v: p })).toBe(false);
  });
});
