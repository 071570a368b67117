/**
 * The initiator's end of one session: sends requests over a SessionLink, matches replies by id,
 * turns remote references into proxies and releases them, and keeps the ordering promises:
 *
 * - requests reach the session in the order they were made (the link guarantees order);
 * - `set` is sent without waiting; if it fails, the failure is kept and surfaces as the
 *   rejection of the next awaited request on this VM that was made after it;
 * - a `release` is a request like the others, so it reaches the session after every call made
 *   before it on the same object: releasing never races calls still in flight.
 */
import {
  CancelledError,
  InjectError,
  RemoteError,
  ResourceLimitError,
  SerializationError,
  VMLostError,
  VMStoppingError,
} from '../errors';
import type { CodeDescription, CombineOp, CombineReply, PathKey, Reply, Request, SessionStats } from '../protocol';
import type { SessionLink, VMRef } from '../session-link';
import { describeFunction } from '../source';
import { CodeRef, TargetRef } from '../values/markers';
import { Where, walkValue, type WalkVisitor } from '../values/walk';
import { createWireCodec, type WireCodec } from '../values/wire';
import { abortedBeforeSending, armCancellation, type CallOptions, type CancelReason } from './cancellation';
import { PendingRequests, type PendingEntry } from './pending';
import { peekReplyHeader } from './reply-header';
import { makeProxy, pathLabel, stateOf, type PathState, type ProxyHost, type RefEntry } from './proxy';

/** A request before it gets its id (distributes over the union). */
export type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

/** What `watch` reports: the VM is stopping (graceful removal), or the session is gone. */
export type SessionEvent = { readonly kind: 'draining' } | { readonly kind: 'lost'; readonly reason: Error };

type LinkState =
  | { readonly kind: 'open' }
  | { readonly kind: 'lost'; readonly reason: Error }
  /** A request was cancelled, which ended the session (see cancel()). */
  | { readonly kind: 'cancelled'; readonly reason: CancelledError; readonly what: string }
  | { readonly kind: 'closed' };

export interface RequestOptions {
  remoteName: string;
  site?: Error;
  /** Sent without anyone waiting on the reply (see the ordering rules above). */
  detached?: boolean;
  /** How the request may be cancelled (call-options.ts); cancelling ends the session. */
  cancel?: CallOptions;
  /**
   * Called when a successful reply arrives, before its value is decoded: a scheduler hands the VM
   * its next chunk without waiting for the decoding (see `received`).
   */
  onArrival?: () => void;
}

/**
 * Replies at least this large are decoded after the event loop's turn, in arrival order: replies
 * that arrive meanwhile are seen (and their schedulers act) first. Smaller ones, when none wait,
 * are decoded at once (no extra hop for round trips).
 */
const DEFER_DECODE_BYTES = 16 * 1024;
/** Longest stretch of decoding before the event loop gets its turn again. */
const DECODE_SLICE_MS = 4;

export class SessionClient implements ProxyHost {
  readonly vm: VMRef;
  /** The VM handle: the proxy for the empty path in the namespace. */
  readonly handle: object;
  private state: LinkState = { kind: 'open' };
  /** The VM said it is stopping: requests still work, but schedulers send it no new work. */
  private stopping = false;
  private readonly watchers = new Set<(event: SessionEvent) => void>();
  private nextId = 1;
  // While requests are outstanding the link keeps the process alive; when idle it lets the
  // program end without an explicit disconnect.
  private readonly pending = new PendingRequests((busy) => (busy ? this.link.ref?.() : this.link.unref?.()));
  /** The first failure of a detached request, waiting for the next awaited reply. */
  private deferred: { id: number; error: Error } | undefined;
  private readonly codec: WireCodec;
  private readonly refs = new Map<number, RefEntry>();
  private readonly registry = new FinalizationRegistry<RefEntry>((entry) => this.collected(entry));
  private releaseQueue: Array<[number, number]> = [];
  private releaseScheduled = false;
  private readonly argsVisitor: WalkVisitor;
  private closing: Promise<void> | undefined;
  /** Replies that arrived and wait to be decoded, in arrival order (see DEFER_DECODE_BYTES). */
  private readonly toDecode: Uint8Array[] = [];
  private decodeScheduled = false;
  /** Requests sent on the link since the session started (diagnostics, tests). */
  requestsSent = 0;

