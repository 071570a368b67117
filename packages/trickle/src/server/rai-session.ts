/**
 * The RAI server logic for one session: a namespace (the global scope of the realm it runs in —
 * on a VM, the session's own worker thread, holding the VM's globals, `require` and `import()`),
 * the objects held for the initiator, and `handle(request) → reply`.
 *
 * Requests are handled in arrival order. Synchronous work completes before the next request is
 * looked at; a call that returns a promise replies when it settles while later requests go on,
 * so forked calls pipeline. Every reply is made safe to send here (objects → RemoteRef).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type {
  CodeDescription,
  CombineReply,
  CombineRequest,
  ErrorReply,
  FoldRequest,
  InjectResult,
  Path,
  PathKey,
  Reply,
  Request,
  SessionStats,
  Target,
} from '../protocol';
import type { VMRef } from '../session-link';
import { RemoteRef } from '../values/markers';
import { Where, walkValue, type WalkVisitor } from '../values/walk';
import { Accumulators, ReducerFailure, type PeerExchange } from './accumulators';
import { RaiFailure, toErrorInfo } from './error-info';
import { bindImports, ImportError } from '@river/engine';

import { evaluateCode, excerpt, type BindImports } from './evaluate';
import { HandleTable } from './handle-table';
import { installHelpers } from './helpers';

export interface RaiSessionOptions {
  /** Who this session runs on, for messages. */
  vm?: VMRef;
  /**
   * The namespace: the global object of the realm the session runs in (default `globalThis`).
   * Injected code is evaluated in that realm, so its free variables resolve there.
   */
  global?: Record<string, unknown>;
  /**
   * How this session reaches the other sessions of its initiator (forkWork `reduce` combines
   * accumulators session to session). Without it, `give`/`expect`/`absorb` fail with NO_PEERS.
   */
  peers?: PeerExchange;
}

const MAX_CACHED_CODE = 512;
/** Placeholder for "where" in a result, replaced by the request's label only when an error needs it. */
const RESULT = '\u0000result\u0000';

/** How a request is named in messages: `foo()`, `new Stack()`, `names`. */
function requestLabel(request: Request): string {
  if (!('target' in request)) return String(request.kind);
  const name = targetText(request.target);
  return request.kind === 'call' || request.kind === 'fold' ? `${name}()` : request.kind === 'construct' ? `new ${name}()` : name;
}

/** Values an accumulator may hold to travel: plain data only (never a reference to this session). */
const plainOnly: WalkVisitor = {
  func: (_fn, where) => {
    throw new RaiFailure('UNSERIALIZABLE', `${where} is a function: an accumulator travels between sessions, so it must be plain data`, { name: 'TypeError' });
  },
  object: (object, where) => {
    throw new RaiFailure('UNSERIALIZABLE', `${where} is an instance of ${typeName(object)}: an accumulator travels between sessions, so it must be plain data (primitives, arrays, plain objects, Map, Set, Date, typed arrays)`, { name: 'TypeError' });
  },
  fail: (reason, where) => {
    throw new RaiFailure('UNSERIALIZABLE', `cannot send ${where}: ${reason}`, { name: 'TypeError' });
  },
  objectsWithFunctions: 'walk',
};
const checkPlain = (value: unknown): void => void walkValue(value, plainOnly, new Where('the accumulator'));

export class RaiSession {
  readonly handles = new HandleTable();
  readonly global: Record<string, unknown>;
  readonly vm: VMRef | undefined;
  /** forkWork `reduce`: the accumulators of this session's runs. */
  readonly accumulators: Accumulators;
  private readonly peers: PeerExchange | undefined;
  /** Functions received as arguments, by source: the same function sent again is not re-evaluated. */
  private readonly codeCache = new Map<string, Function>();
  /** The user's modules that arrived bundled with injected code, evaluated once per session. */
  private readonly modules = new Map<string, unknown>();
  private readonly exporter: WalkVisitor;

