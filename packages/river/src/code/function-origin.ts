/**
 * Where a function was defined, asked of V8 through Node's inspector (in this thread, without a
 * debugger attached — the same technique Pulumi uses to serialise closures): the script it comes
 * from (URL and source as it ran) and the names its enclosing scopes hold.
 *
 * An in-thread inspector session answers synchronously. Scripts are looked up by enabling the
 * Debugger domain briefly (it reports every parsed script); what it returns is cached by script id.
 */
import type { Session } from 'node:inspector';

export interface FunctionOrigin {
  /** The script's URL (`file:///…` for ES modules, a path for CommonJS, '' for eval'd code). */
  url: string;
  /** The script's source as V8 ran it (compiled, for TypeScript). */
  source: string;
  /** 0-based position of the function in that source. */
  line: number;
  column: number;
  /**
   * Names held by each scope around the function, innermost first, without the global scope;
   * the last is the module's own scope.
   */
  scopes: string[][];
}

interface ProtocolObject {
  objectId?: string;
  description?: string;
  value?: unknown;
}
interface PropertyDescriptor {
  name: string;
  value?: ProtocolObject;
}

let session: Session | undefined | null;
const scripts = new Map<string, { url: string; source?: string }>();
const HANDOFF = Symbol.for('river.code.origin');

function connect(): Session | undefined {
  if (session !== undefined) return session ?? undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const inspector = require('node:inspector') as typeof import('node:inspector');
    const s = new inspector.Session();
    s.connect();
    s.on('Debugger.scriptParsed', (message: { params: { scriptId: string; url: string } }) => {
      if (!scripts.has(message.params.scriptId)) scripts.set(message.params.scriptId, { url: message.params.url });
    });
    session = s;
  } catch {
    session = null; // Node built without the inspector: nothing travels with the code
  }
  return session ?? undefined;
}

function post<T>(s: Session, method: string, params: object): T {
  let result: T | undefined;
  let failure: Error | null = null;
  s.post(method, params, (error: Error | null, value?: object) => {
    failure = error;
    result = value as T;
  });
  if (failure) throw failure;
  if (result === undefined) throw new Error(`inspector: ${method} did not answer synchronously`);
  return result;
}

function script(s: Session, scriptId: string): { url: string; source?: string } | undefined {
  if (!scripts.has(scriptId)) {
    post(s, 'Debugger.enable', {});
    post(s, 'Debugger.disable', {});
  }
  const entry = scripts.get(scriptId);
  if (entry && entry.source === undefined) {
    try {
      post(s, 'Debugger.enable', {});
      entry.source = post<{ scriptSource: string }>(s, 'Debugger.getScriptSource', { scriptId }).scriptSource;
    } finally {
      post(s, 'Debugger.disable', {});
    }
  }
  return entry;
}

const EXPRESSION = `globalThis[Symbol.for('river.code.origin')]`;

/**
 * The inspector's handle on the function put in HANDOFF. It is looked for in the default context
 * first, then in every other context of this thread (a test runner's `vm` realm, for one).
 */
function handoff(s: Session, objectGroup: string): string | undefined {
  const found = post<{ result: ProtocolObject }>(s, 'Runtime.evaluate', { expression: EXPRESSION, objectGroup, silent: true }).result;
  if (found.objectId) return found.objectId;
  const contexts: number[] = [];
  const collect = (message: { params: { context: { id: number } } }) => contexts.push(message.params.context.id);
  s.on('Runtime.executionContextCreated', collect);
  try {
    post(s, 'Runtime.enable', {});
  } finally {
    s.off('Runtime.executionContextCreated', collect);
    post(s, 'Runtime.disable', {});
  }
  for (const contextId of contexts) {
    const result = post<{ result: ProtocolObject }>(s, 'Runtime.evaluate', { expression: EXPRESSION, objectGroup, contextId, silent: true }).result;
    if (result.objectId) return result.objectId;
  }
  return undefined;
}

const origins = new WeakMap<Function, FunctionOrigin | null>();
/**
 * By source text too: a closure created afresh for every call (`vm.f((x) => x + 1)` in a loop)
 * is a new function each time but the same code, and asking V8 costs a millisecond or two.
 * Two functions with the same text in two modules would share the first one's origin.
 */
const originsByText = new Map<string, FunctionOrigin | null>();
const MAX_BY_TEXT = 1000;

/** The origin of `fn` (cached), or undefined when the inspector cannot tell (no inspector, a native function). */
export function functionOrigin(fn: Function): FunctionOrigin | undefined {
  let origin = origins.get(fn);
  if (origin === undefined) {
    const text = Function.prototype.toString.call(fn);
    origin = originsByText.get(text);
    if (origin === undefined) {
      origin = askOrigin(fn) ?? null;
      if (originsByText.size >= MAX_BY_TEXT) originsByText.delete(originsByText.keys().next().value!);
      originsByText.set(text, origin);
    }
    origins.set(fn, origin);
  }
  return origin ?? undefined;
}

function askOrigin(fn: Function): FunctionOrigin | undefined {
  const s = connect();
  if (!s) return undefined;
  const holder = globalThis as unknown as Record<symbol, unknown>;
  holder[HANDOFF] = fn;
  let objectGroup: string | undefined;
  try {
    objectGroup = 'river-code-origin';
    const objectId = handoff(s, objectGroup);
    if (!objectId) return undefined;
    const { internalProperties = [] } = post<{ internalProperties?: PropertyDescriptor[] }>(s, 'Runtime.getProperties', {
      objectId,
      ownProperties: true,
    });
    const location = internalProperties.find((p) => p.name === '[[FunctionLocation]]')?.value?.value as
      | { scriptId: string; lineNumber: number; columnNumber: number }
      | undefined;
    if (!location) return undefined;
    const scopes: string[][] = [];
    const scopeList = internalProperties.find((p) => p.name === '[[Scopes]]')?.value?.objectId;
    if (scopeList) {
      const list = post<{ result: PropertyDescriptor[] }>(s, 'Runtime.getProperties', { objectId: scopeList, ownProperties: true }).result;
      for (const scope of list) {
        const kind = scope.value?.description ?? '';
        if (!scope.value?.objectId || /^Global/.test(kind)) continue;
        const names = post<{ result: PropertyDescriptor[] }>(s, 'Runtime.getProperties', { objectId: scope.value.objectId, ownProperties: true }).result;
        scopes.push(names.map((n) => n.name));
      }
    }
    const entry = script(s, location.scriptId);
    if (!entry) return undefined;
    return { url: entry.url, source: entry.source ?? '', line: location.lineNumber, column: location.columnNumber, scopes };
  } finally {
    delete holder[HANDOFF];
    if (objectGroup) {
      try {
        post(s, 'Runtime.releaseObjectGroup', { objectGroup });
      } catch {
        // nothing held
      }
    }
  }
}
