/**
 * The RAI (remote access and invocation) protocol: what the initiator asks a session on a VM to
 * do, and what the session answers. One request, one reply, matched by `id`.
 *
 * Every request that touches something in the session addresses it by a {@link Target}: a path of
 * property keys rooted at the session namespace (the VM's global scope) or at a remote object the
 * session holds for us. `vm.table.get(1)` is therefore ONE `call` request
 * (`{ path: ['table', 'get'], args: [1] }`), not a round trip per step.
 *
 * This file holds shapes only; the code that acts on them is `server/rai-session.ts` (VM side)
 * and `client/session-client.ts` (initiator side).
 */

/** Request kinds, in the order the paper lists them, plus what a real system needs. */
import type { ImportBinding, SourcePosition } from '@river/engine';

export type RequestKind =
  | 'inject'
  | 'call'
  | 'get'
  | 'set'
  | 'construct'
  | 'release'
  | 'stats'
  | 'ping'
  | 'fold'
  | 'combine';

/** A path of property keys. Numbers are array indexes (`vm.names[1]`). */
export type PathKey = string | number;
export type Path = readonly PathKey[];

/**
 * Where a request points: `ref` absent → the session namespace; `ref` present → the remote object
 * the session registered under that id (see {@link RemoteRef}).
 */
export interface Target {
  ref?: number;
  path: Path;
}

interface RequestBase<K extends RequestKind> {
  /** Unique per session link, increasing: replies are matched by it, and ordering decisions use it. */
  id: number;
  kind: K;
}

/** One thing to inject, already turned into something that travels (see `source.ts`). */
export type InjectItem =
  | { name: string; as: 'value'; value: unknown }
  | { name: string; as: 'code'; code: CodeDescription };

/**
 * A function or class as it travels: its source text plus what the source alone does not carry.
 * Built on the initiator from `Function.prototype.toString()`; evaluated in the session namespace.
 */
export interface CodeDescription {
  /** The name the function has locally (`fn.name`), used in messages and to restore `name`. */
  name: string;
  source: string;
  /**
   * Members of `prototype` that the source does not define (classes compiled to ES5 functions
   * assign methods to `Fn.prototype` outside the function): name → code or accessor pair.
   */
  proto?: Record<string, MemberDescription>;
  /** Own static properties (enumerable, string keys) of the function, for code compilers moved out of the class body. */
  statics?: Record<string, MemberDescription>;
  /** For an ES5-style subclass, the name of its parent in the namespace (bound as `_super`). */
  superName?: string;
  /**
   * What the source uses from its module's imports (builtins, npm packages, the user's own
   * modules as bundles), bound around it on the VM: see @river/engine's `importsOf`.
   */
  imports?: ImportBinding[];
  /** Where the source was written (the user's file and line), for stack traces on the VM. */
  position?: SourcePosition;
}

export type MemberDescription =
  | { value: unknown }
  | { code: CodeDescription }
  | { get?: CodeDescription; set?: CodeDescription };

export interface InjectRequest extends RequestBase<'inject'> {
  items: InjectItem[];
}

/** Call the function at `target.path`, with `this` bound to the object that holds it. */
export interface CallRequest extends RequestBase<'call'> {
  target: Target;
  args: unknown[];
  /** A forkWork/forkGen chunk (counted in the VM's metrics); optional, false when left out. */
  chunk?: boolean;
}

/** Read the value at `target.path` (awaited, if it is a promise). */
export interface GetRequest extends RequestBase<'get'> {
  target: Target;
}

/**
 * Assign `value` at `target.path` (the last key is the property or index: setattr and setitem
 * are the same thing in JavaScript). Sent without waiting; see `client/session-client.ts`.
 */
export interface SetRequest extends RequestBase<'set'> {
  target: Target;
  value: unknown;
}

/** `new` the constructor at `target.path`. */
export interface ConstructRequest extends RequestBase<'construct'> {
  target: Target;
  args: unknown[];
}

/**
 * The initiator dropped references: each entry is `[refId, count]`, the number of times the
 * reference reached the initiator since its previous release. The session forgets an object when
 * its count drops to zero. Counts make a release that crosses a fresh copy of the same
 * reference on the wire harmless.
 */
export interface ReleaseRequest extends RequestBase<'release'> {
  refs: Array<[number, number]>;
}

/** What the session holds (tests and diagnostics). */
export interface StatsRequest extends RequestBase<'stats'> {}

export interface PingRequest extends RequestBase<'ping'> {}

/**
 * forkWork with `reduce`: call the function at `target` like `call`, then fold its result into
 * the session's accumulator of run `run` (`acc = reduce(acc, result)`; the first result becomes
 * the accumulator). The reply is an acknowledgement (`null`), not the result. `chunk` names the
 * chunk (the accumulator records which chunks it holds).
 */