  constructor(options: RaiSessionOptions = {}) {
    this.global = options.global ?? (globalThis as unknown as Record<string, unknown>);
    this.vm = options.vm;
    this.peers = options.peers;
    this.accumulators = new Accumulators();
    prepareNamespace(this.global);
    this.exporter = {
      func: (fn) => new RemoteRef(this.handles.add(fn), 'function'),
      object: (object) => new RemoteRef(this.handles.add(object), typeName(object)),
      fail: (reason, where) => {
        throw new RaiFailure('UNSERIALIZABLE', `cannot send ${where} back: ${reason}`, { name: 'TypeError' });
      },
      objectsWithFunctions: 'object',
    };
  }

  /** Handles one request. Synchronous when the work is; a promise when the call returned one. */
  handle(request: Request): Reply | Promise<Reply> {
    const id = request.id;
    try {
      switch (request.kind) {
        case 'call':
          return this.call(id, request.target, request.args);
        case 'get':
          return this.get(id, request.target);
        case 'set':
          this.set(request.target, request.value);
          return { id, ok: true, value: undefined };
        case 'construct':
          return this.construct(id, request.target, request.args);
        case 'inject':
          return { id, ok: true, value: this.inject(request.items) satisfies InjectResult };
        case 'release':
          for (const [ref, count] of request.refs) this.handles.release(ref, count);
          return { id, ok: true, value: undefined };
        case 'stats':
          return { id, ok: true, value: this.stats() satisfies SessionStats };
        case 'ping':
          return { id, ok: true, value: 'pong' };
        case 'fold':
          return this.fold(request);
        case 'combine':
          return this.combine(request);
        default:
          throw new RaiFailure('BAD_REQUEST', `unknown request kind '${String((request as { kind?: unknown }).kind)}'`);
      }
    } catch (error) {
      return this.errorReply(id, error, requestLabel(request));
    }
  }

  stats(): SessionStats {
    return { objects: this.handles.size, references: this.handles.references, runs: this.accumulators.size };
  }

  /** Forgets every object held for the initiator. */
  close(): void {
    this.accumulators.clear();
    this.handles.clear();
    this.codeCache.clear();
  }

  /** The object a TargetRef argument names (a remote object, or a path under one or under the namespace). */
  resolveArgument(ref: number | undefined, path: Path): unknown {
    return this.resolve({ ref, path }, 'argument').value;
  }

  /** A function received as an argument, evaluated in the namespace. */
  evaluateArgument(code: CodeDescription): Function {
    const simple = !code.proto && !code.statics && code.superName === undefined;
    const cached = simple ? this.codeCache.get(code.source) : undefined;
    if (cached) return cached;
    const fn = this.evaluate(code, code.name || 'a function argument');
    if (simple) {
      if (this.codeCache.size >= MAX_CACHED_CODE) this.codeCache.clear();
      this.codeCache.set(code.source, fn);
    }
    return fn;
  }

  /** `value`, made safe to send: plain data as is, anything else as a RemoteRef (registered here). */
  exportValue(value: unknown, where = 'the result'): unknown {
    return walkValue(value, this.exporter, new Where(where));
  }

  errorReply(id: number, error: unknown, name: string): ErrorReply {
    if (error instanceof ReducerFailure) {
      const reply = this.errorReply(id, error.error, error.during);
      reply.error.during = error.during;
      return reply;
    }
    return { id, ok: false, error: toErrorInfo(this.explain(error, name), (value) => this.exportValue(value, 'an error property')) };
  }

