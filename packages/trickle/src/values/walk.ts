/**
 * One copy-on-write walk over a value that decides, container by container, what crosses by
 * value. Plain data (primitives, arrays, plain objects, Map, Set, Date, typed arrays, ArrayBuffer,
 * DataView, Error) is kept; everything else goes to the visitor, which replaces it (by a
 * reference marker) or throws. A structure that needs no replacement is returned as is, not
 * copied, and the loops over big containers do nothing but `typeof` checks — a Map of 10,000
 * string → number entries costs a few hundred microseconds.
 */

export interface WalkVisitor {
  /** A function (or callable proxy). Returns its replacement. */
  func(value: Function, where: Where): unknown;
  /** An object that is not plain data. Returns its replacement. */
  object(value: object, where: Where): unknown;
  /** Cannot be sent at all (a symbol, a cycle). Must throw. */
  fail(reason: string, where: Where): never;
  /**
   * A plain object with a function among its values (a module's exports, an object with
   * methods): `'object'` hands the whole object to `object()` (the session sends it by
   * reference); otherwise the walk goes on and each function goes to `func()` (the initiator
   * sends an options object with callbacks by value, its functions as code).
   */
  readonly objectsWithFunctions?: 'object' | 'walk';
}

/** Where in the value the walk is: keys from the root, rendered only when an error needs it. */
export class Where {
  readonly keys: PropertyKey[] = [];
  constructor(readonly root: string) {}
  toString(): string {
    let out = this.root;
    for (const key of this.keys) {
      out += typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(String(key)) ? `.${String(key)}` : `[${JSON.stringify(String(key))}]`;
    }
    return out;
  }
}

/** True when `value` is sent as is (a primitive other than symbol). */
function isPrimitive(value: unknown): boolean {
  const t = typeof value;
  return value === null || (t !== 'object' && t !== 'function' && t !== 'symbol');
}

export function walkValue(value: unknown, visitor: WalkVisitor, where: Where): unknown {
  if (isPrimitive(value)) return value;
  return walk(value, visitor, where, new Set());
}

function walk(value: unknown, visitor: WalkVisitor, where: Where, open: Set<object>): unknown {
  switch (typeof value) {
    case 'symbol':
      return visitor.fail(`a symbol (${String(value)}) cannot be sent`, where);
    case 'function':
      return visitor.func(value as Function, where);
    case 'object':
      break;
    default:
      return value;
  }
  if (value === null) return value;
  const proto = Object.getPrototypeOf(value);
  if (proto === Array.prototype) return guard(value, open, visitor, where, () => walkArray(value as unknown[], visitor, where, open));
  if (proto === Object.prototype || proto === null) return guard(value, open, visitor, where, () => walkObject(value as Record<string, unknown>, visitor, where, open));
  if (proto === Map.prototype) return guard(value, open, visitor, where, () => walkMap(value as Map<unknown, unknown>, visitor, where, open));
  if (proto === Set.prototype) return guard(value, open, visitor, where, () => walkSet(value as Set<unknown>, visitor, where, open));
  if (value instanceof Date || ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Error) return value;
  return visitor.object(value, where);
}

function guard(value: object, open: Set<object>, visitor: WalkVisitor, where: Where, body: () => unknown): unknown {
  if (open.has(value)) return visitor.fail('a cyclic structure cannot be sent by value', where);
  open.add(value);
  try {
    return body();
  } finally {
    open.delete(value);
  }
}

function walkArray(array: unknown[], visitor: WalkVisitor, where: Where, open: Set<object>): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < array.length; i++) {
    const item = array[i];
    if (isPrimitive(item)) {
      if (out) out[i] = item;
      continue;
    }
    where.keys.push(i);
    const replaced = walk(item, visitor, where, open);
    where.keys.pop();
    if (replaced !== item && !out) out = array.slice(0, i);
    if (out) out[i] = replaced;
  }
  return out ?? array;
}

function walkObject(object: Record<string, unknown>, visitor: WalkVisitor, where: Where, open: Set<object>): unknown {
  let out: Record<string, unknown> | undefined;
  const keys = Object.keys(object);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const item = object[key];
    if (isPrimitive(item)) {
      if (out) out[key] = item;
      continue;
    }
    if (typeof item === 'function' && visitor.objectsWithFunctions === 'object') return visitor.object(object, where);
    where.keys.push(key);
    const replaced = walk(item, visitor, where, open);
    where.keys.pop();
    if (replaced !== item && !out) {
      out = Object.getPrototypeOf(object) === null ? Object.create(null) : {};
      for (let j = 0; j < i; j++) out![keys[j]!] = object[keys[j]!];
    }
    if (out) out[key] = replaced;
  }
  return out ?? object;
}

function walkMap(map: Map<unknown, unknown>, visitor: WalkVisitor, where: Where, open: Set<object>): unknown {
  // First pass: only typeof checks, no allocation. Most maps (word counts…) stop here.
  let plain = true;
  for (const [key, item] of map) {
    if (!isPrimitive(key) || !isPrimitive(item)) {
      plain = false;
      break;
    }
  }
  if (plain) return map;
  const out = new Map<unknown, unknown>();
  let changed = false;
  let index = 0;
  for (const [key, item] of map) {
    where.keys.push(`<map entry ${index++}>`);
    const k = isPrimitive(key) ? key : walk(key, visitor, where, open);
    const v = isPrimitive(item) ? item : walk(item, visitor, where, open);
    where.keys.pop();
    if (k !== key || v !== item) changed = true;
    out.set(k, v);
  }
  return changed ? out : map;
}

function walkSet(set: Set<unknown>, visitor: WalkVisitor, where: Where, open: Set<object>): unknown {
  let plain = true;
  for (const item of set) {
    if (!isPrimitive(item)) {
      plain = false;
      break;
    }
  }
  if (plain) return set;
  const out = new Set<unknown>();
  let changed = false;
  let index = 0;
  for (const item of set) {
    where.keys.push(`<set item ${index++}>`);
    const v = walk(item, visitor, where, open);
    where.keys.pop();
    if (v !== item) changed = true;
    out.add(v);
  }
  return changed ? out : set;
}