export interface FoldRequest extends RequestBase<'fold'> {
  run: string;
  chunk: number;
  target: Target;
  args: unknown[];
  /** The reducer: a function argument (travels as code, like any function argument). */
  reduce: unknown;
}

/**
 * Moving a run's accumulators (see scheduling/reduction.ts):
 * - `expect`: accept deposit `deposit` of this run from the session at River address `from`
 *   (replies at once; any other deposit is refused);
 * - `absorb`: wait for that deposit and fold it into the accumulator; replies `{ chunks }`;
 * - `give`: send the accumulator to the session at `to` as deposit `deposit` and keep it as a
 *   snapshot (this session starts a fresh one); replies `{ chunks }` once the receiver has it;
 * - `restore`: fold snapshot `deposit` back into the accumulator (its receiver was lost);
 * - `take`: reply `{ value, chunks }` with the accumulator, after folding `extras` into it, and
 *   start a fresh one;
 * - `end`: forget the run (accumulator, snapshots, deposits waited for).
 */
export type CombineOp =
  | { op: 'expect'; from: string; deposit: number }
  | { op: 'absorb'; from: string; deposit: number; reduce: unknown }
  | { op: 'give'; to: string; deposit: number }
  | { op: 'restore'; deposit: number; reduce: unknown }
  | { op: 'take'; extras: unknown[]; reduce: unknown }
  | { op: 'end' };

export type CombineRequest = RequestBase<'combine'> & { run: string } & CombineOp;

/** What `give`, `absorb` and `take` answer: the chunks the accumulator held. */
export interface CombineReply {
  chunks: number[];
  /** `take` only: the accumulator. */
  value?: unknown;
}

export type Request =
  | FoldRequest
  | CombineRequest
  | InjectRequest
  | CallRequest
  | GetRequest
  | SetRequest
  | ConstructRequest
  | ReleaseRequest
  | StatsRequest
  | PingRequest;

/** Reply value of a `stats` request. */
export interface SessionStats {
  /** Remote objects the session holds for the initiator. */
  objects: number;
  /** Sum of their reference counts. */
  references: number;
  /** forkWork `reduce` runs whose accumulators the session keeps (until the run ends). */
  runs: number;
}

/** Reply value of an `inject` request: the names now defined in the namespace. */
export interface InjectResult {
  names: string[];
}

export interface OkReply {
  id: number;
  ok: true;
  value: unknown;
}

export interface ErrorReply {
  id: number;
  ok: false;
  error: ErrorInfo;
}

export type Reply = OkReply | ErrorReply;

/** Why the session failed a request, when the failure is Trickle's and not the user code's. */
export type FailureCode =
  /** A name on the path does not exist. */
  | 'NOT_DEFINED'
  /** The value at the path is not a function (call) or not a constructor (construct). */
  | 'NOT_CALLABLE'
  /** Reading through `undefined`/`null` on the way along the path. */
  | 'BAD_PATH'
  /** The request names a remote object the session no longer holds. */
  | 'UNKNOWN_REF'
  /** Injected code refers to a variable that is not in the namespace. */
  | 'FREE_VARIABLE'
  /** The source of injected code (or a function argument) did not evaluate. */
  | 'INJECT_FAILED'
  /** What injected code imports could not be bound on the VM (a package not installed there). */
  | 'IMPORT_FAILED'
  /** The result could not be sent back. */
  | 'UNSERIALIZABLE'
  /** The request itself could not be decoded or is malformed. */
  | 'BAD_REQUEST'
  /** The VM is stopping (graceful removal): the request was not run; it may go to another VM. */
  | 'VM_STOPPING'
  /** forkWork reduce: another session refused an accumulator (not a session of the same run). */
  | 'REFUSED'
  /** forkWork reduce: a session taking part in combining accumulators went away. */
  | 'PEER_LOST'
  /** forkWork reduce: this session cannot address other sessions (no River address). */
  | 'NO_PEERS';

/**
 * An error as it travels. `props` holds the error's own enumerable properties (`code`, custom
 * fields), already made safe to send; `cause` is an ErrorInfo when the cause was an error.
 */
export interface ErrorInfo {
  name: string;
  message: string;
  stack?: string;
  props?: Record<string, unknown>;
  cause?: ErrorInfo | { value: unknown };
  /** Set when the failure is Trickle's (see {@link FailureCode}); absent for user code throws. */
  failure?: FailureCode;
  /** For `FREE_VARIABLE`: the variable. */
  variable?: string;
  /**
   * What was running when it failed, when that is not the request itself: a forkWork reducer
   * (`mergeInto()`, folding a chunk's result). The initiator names it instead of the request.
   */
  during?: string;
}