  /** forkWork `reduce`: runs one chunk like `call`, folds its result, answers an acknowledgement. */
  private fold(request: FoldRequest): Reply | Promise<Reply> {
    const { id, target, run, chunk, reduce } = request;
    const name = targetText(target);
    if (typeof reduce !== 'function') throw new RaiFailure('BAD_REQUEST', `the forkWork reducer is not a function (it is ${describe(reduce)})`, { name: 'TypeError' });
    const { holder, value } = this.resolve(target, 'call');
    if (typeof value !== 'function') {
      throw new RaiFailure('NOT_CALLABLE', `${name} is not a function (it is ${describe(value)})`, { name: 'TypeError' });
    }
    const label = `${name}() [forkWork chunk ${chunk}]`;
    const fold = (result: unknown): Reply => {
      try {
        this.accumulators.fold(run, chunk, result, reduce, label);
        return { id, ok: true, value: null };
      } catch (error) {
        return this.errorReply(id, error, `${name}()`);
      }
    };
    const result = Reflect.apply(value, holder, request.args);
    if (isThenable(result)) return Promise.resolve(result).then(fold, (error) => this.errorReply(id, error, `${name}()`));
    return fold(result);
  }

  /** forkWork `reduce`: moves accumulators between sessions, restores, hands them over. */
  private combine(request: CombineRequest): Reply | Promise<Reply> {
    const { id, run } = request;
    const label = `forkWork reduce (${request.op})`;
    const fail = (error: unknown) => this.errorReply(id, error, label);
    switch (request.op) {
      case 'expect':
        this.peersOf().expect(run, request.from, request.deposit);
        this.accumulators.signalOf(run);
        return { id, ok: true, value: null };
      case 'absorb': {
        const signal = this.accumulators.signalOf(run);
        return this.peersOf()
          .receive(run, request.from, request.deposit, signal)
          .then((incoming) => ({ id, ok: true, value: { chunks: this.accumulators.absorb(run, incoming, request.reduce) } satisfies CombineReply }) as Reply)
          .catch(fail);
      }
      case 'give': {
        const peers = this.peersOf();
        const signal = this.accumulators.signalOf(run);
        const acc = this.accumulators.give(run, request.deposit, checkPlain);
        return peers
          .send(run, request.to, request.deposit, acc, signal)
          .then(() => ({ id, ok: true, value: { chunks: acc.chunks } satisfies CombineReply }) as Reply)
          .catch(fail);
      }
      case 'restore':
        this.accumulators.restore(run, request.deposit, request.reduce);
        return { id, ok: true, value: null };
      case 'take': {
        const acc = this.accumulators.take(run, request.extras, request.reduce, checkPlain);
        return { id, ok: true, value: { chunks: acc?.chunks ?? [], value: acc?.value } satisfies CombineReply };
      }
      case 'end':
        this.accumulators.end(run);
        this.peers?.forget(run);
        return { id, ok: true, value: null };
      default:
        throw new RaiFailure('BAD_REQUEST', `unknown combine op '${String((request as { op?: unknown }).op)}'`);
    }
  }

  private peersOf(): PeerExchange {
    if (!this.peers) throw new RaiFailure('NO_PEERS', 'this session cannot address other sessions (it is not a River VR)');
    return this.peers;
  }

  private call(id: number, target: Target, args: unknown[]): Reply | Promise<Reply> {
    const { holder, value } = this.resolve(target, 'call');
    if (typeof value !== 'function') {
      throw new RaiFailure('NOT_CALLABLE', `${targetText(target)} is not a function (it is ${describe(value)})`, { name: 'TypeError' });
    }
    const result = Reflect.apply(value, holder, args);
    return this.settle(id, result, target, 'call');
  }

  private get(id: number, target: Target): Reply | Promise<Reply> {
    return this.settle(id, this.resolve(target, 'get').value, target, 'get');
  }