  constructor(private readonly link: SessionLink) {
    this.vm = { id: link.vm.id, name: link.vm.name };
    this.codec = createWireCodec({
      remoteRef: (id, type) => this.proxyForRef(id, type),
      targetRef: () => {
        throw new TypeError('the initiator does not accept target references');
      },
      codeRef: () => {
        throw new TypeError('the initiator does not accept code');
      },
    });
    this.argsVisitor = {
      func: (fn, where) => this.exportFunction(fn, where),
      object: (object, where) => {
        if (object instanceof Promise) {
          throw new SerializationError(`cannot send ${where} to ${this.label}: it is a Promise; await it first`, {
            vm: this.vm,
            where: where.toString(),
            remoteName: where.root,
          });
        }
        throw new SerializationError(
          `cannot send ${where} to ${this.label}: it is an instance of ${typeName(object)}. Only plain data (primitives, arrays, plain objects, Map, Set, Date, typed arrays, Error) crosses by value, and only the VM's own objects by reference: send its data as a plain object, or inject ${typeName(object)} and create the object on the VM`,
          { vm: this.vm, where: where.toString(), remoteName: where.root },
        );
      },
      fail: (reason, where) => {
        throw new SerializationError(`cannot send ${where} to ${this.label}: ${reason}`, {
          vm: this.vm,
          where: where.toString(),
          remoteName: where.root,
        });
      },
    };
    this.handle = makeProxy({ host: this, root: undefined, rootProxy: undefined, path: [] });
    link.listen({
      message: (bytes) => this.received(bytes),
      lost: (reason) => this.lost(reason),
      draining: () => this.draining(),
    });
  }

  get label(): string {
    return `VM '${this.vm.name}'`;
  }

  get isOpen(): boolean {
    return this.state.kind === 'open';
  }

  /** True once the VM said it is stopping (graceful removal). */
  get isDraining(): boolean {
    return this.stopping;
  }