const REQUEST_KINDS: ReadonlySet<string> = new Set<RequestKind>(['inject', 'call', 'get', 'set', 'construct', 'release', 'stats', 'ping', 'fold', 'combine']);
/** Accumulators a session keeps at once (one per forkWork reduce run of its initiator). */
export const MAX_RUNS = 64;
const COMBINE_OPS: ReadonlySet<string> = new Set(['expect', 'absorb', 'give', 'restore', 'take', 'end']);
/** Longest path a request may name (a path is one property read per key). */
export const MAX_PATH_LENGTH = 1000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks the shape of a decoded request (the session trusts its initiator's code, not its bytes):
 * returns what is wrong, or undefined when it is well formed. Unknown kinds are left to the
 * session, which answers them with BAD_REQUEST like any other malformed request.
 */
export function malformedRequest(request: unknown): string | undefined {
  if (!isObject(request)) return 'a request is a map';
  if (typeof request.id !== 'number' || !Number.isSafeInteger(request.id)) return "'id' must be an integer";
  const kind = request.kind;
  if (typeof kind !== 'string') return "'kind' must be a string";
  if (!REQUEST_KINDS.has(kind)) return undefined;
  if (kind === 'fold' || kind === 'combine') {
    if (typeof request.run !== 'string' || request.run === '' || request.run.length > 100) return "'run' must be a non-empty string";
  }
  if (kind === 'fold' && !Number.isSafeInteger(request.chunk)) return "'chunk' must be an integer";
  if (kind === 'combine') {
    const op = request.op;
    if (typeof op !== 'string' || !COMBINE_OPS.has(op)) return "'op' must be one of expect, absorb, give, restore, take, end";
    if (op !== 'end' && op !== 'take' && !Number.isSafeInteger(request.deposit)) return "'deposit' must be an integer";
    if ((op === 'expect' || op === 'absorb') && (typeof request.from !== 'string' || request.from === '')) return "'from' must be a River address";
    if (op === 'give' && (typeof request.to !== 'string' || request.to === '')) return "'to' must be a River address";
    if (op === 'take' && !Array.isArray(request.extras)) return "'extras' must be a list";
    return undefined;
  }
  if (kind === 'call' || kind === 'get' || kind === 'set' || kind === 'construct' || kind === 'fold') {
    const target = request.target;
    if (!isObject(target)) return "'target' must be a map { ref?, path }";
    if (target.ref !== undefined && !Number.isSafeInteger(target.ref)) return "'target.ref' must be an integer";
    const path = target.path;
    if (!Array.isArray(path) || path.length > MAX_PATH_LENGTH) return `'target.path' must be a list of at most ${MAX_PATH_LENGTH} keys`;
    for (const key of path) if (typeof key !== 'string' && typeof key !== 'number') return "'target.path' keys must be strings or numbers";
    if ((kind === 'call' || kind === 'construct' || kind === 'fold') && !Array.isArray(request.args)) return "'args' must be a list";
    if (kind === 'set' && !('value' in request)) return "'value' is missing";
  } else if (kind === 'inject') {
    if (!Array.isArray(request.items)) return "'items' must be a list";
    for (const item of request.items as unknown[]) {
      if (!isObject(item) || typeof item.name !== 'string') return "an inject item is a map with a 'name'";
      if (item.as === 'code') {
        const bad = malformedCode(item.code);
        if (bad) return bad;
      } else if (item.as !== 'value') return "an inject item's 'as' is 'value' or 'code'";
    }
  } else if (kind === 'release') {
    if (!Array.isArray(request.refs)) return "'refs' must be a list of [ref, count]";
    for (const entry of request.refs as unknown[]) {
      if (!Array.isArray(entry) || !Number.isSafeInteger(entry[0]) || !Number.isSafeInteger(entry[1])) return "'refs' must be a list of [ref, count]";
    }
  }
  return undefined;
}

function malformedCode(code: unknown, depth = 0): string | undefined {
  if (!isObject(code) || typeof code.source !== 'string' || typeof code.name !== 'string') return "code is a map with 'name' and 'source' strings";
  if (code.superName !== undefined && typeof code.superName !== 'string') return "code 'superName' must be a string";
  if (code.imports !== undefined && (!Array.isArray(code.imports) || !code.imports.every((b) => isObject(b) && typeof b.name === 'string' && typeof b.specifier === 'string' && isObject(b.module)))) {
    return "code 'imports' must be a list of import bindings";
  }
  if (code.position !== undefined && (!isObject(code.position) || typeof code.position.file !== 'string' || !Number.isSafeInteger(code.position.line))) {
    return "code 'position' must be { file, line, column }";
  }
  if (depth > 8) return 'code nests too deep';
  for (const members of [code.proto, code.statics]) {
    if (members === undefined) continue;
    if (!isObject(members)) return "code 'proto' and 'statics' are maps";
    for (const member of Object.values(members)) {
      if (!isObject(member)) return 'a code member is a map';
      for (const key of ['code', 'get', 'set'] as const) {
        if (member[key] !== undefined) {
          const bad = malformedCode(member[key], depth + 1);
          if (bad) return bad;
        }
      }
    }
  }
  return undefined;
}
