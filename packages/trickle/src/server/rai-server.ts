/**
 * The RAI server on the wire: encoded requests in, encoded replies out. This is the entry a
 * transport calls — the worker of `WorkerLink`, or the River VR (`trickle:rai`) that hosts a
 * session on a VM:
 *
 * ```ts
 * const server = new RaiServer({ send: (bytes) => vr.send(initiator, { tag: 'trickle:reply', body: bytes }), vm });
 * for (;;) server.receive((await vr.recv({ tag: 'trickle:request' })).body);
 * ```
 *
 * Decoding resolves references in arguments on the spot (the codec's decode hooks), so a
 * request is handled with real objects; a reference that does not resolve fails that request
 * only, with a reply that says why.
 */
import { malformedRequest, type ErrorInfo, type Reply, type Request } from '../protocol';
import type { VMRef } from '../session-link';
import { createWireCodec, type WireCodec } from '../values/wire';
import { RaiFailure, toErrorInfo } from './error-info';
import { RaiSession, targetText, type RaiSessionOptions } from './rai-session';

export interface RaiServerOptions extends RaiSessionOptions {
  /** Sends one encoded reply to the initiator, in order. */
  send(bytes: Uint8Array): void;
  /**
   * Whether the VM is stopping (graceful removal). While it is, a request that would run code
   * (call, construct, get, set, inject) is not run but answered with a `VM_STOPPING` failure,
   * which the initiator may send elsewhere; release, stats and ping are still served.
   */
  stopping?: () => boolean;
  /** The largest encoded reply the transport carries; a larger result is answered with an error. */
  maxReplyBytes?: number;
  /** Told of every answered request (for the VM's metrics): its kind, its failure if it failed, whether it was a forkWork chunk. */
  answered?: (kind: string, failure: string | undefined, chunk: boolean) => void;
}

export class RaiServer {
  readonly session: RaiSession;
  private readonly codec: WireCodec;
  private readonly sendBytes: (bytes: Uint8Array) => void;
  /** The first reference in the request being decoded that did not resolve. */
  private decodeProblem: unknown;
  private closed = false;
  private readonly maxReplyBytes: number;
  private readonly stopping: () => boolean;
  private readonly answered: RaiServerOptions['answered'];
  /** Requests dropped as undecodable (their warnings are rate-limited). */
  private readonly dropped = { count: 0, lastReport: 0 };

  constructor(options: RaiServerOptions) {
    this.session = new RaiSession(options);
    this.sendBytes = options.send;
    this.maxReplyBytes = options.maxReplyBytes ?? Infinity;
    this.stopping = options.stopping ?? (() => false);
    this.answered = options.answered;
    this.codec = createWireCodec({
      remoteRef: () => {
        throw new TypeError('a session does not accept remote references of its own kind');
      },
      targetRef: (ref, path) => this.guard(() => this.session.resolveArgument(ref, path)),
      codeRef: (code) => this.guard(() => this.session.evaluateArgument(code)),
    });
  }

  get vm(): VMRef | undefined {
    return this.session.vm;
  }

  /**
   * One encoded request from the initiator. Replies go out through `send`, in handling order.
   * Never throws: undecodable bytes are dropped (there is no id to answer), a malformed request
   * is answered with a BAD_REQUEST error.
   */
  receive(bytes: Uint8Array): void {
    try {
      this.receiveOne(bytes);
    } catch (error) {
      // A bug, not bad input (that is answered above): keep the session alive, say so.
      this.reportUndecodable(error);
    }
  }