  private set(target: Target, value: unknown): void {
    const name = targetText(target);
    const { path } = target;
    if (path.length === 0) throw new RaiFailure('BAD_PATH', `cannot assign to ${name}: no property named`, { name: 'TypeError' });
    const holder = this.resolve({ ref: target.ref, path: path.slice(0, -1) }, 'set').value;
    if (holder === null || (typeof holder !== 'object' && typeof holder !== 'function')) {
      throw new RaiFailure('BAD_PATH', `cannot set ${name}: ${targetText({ ref: target.ref, path: path.slice(0, -1) })} is ${describe(holder)}`, { name: 'TypeError' });
    }
    if (!Reflect.set(holder, path[path.length - 1]!, value)) {
      throw new RaiFailure('BAD_PATH', `cannot assign to ${name}: the property is read-only`, { name: 'TypeError' });
    }
  }

  private construct(id: number, target: Target, args: unknown[]): Reply | Promise<Reply> {
    const { value } = this.resolve(target, 'construct');
    if (!isConstructor(value)) {
      throw new RaiFailure('NOT_CALLABLE', `${targetText(target)} is not a constructor (it is ${describe(value)})`, { name: 'TypeError' });
    }
    return this.settle(id, Reflect.construct(value, args), target, 'construct');
  }

  private inject(items: Extract<Request, { kind: 'inject' }>['items']): InjectResult {
    const names: string[] = [];
    for (const item of items) {
      const value = item.as === 'code' ? this.evaluate(item.code, item.name) : item.value;
      if (!Reflect.set(this.global, item.name, value)) {
        throw new RaiFailure('INJECT_FAILED', `cannot inject '${item.name}': the namespace already has a read-only '${item.name}'`, { item: item.name });
      }
      names.push(item.name);
    }
    return { names };
  }

  private evaluate(code: CodeDescription, item: string): Function {
    const where = this.vm ? `VM '${this.vm.name}'` : 'the VM';
    const bind: BindImports = (c) => bindImports(c.imports, c.name || item, { where, known: trickleModules(), modules: this.modules });
    try {
      return evaluateCode(code, this.global, bind);
    } catch (error) {
      if (ImportError.isInstance(error)) {
        throw new RaiFailure('IMPORT_FAILED', error.message, { name: 'ImportError', item, cause: error });
      }
      if (error instanceof ReferenceError) {
        const variable = notDefined(error);
        if (variable !== undefined && !(variable in this.global)) {
          throw new RaiFailure('FREE_VARIABLE', `${freeVariableText(variable, item)}`, {
            name: 'ReferenceError', variable, item, cause: error,
          });
        }
      }
      const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new RaiFailure('INJECT_FAILED', `cannot evaluate the source of '${item}' (${what}); source: ${excerpt(code.source)}`, {
        name: error instanceof Error ? error.name : 'Error', item, cause: error,
      });
    }
  }

