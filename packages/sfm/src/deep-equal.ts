/** SameValueZero: `===`, except that NaN equals NaN (and +0 equals -0). */
export function sameValueZero(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}

/**
 * Structural equality for pattern literals: arrays, plain objects, Maps, Sets, Dates, typed
 * arrays, ArrayBuffers and DataViews compare by content; everything else by SameValueZero
 * (so two distinct class instances are never equal).
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (sameValueZero(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;

  if (Array.isArray(a)) return Array.isArray(b) && arraysEqual(a, b);
  if (Array.isArray(b)) return false;
  if (a instanceof Date) return b instanceof Date && sameValueZero(a.getTime(), b.getTime());
  if (a instanceof Map) return b instanceof Map && mapsEqual(a, b);
  if (a instanceof Set) return b instanceof Set && setsEqual(a, b);
  if (ArrayBuffer.isView(a) || a instanceof ArrayBuffer) return bytesEqual(a, b);
  if (isPlainObject(a)) return isPlainObject(b) && plainObjectsEqual(a, b);
  return false;
}

function arraysEqual(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
  return true;
}

function mapsEqual(a: ReadonlyMap<unknown, unknown>, b: ReadonlyMap<unknown, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) {
    if (b.has(key)) {
      if (!deepEqual(value, b.get(key))) return false;
      continue;
    }
    // An object key never has the same identity after a round trip: look for an equal key.
    if (typeof key !== 'object' || key === null) return false;
    let found = false;
    for (const [otherKey, otherValue] of b) {
      if (deepEqual(key, otherKey) && deepEqual(value, otherValue)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

function setsEqual(a: ReadonlySet<unknown>, b: ReadonlySet<unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const item of a) {
    if (b.has(item)) continue;
    if (typeof item !== 'object' || item === null) return false;
    let found = false;
    for (const other of b) {
      if (deepEqual(item, other)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

function bytesEqual(a: ArrayBufferView | ArrayBuffer, b: object): boolean {
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const x = toBytes(a);
  const y = toBytes(b as ArrayBufferView | ArrayBuffer);
  if (x.byteLength !== y.byteLength) return false;
  for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
  return true;
}

function toBytes(view: ArrayBufferView | ArrayBuffer): Uint8Array {
  return view instanceof ArrayBuffer ? new Uint8Array(view) : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function plainObjectsEqual(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || !deepEqual(a[key], b[key])) return false;
  }
  return true;
}

/** An object literal's kind: its prototype is Object.prototype or null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