  private receiveOne(bytes: Uint8Array): void {
    if (this.closed) return;
    this.decodeProblem = undefined;
    let request: Request;
    try {
      request = this.codec.decode(bytes) as Request;
    } catch (error) {
      // Without an id there is nobody to answer; a transport delivering garbage is a bug there.
      this.reportUndecodable(error);
      return;
    }
    if (typeof request !== 'object' || request === null || typeof request.id !== 'number') {
      this.reportUndecodable(new TypeError('request without an id'));
      return;
    }
    const kind = String(request.kind).slice(0, 16);
    const chunk = (request.kind === 'call' && request.chunk === true) || request.kind === 'fold';
    const reply = (r: Reply) => {
      this.answered?.(kind, r.ok ? undefined : (r.error?.failure ?? 'ERROR'), chunk);
      this.reply(r);
    };
    const malformed = malformedRequest(request);
    if (malformed !== undefined) {
      reply(this.session.errorReply(request.id, new RaiFailure('BAD_REQUEST', `malformed ${String(request.kind)} request: ${malformed}`, { name: 'TypeError' }), String(request.kind)));
      return;
    }
    if (RUNS_CODE.has(request.kind) && this.stopping()) {
      const what = describeRequest(request);
      const vm = this.session.vm ? `VM '${this.session.vm.name}'` : 'the VM';
      reply(this.session.errorReply(request.id, new RaiFailure('VM_STOPPING', `${vm} is stopping: ${what} was not run`), what));
      return;
    }
    if (this.decodeProblem !== undefined) {
      reply(this.session.errorReply(request.id, this.decodeProblem, describeTarget(request)));
      return;
    }
    const handled = this.session.handle(request);
    if (handled instanceof Promise) handled.then(reply, (error: unknown) => this.reportUndecodable(error));
    else reply(handled);
  }

  /** Ends the session: forgets every held object; later requests are ignored. */
  close(): void {
    this.closed = true;
    this.session.close();
  }

  private reply(reply: Reply): void {
    if (this.closed) return;
    let bytes: Uint8Array;
    try {
      bytes = this.codec.encode(reply);
    } catch (error) {
      const info: ErrorInfo = toErrorInfo(
        new RaiFailure('UNSERIALIZABLE', `cannot send the reply to request ${reply.id}: ${error instanceof Error ? error.message : String(error)}`, { name: 'TypeError' }),
        () => undefined,
      );
      bytes = this.codec.encode({ id: reply.id, ok: false, error: info } satisfies Reply);
    }
    if (bytes.byteLength > this.maxReplyBytes) {
      const info = toErrorInfo(
        new RaiFailure('UNSERIALIZABLE', `the reply to request ${reply.id} is ${bytes.byteLength} bytes, more than the ${this.maxReplyBytes} one message can carry`, { name: 'RangeError' }),
        () => undefined,
      );
      bytes = this.codec.encode({ id: reply.id, ok: false, error: info } satisfies Reply);
    }
    this.sendBytes(bytes);
  }

  private guard(resolve: () => unknown): unknown {
    if (this.decodeProblem !== undefined) return undefined;
    try {
      return resolve();
    } catch (error) {
      this.decodeProblem = error;
      return undefined;
    }
  }

  /** Says on stderr that a request was dropped: the first few times, then once per minute with a count. */
  private reportUndecodable(error: unknown): void {
    const now = Date.now();
    this.dropped.count++;
    if (this.dropped.count <= 5 || now - this.dropped.lastReport >= 60_000) {
      const more = this.dropped.count > 5 ? ` (${this.dropped.count} so far)` : '';
      this.dropped.lastReport = now;
      process.emitWarning(`trickle: dropped an undecodable request${more}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** Requests a stopping VM refuses: they would run code (release, stats and ping do not). */
const RUNS_CODE: ReadonlySet<string> = new Set(['call', 'construct', 'get', 'set', 'inject', 'fold']);

/** `foo()`, `new Stack()`, `names`, `inject(a, b)`: what a request does, for messages. */
function describeRequest(request: Request): string {
  if (request.kind === 'inject') return `inject(${request.items.map((i) => i.name).join(', ')})`;
  const target = describeTarget(request);
  return request.kind === 'call' ? `${target}()` : request.kind === 'construct' ? `new ${target}()` : target;
}

function describeTarget(request: Request): string {
  return 'target' in request && request.target ? targetText(request.target) : String(request.kind);
}
