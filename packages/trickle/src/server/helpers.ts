/**
 * Helpers that compilers insert into the code they emit and that a function's source refers to
 * without defining: tsc/tslib's downlevel helpers (`__awaiter`, `__generator`, `__assign`,
 * `__rest`, `__spreadArray`, `__values`, `__read`, `__extends`, `__classPrivateFieldGet`…, all
 * from tslib) and esbuild's (`__name` from keepNames — what tsx emits —, `__publicField`,
 * `__privateGet`…, `__async`, `__spreadValues`…; written here from their documented behaviour).
 * They are put in the session namespace, so injected code finds them as globals.
 *
 * Not covered: esbuild's async-generator helpers (`__await`/`__asyncGenerator`, emitted only for
 * targets below ES2018) — their names clash with tslib's, whose versions are installed.
 */
import * as tslib from 'tslib';

const defineProperty = Object.defineProperty;
const hasOwn = Object.prototype.hasOwnProperty;
const propertyIsEnumerable = Object.prototype.propertyIsEnumerable;

const typeError = (message: string): never => {
  throw TypeError(message);
};
const defineNormalProperty = (object: any, key: PropertyKey, value: unknown): unknown =>
  key in object
    ? defineProperty(object, key, { enumerable: true, configurable: true, writable: true, value })
    : (object[key] = value);
const accessCheck = (object: object, member: WeakMap<object, unknown> | WeakSet<object>, what: string): boolean =>
  member.has(object) || typeError(`Cannot ${what}`);
const privateGet = (object: object, member: any, getter?: Function): unknown => (
  accessCheck(object, member, 'read from private field'), getter ? getter.call(object) : member.get(object)
);
const privateSet = (object: object, member: any, value: unknown, setter?: Function): unknown => (
  accessCheck(object, member, 'write to private field'), setter ? setter.call(object, value) : member.set(object, value), value
);

export const esbuildHelpers: Record<string, unknown> = {
  __defProp: defineProperty,
  __typeError: typeError,
  __knownSymbol: (name: string, symbol?: symbol) =>
    (symbol = (Symbol as unknown as Record<string, symbol>)[name]) ? symbol : Symbol.for(`Symbol.${name}`),
  __name: (target: object, value: string) => defineProperty(target, 'name', { value, configurable: true }),
  __defNormalProp: defineNormalProperty,
  __publicField: (object: object, key: PropertyKey, value: unknown) => (
    defineNormalProperty(object, typeof key !== 'symbol' ? `${String(key)}` : key, value), value
  ),
  __accessCheck: accessCheck,
  __privateIn: (member: WeakMap<object, unknown> | WeakSet<object>, object: unknown) =>
    Object(object) !== object ? typeError('Cannot use the "in" operator on this value') : member.has(object as object),
  __privateGet: privateGet,
  __privateSet: privateSet,
  __privateAdd: (object: object, member: any, value?: unknown) =>
    member.has(object)
      ? typeError('Cannot add the same private member more than once')
      : member instanceof WeakSet
        ? member.add(object)
        : member.set(object, value),
  __privateMethod: (object: object, member: any, method: Function) => (accessCheck(object, member, 'access private method'), method),
  __privateWrapper: (object: object, member: any, setter?: Function, getter?: Function) => ({
    set _(value: unknown) {
      privateSet(object, member, value, setter);
    },
    get _() {
      return privateGet(object, member, getter);
    },
  }),
  __async: (self: unknown, args: unknown, generator: any) =>
    new Promise((resolve, reject) => {
      const fulfilled = (value: unknown) => {
        try {
          step(generator.next(value));
        } catch (error) {
          reject(error);
        }
      };
      const rejected = (value: unknown) => {
        try {
          step(generator.throw(value));
        } catch (error) {
          reject(error);
        }
      };
      const step = (result: IteratorResult<unknown>) =>
        result.done ? resolve(result.value) : Promise.resolve(result.value).then(fulfilled, rejected);
      step((generator = generator.apply(self, args)).next());
    }),
  __spreadValues: (target: any, source: any) => {
    source ||= {};
    for (const key in source) if (hasOwn.call(source, key)) defineNormalProperty(target, key, source[key]);
    for (const key of Object.getOwnPropertySymbols(source)) {
      if (propertyIsEnumerable.call(source, key)) defineNormalProperty(target, key, source[key]);
    }
    return target;
  },
  __spreadProps: (target: object, source: object) => Object.defineProperties(target, Object.getOwnPropertyDescriptors(source)),
  __objRest: (source: any, exclude: PropertyKey[]) => {
    const target: any = {};
    for (const key in source) if (hasOwn.call(source, key) && exclude.indexOf(key) < 0) target[key] = source[key];
    if (source != null) {
      for (const key of Object.getOwnPropertySymbols(source)) {
        if (exclude.indexOf(key) < 0 && propertyIsEnumerable.call(source, key)) target[key] = source[key];
      }
    }
    return target;
  },
  __pow: Math.pow,
};

/** Defines every helper that `global` does not have yet (never replaces the VM's own). */
export function installHelpers(global: Record<string, unknown>): void {
  for (const [name, helper] of Object.entries(tslib)) {
    if (name.startsWith('__') && typeof helper === 'function' && !(name in global)) {
      defineProperty(global, name, { value: helper, writable: true, configurable: true, enumerable: false });
    }
  }
  for (const [name, helper] of Object.entries(esbuildHelpers)) {
    if (!(name in global)) defineProperty(global, name, { value: helper, writable: true, configurable: true, enumerable: false });
  }
}