  /** Calls `listener` when the VM starts draining and when the session is lost; returns the unsubscribe function. */
  watch(listener: (event: SessionEvent) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  // ---- ProxyHost -------------------------------------------------------------------------

  call(state: PathState, args: unknown[], site: Error, cancel?: CallOptions): Promise<unknown> {
    const remoteName = `${pathLabel(state) || '(remote function)'}()`;
    return this.guarded(state, remoteName, site, cancel, () => ({
      kind: 'call',
      target: targetOf(state),
      args: this.exportArgs(args, remoteName),
    }));
  }

  construct(state: PathState, args: unknown[], site: Error, cancel?: CallOptions): Promise<unknown> {
    const remoteName = `new ${pathLabel(state)}()`;
    return this.guarded(state, remoteName, site, cancel, () => ({
      kind: 'construct',
      target: targetOf(state),
      args: this.exportArgs(args, remoteName),
    }));
  }

  get(state: PathState, site: Error, cancel?: CallOptions): Promise<unknown> {
    const remoteName = pathLabel(state);
    return this.guarded(state, remoteName, site, cancel, () => ({ kind: 'get', target: targetOf(state) }));
  }

  set(state: PathState, key: PathKey, value: unknown, site: Error): void {
    const remoteName = `${pathLabel(state, key)} = …`;
    this.assertUsable(state, remoteName);
    const body: RequestBody = {
      kind: 'set',
      target: { ...targetOf(state), path: [...state.path, key] },
      value: this.exportValue(value, remoteName),
    };
    if (this.state.kind !== 'open') throw this.unavailable(remoteName);
    // Detached: no one awaits it; its failure surfaces at the next await on this VM.
    const id = this.nextId;
    this.request(body, { remoteName, site, detached: true }).catch((error: Error) => {
      this.deferred ??= { id, error };
    });
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    // What arrived before the close is delivered.
    this.decodeWaiting();
    if (this.state.kind === 'open') {
      this.state = { kind: 'closed' };
      this.pending.failAll(
        (entry) => new CancelledError(`the session on ${this.label} was closed while ${entry.remoteName} was outstanding`, { vm: this.vm }),
      );
    }
    this.refs.clear();
    this.closing = this.link.close();
    return this.closing;
  }

  // ---- requests --------------------------------------------------------------------------

  /** Sends one request; resolves with the reply's value or rejects with the matching error. */
  request(body: RequestBody, options: RequestOptions): Promise<unknown> {
    if (this.state.kind !== 'open') return Promise.reject(this.unavailable(options.remoteName));
    const cancel = options.cancel;
    if (cancel?.signal?.aborted) return Promise.reject(abortedBeforeSending(options.remoteName, this.label, cancel.signal, this.vm));
    const id = this.nextId++;
    let bytes: Uint8Array;
    try {
      bytes = this.codec.encode({ ...body, id });
    } catch (error) {
      return Promise.reject(
        new SerializationError(`cannot send ${options.remoteName} to ${this.label}: ${error instanceof Error ? error.message : String(error)}`, {
          vm: this.vm,
          remoteName: options.remoteName,
          cause: error,
        }),
      );
    }
    const limit = this.link.maxMessageBytes;
    if (limit !== undefined && bytes.byteLength > limit) {
      return Promise.reject(
        new SerializationError(`cannot send ${options.remoteName} to ${this.label}: the request is ${bytes.byteLength} bytes, more than the ${limit} one message can carry`, {
          vm: this.vm,
          remoteName: options.remoteName,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const entry: PendingEntry = {
        resolve,
        reject,
        remoteName: options.remoteName,
        site: options.site,
        detached: options.detached ?? false,
        kind: body.kind,
        arrived: options.onArrival,
      };
      if (cancel && (cancel.signal || cancel.timeoutMs !== undefined)) {
        const disarm = armCancellation(cancel, (reason) => this.cancel(id, reason));
        entry.resolve = (value) => {
          disarm();
          resolve(value);
        };
        entry.reject = (error) => {
          disarm();
          reject(error);
        };
      }
      this.pending.add(id, entry);
      this.requestsSent++;
      this.link.send(bytes);
    });
  }

  inject(items: Extract<RequestBody, { kind: 'inject' }>['items'], site?: Error): Promise<unknown> {
    return this.request({ kind: 'inject', items }, { remoteName: `inject(${items.map((i) => i.name).join(', ')})`, site });
  }

  stats(): Promise<SessionStats> {
    return this.request({ kind: 'stats' }, { remoteName: 'stats' }) as Promise<SessionStats>;
  }

  ping(): Promise<unknown> {
    return this.request({ kind: 'ping' }, { remoteName: 'ping' });
  }

  /**
   * Call `path` by name (fork, forkWork): the same as `vm.a.b(...args)`. `onArrival` (forkWork)
   * is told when the reply arrives, before its value is decoded.
   */
  callPath(
    target: { ref?: number; path: readonly PathKey[] },
    args: unknown[],
    remoteName: string,
    site?: Error,
    cancel?: CallOptions,
    chunk = false,
    onArrival?: () => void,
  ): Promise<unknown> {
    try {
      const request = { kind: 'call', target, args: this.exportArgs(args, remoteName) } as const;
      return this.request(chunk ? { ...request, chunk: true } : request, { remoteName, site, cancel, onArrival });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Where the initiator's other sessions reach this one, when they can (forkWork `reduce`). */
  get address(): string | undefined {
    return this.link.address;
  }

  /** forkWork `reduce`: runs a chunk and folds its result into the session's accumulator of `run`. */
  fold(run: string, chunk: number, target: { ref?: number; path: readonly PathKey[] }, arg: unknown, reduce: Function, remoteName: string, cancel?: CallOptions): Promise<unknown> {
    try {
      const [exported, reducer] = this.exportArgs([arg, reduce], remoteName);
      return this.request({ kind: 'fold', run, chunk, target, args: [exported], reduce: reducer }, { remoteName, cancel });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** forkWork `reduce`: one step of moving a run's accumulators (see protocol.ts, CombineOp). */
  combine(run: string, op: CombineOp, remoteName = `forkWork reduce (${op.op})`): Promise<CombineReply | null> {
    try {
      const body = { kind: 'combine', run, ...op } as RequestBody;
      if ('reduce' in op || 'extras' in op) {
        const withCode = body as { reduce?: unknown; extras?: unknown[] };
        if ('reduce' in op) withCode.reduce = this.exportArgs([op.reduce], remoteName)[0];
        if ('extras' in op) withCode.extras = this.exportArgs(op.extras as unknown[], remoteName);
      }
      return this.request(body, { remoteName }) as Promise<CombineReply | null>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Makes `values` (arguments) safe to send: functions travel as code, proxies as references. */
  exportArgs(values: unknown[], remoteName: string): unknown[] {
    let out: unknown[] | undefined;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      const exported = walkValue(value, this.argsVisitor, new Where(`argument ${i + 1} of ${remoteName}`));
      if (exported !== value) (out ??= values.slice())[i] = exported;
    }
    return out ?? values;
  }

  exportValue(value: unknown, remoteName: string): unknown {
    return walkValue(value, this.argsVisitor, new Where(`the value for ${remoteName}`));
  }

  // ---- remote objects --------------------------------------------------------------------

  /** Releases a remote object now; resolves once the session has dropped it. */
  release(state: PathState): Promise<void> {
    const entry = state.root;
    if (!entry || state.path.length > 0) {
      return Promise.reject(new TypeError(`release() takes a remote object, not ${pathLabel(state) ? `the path ${pathLabel(state)}` : 'a VM handle'}`));
    }
    if (entry.released || this.state.kind !== 'open') return Promise.resolve();
    entry.released = true;
    if (this.refs.get(entry.id) === entry) this.refs.delete(entry.id);
    this.registry.unregister(entry);
    const remoteName = `release(${pathLabel(state)})`;
    return this.request({ kind: 'release', refs: [[entry.id, entry.received]] }, { remoteName }).then(() => undefined);
  }

  private proxyForRef(id: number, type: string): object {
    let entry = this.refs.get(id);
    if (entry) {
      entry.received++;
      const live = entry.weak?.deref();
      if (live) return live;
    } else {
      entry = { id, type, received: 1, weak: undefined, released: false };
      this.refs.set(id, entry);
    }
    const proxy = makeProxy({ host: this, root: entry, rootProxy: undefined, path: [] });
    entry.weak = new WeakRef(proxy);
    this.registry.register(proxy, entry, entry);
    return proxy;
  }

  /** A remote-object proxy was garbage-collected: tell the session (batched, in order). */
  private collected(entry: RefEntry): void {
    if (this.refs.get(entry.id) !== entry || entry.weak?.deref() !== undefined || entry.released) return;
    this.refs.delete(entry.id);
    entry.released = true;
    if (this.state.kind !== 'open') return;
    this.releaseQueue.push([entry.id, entry.received]);
    if (!this.releaseScheduled) {
      this.releaseScheduled = true;
      setImmediate(() => {
        this.releaseScheduled = false;
        const refs = this.releaseQueue;
        this.releaseQueue = [];
        if (refs.length > 0 && this.state.kind === 'open') {
          this.request({ kind: 'release', refs }, { remoteName: 'release', detached: true }).catch(() => undefined);
        }
      }).unref();
    }
  }

  private exportFunction(fn: Function, where: Where): unknown {
    const state = stateOf(fn);
    if (!state) {
      const code: CodeDescription = describeFunction(fn, `cannot send ${where} to ${this.label}`);
      return new CodeRef(code);
    }
    if (state.host !== this && (state.host as { client?: unknown }).client !== this) {
      throw new SerializationError(
        `cannot send ${where} to ${this.label}: it is ${pathLabel(state) || 'the handle'} of ${state.host.label}; a remote object can only be used on its own VM`,
        { vm: this.vm, where: where.toString(), remoteName: where.root },
      );
    }
    if (state.root?.released) throw this.releasedError(state);
    return new TargetRef(state.root?.id, state.path);
  }

  // ---- replies ---------------------------------------------------------------------------

  /**
   * A reply arrived. Its head is read first (`peekReplyHeader`): a successful reply tells its
   * request's `onArrival` at once, so forkWork hands that VM its next chunk before the value is
   * decoded. A large reply is then decoded after the event loop's turn (queued in arrival order,
   * so replies are still handled in order), which lets the replies arriving meanwhile do the
   * same: decoding never holds up handing out work.
   */
  private received(bytes: Uint8Array): void {
    const head = peekReplyHeader(bytes);
    if (head?.ok) {
      const entry = this.pending.get(head.id);
      const arrived = entry?.arrived;
      if (arrived) {
        entry.arrived = undefined;
        arrived();
      }
    }
    if (this.toDecode.length === 0 && bytes.byteLength < DEFER_DECODE_BYTES) {
      this.handleReply(bytes);
      return;
    }
    this.toDecode.push(bytes);
    if (!this.decodeScheduled) {
      this.decodeScheduled = true;
      // After this turn's microtasks (where the requests just made are flushed to the link),
      // then after the link's own flush (River posts to its engine on setImmediate).
      queueMicrotask(() => setImmediate(this.decodeSlice));
    }
  }

  private readonly decodeSlice = (): void => {
    this.decodeScheduled = false;
    const until = performance.now() + DECODE_SLICE_MS;
    while (this.toDecode.length > 0) {
      this.handleReply(this.toDecode.shift()!);
      if (performance.now() >= until) break;
    }
    if (this.toDecode.length > 0 && !this.decodeScheduled) {
      this.decodeScheduled = true;
      setImmediate(this.decodeSlice);
    }
  };

  /** Decodes and hands over every reply still waiting (before the session's state changes). */
  private decodeWaiting(): void {
    while (this.toDecode.length > 0) this.handleReply(this.toDecode.shift()!);
  }

  private handleReply(bytes: Uint8Array): void {
    let reply: Reply;
    try {
      reply = this.codec.decode(bytes) as Reply;
    } catch (error) {
      this.lost(new Error(`undecodable reply from ${this.label}`, { cause: error }));
      return;
    }
    const entry = this.pending.take(reply.id);
    if (!entry) return;
    // A refusal from a stopping VM: it is draining (schedulers send it nothing more from now on).
    if (!reply.ok && reply.error.failure === 'VM_STOPPING') this.draining();
    if (entry.detached) {
      if (!reply.ok && entry.kind !== 'release' && !this.deferred) this.deferred = { id: reply.id, error: this.errorOf(reply, entry) };
      entry.resolve(undefined);
      return;
    }
    if (this.deferred && this.deferred.id < reply.id) {
      const { error } = this.deferred;
      this.deferred = undefined;
      entry.reject(error);
      return;
    }
    if (reply.ok) entry.resolve(reply.value);
    else entry.reject(this.errorOf(reply, entry));
  }

  private errorOf(reply: Extract<Reply, { ok: false }>, entry: PendingEntry): Error {
    const remote = new RemoteError(reply.error, { vm: this.vm, remoteName: entry.remoteName, site: entry.site });
    if (reply.error.failure === 'VM_STOPPING') return new VMStoppingError(this.vm, { remoteName: entry.remoteName, cause: remote });
    if (entry.kind === 'inject') {
      const item = typeof reply.error.props?.item === 'string' ? reply.error.props.item : undefined;
      return new InjectError(`cannot inject${item ? ` '${item}'` : ''} into ${this.label}: ${reply.error.message}`, {
        vm: this.vm,
        item,
        cause: remote,
      });
    }
    if (reply.error.failure === 'UNSERIALIZABLE') {
      return new SerializationError(`${reply.error.message} (${entry.remoteName} on ${this.label})`, {
        vm: this.vm,
        remoteName: entry.remoteName,
        cause: remote,
      });
    }
    return remote;
  }

  private lost(reason: Error): void {
    if (this.state.kind !== 'open') return;
    // Replies that arrived before the loss are delivered (one of them may itself end the session).
    this.decodeWaiting();
    if (this.state.kind !== 'open') return;
    this.state = { kind: 'lost', reason };
    this.refs.clear();
    // A session that ran out of memory says so (the link reports a ResourceLimitError).
    const limit = ResourceLimitError.isInstance(reason) ? reason : undefined;
    this.pending.failAll((entry) => (limit ? limit.during(entry.remoteName) : new VMLostError(this.vm, { cause: reason, during: entry.remoteName })));
    this.emit({ kind: 'lost', reason });
  }

  /**
   * Cancels request `id` (its signal aborted or its timeout passed). A running call cannot be
   * interrupted, so the session ends: its worker on the VM is terminated (`link.cancel`), the
   * request and every other one outstanding reject with CancelledError, later ones too.
   */
  private cancel(id: number, reason: CancelReason): void {
    // Replies that arrived before the cancellation are delivered (this one's too: then it is done).
    this.decodeWaiting();
    const entry = this.pending.take(id);
    if (!entry || this.state.kind !== 'open') return;
    const error = new CancelledError(`${entry.remoteName} on ${this.label} was cancelled (${reason.why}); its session was ended to stop it`, {
      vm: this.vm,
      cause: reason.cause,
    });
    this.state = { kind: 'cancelled', reason: error, what: `${entry.remoteName} was cancelled (${reason.why})` };
    this.refs.clear();
    this.pending.failAll(
      (other) => new CancelledError(`the session on ${this.label} was ended while ${other.remoteName} was outstanding: ${entry.remoteName} was cancelled (${reason.why})`, { vm: this.vm }),
    );
    entry.reject(error);
    this.emit({ kind: 'lost', reason: error });
    void (this.link.cancel ? this.link.cancel(error) : this.link.close()).catch(() => undefined);
  }

  private draining(): void {
    if (this.stopping || this.state.kind !== 'open') return;
    this.stopping = true;
    this.emit({ kind: 'draining' });
  }

  private emit(event: SessionEvent): void {
    for (const watcher of [...this.watchers]) watcher(event);
  }

  private unavailable(remoteName: string): Error {
    switch (this.state.kind) {
      case 'lost':
        return new VMLostError(this.vm, { cause: this.state.reason, during: remoteName });
      case 'cancelled':
        return new CancelledError(
          `cannot send ${remoteName}: the session on ${this.label} was ended when ${this.state.what}; connect again for a new session`,
          { vm: this.vm, cause: this.state.reason },
        );
      default:
        return new CancelledError(`cannot send ${remoteName}: the session on ${this.label} is closed`, { vm: this.vm });
    }
  }

  private guarded(state: PathState, remoteName: string, site: Error, cancel: CallOptions | undefined, body: () => RequestBody): Promise<unknown> {
    try {
      this.assertUsable(state, remoteName);
      return this.request(body(), { remoteName, site, cancel });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private assertUsable(state: PathState, remoteName: string): void {
    if (state.root?.released) throw this.releasedError(state, remoteName);
  }

  private releasedError(state: PathState, remoteName?: string): Error {
    const object = `${state.root!.type}#${state.root!.id}`;
    return new CancelledError(
      `${remoteName ? `cannot send ${remoteName}: ` : ''}remote object ${object} on ${this.label} was released`,
      { vm: this.vm },
    );
  }
}

function targetOf(state: PathState): { ref?: number; path: readonly PathKey[] } {
  return state.root ? { ref: state.root.id, path: state.path } : { path: state.path };
}

function typeName(object: object): string {
  const ctor = (object as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === 'string' && ctor.name ? ctor.name : 'Object';
}