  /** The reply for a result that may be a promise. */
  private settle(id: number, result: unknown, target: Target, kind: Request['kind']): Reply | Promise<Reply> {
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        (value) => this.okReply(id, value, target, kind),
        (error) => this.errorReply(id, error, requestLabel({ kind, target } as Request)),
      );
    }
    return this.okReply(id, result, target, kind);
  }

  private okReply(id: number, value: unknown, target: Target, kind: Request['kind']): Reply {
    try {
      return { id, ok: true, value: this.exportValue(value, RESULT) };
    } catch (error) {
      const name = requestLabel({ kind, target } as Request);
      return this.errorReply(id, error instanceof RaiFailure ? new RaiFailure(error.failure, error.message.replace(RESULT, `the result of ${name}`), { name: error.name }) : error, name);
    }
  }

  /** Turns a ReferenceError for a variable the namespace lacks into an error that says to inject it. */
  private explain(error: unknown, name: string): unknown {
    if (error instanceof ReferenceError && !(error instanceof RaiFailure)) {
      const variable = notDefined(error);
      if (variable !== undefined && !(variable in this.global)) {
        const failure = new RaiFailure('FREE_VARIABLE', freeVariableText(variable, name), { name: 'ReferenceError', variable, cause: undefined });
        failure.stack = error.stack?.replace(error.message, failure.message);
        return failure;
      }
    }
    return error;
  }

  /**
   * Follows `target.path` from the namespace or a held object. `holder` is the object the last
   * key was read from (the `this` of a call).
   */
  resolve(target: Target, op: 'call' | 'get' | 'set' | 'construct' | 'argument'): { holder: unknown; value: unknown } {
    let value: unknown;
    if (target.ref === undefined) {
      value = this.global;
    } else {
      value = this.handles.get(target.ref);
      if (value === undefined) {
        throw new RaiFailure('UNKNOWN_REF', `remote object #${target.ref} is no longer held by the session (it was released)`, { name: 'ReferenceError' });
      }
    }
    let holder: unknown = undefined;
    const { path } = target;
    for (let i = 0; i < path.length; i++) {
      const key = path[i]!;
      if (value === null || value === undefined) {
        const at = targetText({ ref: target.ref, path: path.slice(0, i) });
        throw new RaiFailure('BAD_PATH', `cannot read '${String(key)}' of ${at}: ${at} is ${String(value)}`, { name: 'TypeError' });
      }
      holder = value;
      value = (holder as Record<PathKey, unknown>)[key];
      if (value === undefined && i === 0 && target.ref === undefined && !(key in this.global)) {
        throw new RaiFailure('NOT_DEFINED', `'${String(key)}' is not defined in the session namespace; inject it first: inject(vm, ${String(key)}) for a function or class, inject(vm, { ${String(key)} }) for data`, { name: 'ReferenceError' });
      }
    }
    void op;
    return { holder, value };
  }
}

/** Trickle's own packages as this session has them loaded, for code that imports them. */
function trickleModules(): Record<string, unknown> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return { '@trickle/core': require('../index'), '@trickle/core/internal': require('../internal'), tslib: require('tslib') };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/** Makes the namespace what injected code expects: compiler helpers, `require`. */
function prepareNamespace(global: Record<string, unknown>): void {
  installHelpers(global);
  if (typeof global.require !== 'function') {
    Object.defineProperty(global, 'require', {
      value: createRequire(join(process.cwd(), '[trickle-session]')),
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
}

function notDefined(error: ReferenceError): string | undefined {
  return /^([A-Za-z_$][\w$]*) is not defined$/.exec(error.message)?.[1];
}

function freeVariableText(variable: string, where: string): string {
  let text = `${variable} is not defined: ${where} uses '${variable}', which is not in the session namespace on the VM. Injected code sees only the VM's globals and what was injected, not the initiator's variables: inject it too, e.g. inject(vm, ${variable}) for a function or class, inject(vm, { ${variable} }) for data`;
  if (/^[\w$]+_\d+$|^import_[\w$]+$/.test(variable)) {
    text += ` ('${variable}' is a name a compiler gave to a module import; imports travel with the code that uses them when its module can be read, which was not the case here: import the module inside the function instead, e.g. const { x } = require('module'))`;
  }
  return text;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value instanceof Promise || (typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function');
}

function isConstructor(value: unknown): value is new (...args: unknown[]) => unknown {
  if (typeof value !== 'function') return false;
  try {
    Reflect.construct(String, [], value);
    return true;
  } catch {
    return false;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `a function`;
  if (typeof value === 'object') return `a ${typeName(value)}`;
  return `a ${typeof value}: ${JSON.stringify(value) ?? String(value)}`.slice(0, 80);
}

export function typeName(object: object): string {
  const ctor = (object as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === 'string' && ctor.name ? ctor.name : 'Object';
}

/** `table.get`, `names[1]`, `#3.push` — how a target is named in messages. */
export function targetText(target: Target): string {
  let text = target.ref === undefined ? '' : `#${target.ref}`;
  for (const key of target.path) {
    if (typeof key === 'number' || /^\d+$/.test(key)) text += `[${key}]`;
    else text += text === '' ? key : `.${key}`;
  }
  return text || (target.ref === undefined ? 'the namespace' : `#${target.ref}`);
}

