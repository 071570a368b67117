/**
 * Evaluating shipped source in the session namespace.
 *
 * The source of a function, arrow function or class is an expression once parenthesised; the
 * source of a method shorthand (`foo(x) {…}`, `async foo()`, `*gen()`, `async *gen()`, `get x()`)
 * is not, so it is evaluated inside an object literal and taken out again. Evaluation goes
 * through `new Function`, whose scope is the realm's global scope — the namespace — so free
 * variables of injected code resolve against what the session holds, and nothing else.
 *
 * Some compiled code refers to module-level variables that the compiler created next to the
 * function and that its source cannot carry; those that can be recreated are bound in a scope
 * around the source: the WeakMaps/WeakSets that hold downlevelled private fields (tsc's
 * `_Stack_items`, esbuild's `_items`), and `_super` for an ES5 subclass.
 */
import { compileShipped, type SourcePosition } from '@river/engine';

import type { CodeDescription, MemberDescription } from '../protocol';

const PRIVATE_STATE = [
  /__classPrivateField(?:Get|Set)\(\s*[^,()]+,\s*([A-Za-z_$][\w$]*)/g,
  /__classPrivateFieldIn\(\s*([A-Za-z_$][\w$]*)/g,
  /__private(?:Get|Set|Add|Method|Wrapper)\(\s*[^,()]+,\s*([A-Za-z_$][\w$]*)/g,
  /__privateIn\(\s*([A-Za-z_$][\w$]*)/g,
  /\b(_[A-Za-z$][\w$]*_[\w$]+)\.(?:set|add)\(\s*this\b/g,
];

/** Scope bindings `source` needs that the namespace does not provide. */
function scopeFor(source: string, global: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const scope: Record<string, unknown> = { ...extra };
  for (const pattern of PRIVATE_STATE) {
    pattern.lastIndex = 0;
    for (let match = pattern.exec(source); match; match = pattern.exec(source)) {
      const name = match[1]!;
      if (name in scope || name in global) continue;
      const isSet = /_instances$/.test(name) || new RegExp(`\\b${name.replace(/\$/g, '\\$')}\\.add\\(`).test(source);
      scope[name] = isSet ? new WeakSet() : new WeakMap();
    }
  }
  return scope;
}

/** The values of a code description's import bindings (see @river/engine's bindImports). */
export type BindImports = (code: CodeDescription) => Record<string, unknown>;

const noImports: BindImports = () => ({});

/** Compiles `body` (the source on its line 3) under the user's file and line when known. */
function compile(body: string, scope: Record<string, unknown>, position: SourcePosition | undefined): unknown {
  const names = Object.keys(scope);
  const { fn } = compileShipped(`"use strict";\n${body}`, names, position, 3);
  return fn(...names.map((name) => scope[name]));
}

/** Evaluates the source text of one function or class; throws what evaluation threw. */
export function evaluateSource(source: string, scope: Record<string, unknown>, position?: SourcePosition): Function {
  let value: unknown;
  try {
    value = compile(`return (\n${source}\n);`, scope, position);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    // A method shorthand: evaluate it as a member of an object literal and take it out.
    let holder: object;
    try {
      holder = compile(`return ({\n${source}\n});`, scope, position) as object;
    } catch {
      throw error;
    }
    const [key] = Reflect.ownKeys(holder);
    const descriptor = key === undefined ? undefined : Object.getOwnPropertyDescriptor(holder, key);
    value = descriptor?.value ?? descriptor?.get ?? descriptor?.set;
  }
  if (typeof value !== 'function') throw new TypeError(`the source does not evaluate to a function: ${excerpt(source)}`);
  return value;
}

/**
 * Rebuilds the function or class `code` describes, in the namespace `global`.
 * Throws what evaluation threw (a ReferenceError for a missing parent class, a SyntaxError…).
 */
export function evaluateCode(code: CodeDescription, global: Record<string, unknown>, bind: BindImports = noImports): Function {
  const extra: Record<string, unknown> = code.imports ? { ...bind(code) } : {};
  let parent: Function | undefined;
  if (code.superName !== undefined) {
    const candidate = global[code.superName];
    if (typeof candidate !== 'function') {
      throw new ReferenceError(`${code.superName} is not defined`);
    }
    parent = candidate;
    extra._super = parent;
  }
  const scope = scopeFor(code.source, global, extra);
  const fn = evaluateSource(code.source, scope, code.position);
  if (code.name && fn.name !== code.name) {
    Object.defineProperty(fn, 'name', { value: code.name, configurable: true });
  }
  if (parent && Object.getPrototypeOf(fn) !== parent) {
    // What `__extends(Child, _super)` did next to the ES5 constructor.
    Object.setPrototypeOf(fn, parent);
    fn.prototype = Object.create(parent.prototype, {
      constructor: { value: fn, writable: true, configurable: true },
    });
  }
  if (code.proto && fn.prototype) defineMissing(fn.prototype, code.proto, global, scope, false, bind);
  if (code.statics) defineMissing(fn, code.statics, global, scope, true, bind);
  return fn;
}

function defineMissing(
  target: object,
  members: Record<string, MemberDescription>,
  global: Record<string, unknown>,
  scope: Record<string, unknown>,
  enumerable: boolean,
  bind: BindImports,
): void {
  for (const [key, member] of Object.entries(members)) {
    if (Object.prototype.hasOwnProperty.call(target, key)) continue;
    if ('value' in member) {
      Object.defineProperty(target, key, { value: member.value, writable: true, enumerable, configurable: true });
    } else if ('code' in member) {
      // Prototype methods of an ES5 class are plain assignments: enumerable, like the original.
      const { code } = member;
      const value = code.proto || code.statics || code.superName !== undefined ? evaluateCode(code, global, bind) : evaluateMember(code, global, scope, bind);
      Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
    } else {
      Object.defineProperty(target, key, {
        get: member.get && (evaluateMember(member.get, global, scope, bind) as () => unknown),
        set: member.set && (evaluateMember(member.set, global, scope, bind) as (value: unknown) => void),
        enumerable: false,
        configurable: true,
      });
    }
  }
}

/** A member of an ES5 class: evaluated in the class's scope (it may use `_super` too). */
function evaluateMember(code: CodeDescription, global: Record<string, unknown>, scope: Record<string, unknown>, bind: BindImports): Function {
  return evaluateSource(code.source, scopeFor(code.source, global, code.imports ? { ...scope, ...bind(code) } : scope), code.position);
}

export function excerpt(source: string, max = 120): string {
  const flat = source.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
