/**
 * Turning a local function or class into something that travels: its source text
 * (`Function.prototype.toString`) plus what the text alone does not carry.
 *
 * - Native and bound functions have no source (`function () { [native code] }`): rejected here,
 *   on the initiator, before anything is sent.
 * - Classes compiled to ES5 functions keep their methods on `Fn.prototype`, assigned outside the
 *   function: those members travel beside the source, and so does the parent's name
 *   (`__extends(Child, _super)`), bound as `_super` on the VM.
 * - Static fields that compilers move out of the class body (esbuild's `__publicField(_A, …)`)
 *   travel as own properties of the function.
 */
import { importsOf, shareLoadedPackage, sourcePositionOf } from '@river/engine';

import { InjectError } from './errors';
import type { CodeDescription, MemberDescription } from './protocol';
import { Where, walkValue, type WalkVisitor } from './values/walk';

// A VM's session has @trickle/core loaded: code that imports it (by a path, in this package's
// own tests) is bound to that copy, never bundled.
shareLoadedPackage('@trickle/core');

const NATIVE_CODE = /\{\s*\[native code\]\s*\}\s*$/;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Own properties every function has, not worth sending as statics. */
const FUNCTION_OWN = new Set(['length', 'name', 'prototype', 'arguments', 'caller']);

export function isNativeOrBound(fn: Function): boolean {
  return NATIVE_CODE.test(Function.prototype.toString.call(fn));
}

/**
 * Describes `fn` for sending. `label` names it in errors ("inject foo", "argument 1 of bar()").
 * Throws InjectError for native and bound functions.
 */
export function describeFunction(fn: Function, label: string): CodeDescription {
  const source = Function.prototype.toString.call(fn);
  const name = typeof fn.name === 'string' ? fn.name : '';
  if (NATIVE_CODE.test(source)) {
    if (name.startsWith('bound ')) {
      throw new InjectError(
        `${label}: '${name}' is a bound function; its source is \`function () { [native code] }\`, and the bound \`this\` and arguments would not travel. Send the function itself and pass what it was bound to as arguments.`,
        { item: name },
      );
    }
    throw new InjectError(
      `${label}: '${name || '(anonymous)'}' is a native function; its source is \`${source}\`, which cannot be evaluated on the VM. Use the VM's own (e.g. vm.Math.max), or wrap it in a function of yours.`,
      { item: name },
    );
  }
  const code: CodeDescription = { name, source };
  // What the source uses from its module's imports travels with it (ImportError when it cannot).
  const imports = importsOf(fn, name ? `${label} (${name})` : label);
  if (imports.length > 0) code.imports = imports;
  // Where it was written: its stack frames on the VM name that file and line.
  const position = sourcePositionOf(fn);
  if (position) code.position = position;
  const isClass = /^class\b/.test(source);
  if (!isClass) {
    const proto = describePrototype(fn, label);
    if (proto) code.proto = proto;
    const parent = Object.getPrototypeOf(fn);
    if (typeof parent === 'function' && parent !== Function.prototype && !isNativeOrBound(parent) && parent.name) {
      code.superName = parent.name;
    }
  }
  const statics = describeStatics(fn, label);
  if (statics) code.statics = statics;
  return code;
}

function describePrototype(fn: Function, label: string): Record<string, MemberDescription> | undefined {
  const proto = (fn as { prototype?: unknown }).prototype;
  if (typeof proto !== 'object' || proto === null) return undefined;
  let out: Record<string, MemberDescription> | undefined;
  for (const key of Object.getOwnPropertyNames(proto)) {
    if (key === 'constructor') continue;
    const descriptor = Object.getOwnPropertyDescriptor(proto, key)!;
    const member = describeMember(descriptor, `${label}: ${fn.name}.prototype.${key}`);
    if (member) (out ??= {})[key] = member;
  }
  return out;
}

function describeStatics(fn: Function, label: string): Record<string, MemberDescription> | undefined {
  let out: Record<string, MemberDescription> | undefined;
  for (const key of Object.keys(fn)) {
    if (FUNCTION_OWN.has(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(fn, key)!;
    // Statics the source itself defines (a native class's `static x = new Registry()`) need not
    // travel; only plain data and functions do, which covers what compilers move out of the body.
    if (descriptor.get || descriptor.set || (typeof descriptor.value !== 'function' && !isPlainData(descriptor.value))) continue;
    const member = describeMember(descriptor, `${label}: ${fn.name}.${key}`);
    if (member) (out ??= {})[key] = member;
  }
  return out;
}

const NOT_PLAIN: WalkVisitor = {
  func: () => {
    throw NOT_PLAIN;
  },
  object: () => {
    throw NOT_PLAIN;
  },
  fail: () => {
    throw NOT_PLAIN;
  },
};

function isPlainData(value: unknown): boolean {
  try {
    walkValue(value, NOT_PLAIN, new Where('value'));
    return true;
  } catch (error) {
    if (error === NOT_PLAIN) return false;
    throw error;
  }
}

function describeMember(descriptor: PropertyDescriptor, label: string): MemberDescription | undefined {
  if (descriptor.get || descriptor.set) {
    const member: { get?: CodeDescription; set?: CodeDescription } = {};
    if (descriptor.get) member.get = describeFunction(descriptor.get, label);
    if (descriptor.set) member.set = describeFunction(descriptor.set, label);
    return member;
  }
  if (typeof descriptor.value === 'function') {
    if (isNativeOrBound(descriptor.value)) return undefined;
    return { code: describeFunction(descriptor.value, label) };
  }
  return { value: descriptor.value };
}

/** The name a function or class is injected under: its own name, which must be an identifier. */
export function injectionName(fn: Function, position: string): string {
  const name = typeof fn.name === 'string' ? fn.name : '';
  if (!name || name === 'anonymous' || name === 'default') {
    throw new InjectError(
      `inject: ${position} is an anonymous function, so it has no name to be injected under; give it a name, or inject it by key: inject(vm, { myName: fn })`,
    );
  }
  if (!IDENTIFIER.test(name)) {
    throw new InjectError(
      `inject: ${position} is named '${name}', which is not an identifier it could be called by; inject it by key instead: inject(vm, { myName: fn })`,
      { item: name },
    );
  }
  return name;
}
