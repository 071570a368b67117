/**
 * `VirtualResource`: a process-like unit named by a UUID, with its own mailbox. The same code runs
 * in a VM's worker thread and on an initiator's main thread; in both it talks to its engine
 * through an {@link EngineLink} over a MessagePort.
 */
import { Mailbox, decode, encode, type Guarded, type Message, type MessageType, type Pattern } from '@river/sfm';
import { importsOf } from '../code/portable';
import { sourcePositionOf } from '../code/source-position';

import { DeployError } from '../errors/deploy-error';
import { ReservedAttributeError } from '../errors/reserved-attribute-error';
import { StoppedError } from '../errors/stopped-error';
import { reviveError } from '../errors/wire';
import type { Lifetime, PortDeployArgs, PortTerminateArgs, ResourceLimits, UUID } from '../protocol';
import type { DiscoveryReport } from '../discovery/failures';
import type { VMInfo } from '../vm-info';
import type { EngineLink } from './link';

/** Options of `recv` (as for SFM's `Mailbox.recv`). */
export interface RecvOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** What `recv`, `tryRecv` and `peek` select with: a pattern, or a predicate over the message. */
export type Selector = Pattern<Received> | ((msg: Received) => boolean);

/**
 * A received message: its attributes plus `src` (the sender's UUID) and `dest` (this VR's). `M`
 * may be any object type: a type alias, an interface, or `Message`.
 */
export type Received<M extends MessageType = Message> = M & { src: UUID; dest: UUID };

/**
 * What `send` takes: a record of attributes without `src` and `dest`, which River sets on
 * delivery (a message that has them is refused with ReservedAttributeError).
 */
export type Outgoing<M extends MessageType = Message> = M & { readonly src?: never; readonly dest?: never };

/** Attributes River sets on every delivered message; `send` refuses a message that has one. */
export const RESERVED_ATTRIBUTES: readonly string[] = ['src', 'dest'];

/** Where `discover` looks; every source found is merged and deduplicated by VM id. */
export interface DiscoverOptions {
  /** How long to wait for mDNS answers and static peers (default 2000 ms): the most `discover` listens. */
  timeoutMs?: number;
  /**
   * Return as soon as this many distinct VMs are known, from all sources together, instead of
   * listening for the whole `timeoutMs` (which stays the bound). Local VMs asked for with `local`
   * are still started and counted. Default: listen for the whole window (every VM is wanted).
   */
  want?: number;
  /**
   * Static peers (array or comma-separated); default env `RIVER_PEERS`. Each is `host:port`, or
   * `name:port` (every address the name resolves to, e.g. a Kubernetes headless Service), or a bare
   * `name` (the targets of SRV `_river._tcp.name`); names are resolved again at every discovery.
   */
  peers?: string[] | string;
  /** The DNS server for peer names, `ip` or `ip:port`; default env `RIVER_DNS_SERVER`, else the system's resolver. */
  dnsServer?: string;
  /** Start this many local VMs as child processes (at least; ones already started count). */
  local?: number;
  /** mDNS browsing; default on unless env `RIVER_MDNS=off`. */
  mdns?: boolean;
  /** Pin mDNS to one interface (name or address); default env `RIVER_MDNS_INTERFACE`. */
  interface?: string;
  /** argv prefix that starts a VM, used for `local` instead of `river vm` (e.g. `['node', 'trickle.js', 'vm']`). */
  localCommand?: string[];
  /** Extra env for local VMs. */
  localEnv?: Record<string, string>;
}

/** Options of `deployWith`. */
export interface DeployOptions {
  /** Arguments of `main` (SFM-encoded). */
  args?: unknown[];
  /** `'parent'` (default): the VR is stopped when its parent exits or is lost. `'detached'`: it lives on. */
  lifetime?: Lifetime;
  /** Passed to the VR's worker thread (e.g. `{ maxOldGenerationSizeMb: 256 }`). */
  resourceLimits?: ResourceLimits;
  /** How long to wait for the VR to start (default 30 s). */
  timeoutMs?: number;
}

/**
 * What `watchVMs` watches. mDNS (when on) is followed as it happens: a VM that announces itself is
 * reported at once, one that says goodbye too. Static peers and the membership they report are
 * asked every `intervalMs`.
 */
export interface WatchVMsOptions extends Pick<DiscoverOptions, 'peers' | 'dnsServer' | 'mdns' | 'interface'> {
  /** How often static peers (and their membership) are polled (default 2000 ms). */
  intervalMs?: number;
}

/** A handle to stop something that runs in the background. */
export interface Stoppable {
  stop(): Promise<void>;
}

/** A VR class as `deploy` takes it: any subclass of VirtualResource. */
export type VRClass<T extends VirtualResource = VirtualResource> = abstract new () => T;

/** What a VR instance is built with (set by the host right before `new VRClass()`). */
export interface VRContext {
  uuid: UUID;
  parent: UUID | undefined;
  /** The node id of the engine this VR lives on. */
  nodeId: string;
  link: EngineLink;
}

const CONTEXT_SLOT = Symbol.for('river.vr.pendingContext');
/** How many gone VRs a VR remembers (oldest forgotten first). */
const GONE_MEMORY = 10_000;
const VR_MARKER = Symbol.for('river.VirtualResource');

type Slot = { [CONTEXT_SLOT]?: VRContext };

/** Each VR's engine link, for the internal entry (internal.ts); VRs keep theirs private. */
const links = new WeakMap<VirtualResource, EngineLink>();

/** The engine link of `vr` (undefined when `vr` is not a VR of this copy of the package). */
export function engineLinkOf(vr: VirtualResource): EngineLink | undefined {
  return links.get(vr);
}

/** Builds a VR of class `cls` bound to `context` (works across duplicate copies of this package). */
export function constructVR<T extends VirtualResource>(cls: VRClass<T>, context: VRContext): T {
  const slot = globalThis as Slot;
  slot[CONTEXT_SLOT] = context;
  try {
    return new (cls as unknown as new () => T)();
  } finally {
    delete slot[CONTEXT_SLOT];
  }
}

/** True when `cls` is a class whose prototype chain contains (some copy of) VirtualResource. */
export function isVRClass(cls: unknown): cls is VRClass {
  if (typeof cls !== 'function') return false;
  for (let p = (cls as { prototype?: object }).prototype; p; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p, VR_MARKER)) return true;
  }
  return false;
}

export abstract class VirtualResource {
  /** This VR's name. */
  readonly uuid: UUID;
  /** The VR that deployed this one (undefined for an initiator). */
  readonly parent: UUID | undefined;
  /** The node id of the engine (process) this VR runs on. */
  readonly nodeId: string;
  readonly #link: EngineLink;
  readonly #mailbox = new Mailbox();
  /** The mailbox seen through the one selector type River uses (SFM's overloads are narrower). */
  readonly #box = this.#mailbox as unknown as {
    recv(selector: Selector | undefined, options: RecvOptions): Promise<Message>;
    tryRecv(selector: Selector | undefined): Message | undefined;
    peek(selector: Selector | undefined): Message | undefined;
  };
  /** VRs known to be gone, with why. */
  readonly #gone = new Map<UUID, Error>();
  readonly #watched = new Set<UUID>();
  readonly #stopController = new AbortController();
  readonly #vmWatchers = new Map<number, { up(info: VMInfo): void; down(info: VMInfo): void }>();

  constructor() {
    const ctx = (globalThis as Slot)[CONTEXT_SLOT];
    if (!ctx) {
      throw new TypeError(
        'a VirtualResource is created by River (deploy, runInitiator, startInitiator), not with `new` directly',
      );
    }
    this.uuid = ctx.uuid;
    this.parent = ctx.parent;
    this.nodeId = ctx.nodeId;
    this.#link = ctx.link;
    links.set(this, ctx.link);
    this.#link.attach({
      message: (src, body) => this.#deliver(src, body),
      gone: (uuid, error) => this.#onGone(uuid, error),
      stop: () => this.#onStop(),
      closed: (error) => this.#mailbox.close(error),
      vmEvent: (sub, kind, info) => this.#vmWatchers.get(sub)?.[kind](info),
    });
  }

  /** The VR's body. When it settles, the parent receives `{ tag: 'river:exit', uuid, value | error }`. */
  abstract main(...args: any[]): unknown;

  /** Aborts when the engine asks this VR to stop (its VM is stopping); a `river:stop` message arrives too. */
  get signal(): AbortSignal {
    return this.#stopController.signal;
  }

  /**
   * True once this VR's VM is stopping. Unlike `signal` (which aborts when this VR's thread gets
   * to the stop message), it is true as soon as the engine decided to stop, also in the middle of
   * synchronous work: a VR can check it before starting each piece of work it was sent.
   */
  get stopping(): boolean {
    return this.#link.stopRequested || this.#stopController.signal.aborted;
  }

  /**
   * Sends `msg` to the VR named `dest`. The receiver sees `src` (this VR) and `dest` on it; a
   * message that has either already is refused (ReservedAttributeError), never overwritten.
   */
  send<M extends MessageType>(dest: UUID, msg: Outgoing<M>): void {
    if (typeof dest !== 'string' || dest === '') throw new TypeError('send: dest must be a VR UUID');
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
      throw new TypeError('send: a message is a record of attributes (a plain object)');
    }
    for (const attribute of RESERVED_ATTRIBUTES) {
      if (Object.hasOwn(msg, attribute)) {
        throw new ReservedAttributeError({
          message: `send: a message may not have a '${attribute}' attribute: River sets 'src' and 'dest' on delivery (rename it, e.g. 'from' or 'to')`,
          attribute,
        });
      }
    }
    this.#link.send(dest, encode(msg));
  }

  /**
   * Resolves with the oldest queued message for which `predicate` returns true; a type guard
   * (`(m: unknown) => m is Pong`) types the result.
   */
  recv<F extends (msg: Received) => boolean>(predicate: F, options?: RecvOptions): Promise<Received<Guarded<F>>>;
  /**
   * Resolves with the oldest queued message that matches `pattern` (any message when omitted).
   * With a literal `src` in the pattern, it rejects (VRExitedError, VRLostError, UnknownVRError)
   * once that VR is gone and nothing from it matching is queued.
   */
  recv(pattern?: Pattern<Received>, options?: RecvOptions): Promise<Received>;
  /**
   * `recv<Pong>(pattern)`: the pattern is checked against `Pong` (plus `src` and `dest`): only its
   * attributes, with values of their types. The result is typed as a received `Pong` (trusted, as
   * any data from another VR).
   */
  recv<M extends MessageType>(pattern?: Pattern<NoInfer<Received<M>>>, options?: RecvOptions): Promise<Received<M>>;
  recv(selector?: Selector, options: RecvOptions = {}): Promise<Received> {
    const src = literalSrc(selector);
    if (src !== undefined) {
      const queued = this.#box.tryRecv(selector);
      if (queued !== undefined) return Promise.resolve(queued as Received);
      const gone = this.#gone.get(src);
      if (gone) return Promise.reject(gone);
      if (!this.#watched.has(src)) {
        // Ask the engine once per VR: it answers with a `gone` notice when src is (or becomes) gone.
        this.#watched.add(src);
        this.#link.watch(src);
      }
    }
    return this.#box.recv(selector, options) as Promise<Received>;
  }

  /** Takes the oldest matching message if one is queued (selects and types as `recv`). */
  tryRecv<F extends (msg: Received) => boolean>(predicate: F): Received<Guarded<F>> | undefined;
  tryRecv(pattern?: Pattern<Received>): Received | undefined;
  tryRecv<M extends MessageType>(pattern?: Pattern<NoInfer<Received<M>>>): Received<M> | undefined;
  tryRecv(selector?: Selector): Received | undefined {
    return this.#box.tryRecv(selector) as Received | undefined;
  }

  /** Looks at the oldest matching message without taking it (selects and types as `recv`). */
  peek<F extends (msg: Received) => boolean>(predicate: F): Received<Guarded<F>> | undefined;
  peek(pattern?: Pattern<Received>): Received | undefined;
  peek<M extends MessageType>(pattern?: Pattern<NoInfer<Received<M>>>): Received<M> | undefined;
  peek(selector?: Selector): Received | undefined {
    return this.#box.peek(selector) as Received | undefined;
  }

  /** Number of queued messages. */
  get pending(): number {
    return this.#mailbox.size;
  }

  /**
   * Finds VMs: static peers, mDNS, local child VMs, and the members each reports. Every VM
   * returned was reached and authenticated; to learn what could not be (a wrong port, a wrong
   * key, an impostor on mDNS), use {@link discoverReport}.
   */
  async discover(options: DiscoverOptions = {}): Promise<VMInfo[]> {
    return (await this.discoverReport(options)).vms;
  }

  /**
   * `discover`, with what failed: `{ vms, failures }`, each failure naming the static peer or mDNS
   * announcement, its address and why (`refused`, `timeout`, `closed`, `wrong-key`, `protocol`,
   * `unreachable`).
   */
  discoverReport(options: DiscoverOptions = {}): Promise<DiscoveryReport> {
    return this.#link.request<DiscoveryReport>('discover', options);
  }

  /** Deploys `VRClass` (its source is shipped) or an extension's VR class by name on `vm`; resolves with the new VR's UUID. */
  deploy(vm: VMInfo, vr: VRClass | string, ...args: unknown[]): Promise<UUID> {
    return this.deployWith(vm, vr, { args });
  }

  /** `deploy` with options: lifetime, resource limits, timeout. */
  async deployWith(vm: VMInfo, vr: VRClass | string, options: DeployOptions = {}): Promise<UUID> {
    if (!vm || typeof vm.id !== 'string') throw new DeployError({ message: 'deploy: the first argument must be a VMInfo (from discover)' });
    const request: PortDeployArgs = {
      vm,
      args: encode(options.args ?? []),
      lifetime: options.lifetime ?? 'parent',
      resourceLimits: options.resourceLimits,
    };
    if (typeof vr === 'string') request.extension = vr;
    else {
      request.source = classSource(vr);
      const imports = importsOf(vr, `deploy: VR class ${vr.name || '(anonymous)'}`);
      if (imports.length > 0) request.imports = imports;
      const position = sourcePositionOf(vr);
      if (position) request.position = position;
    }
    return this.#link.request<UUID>('deploy', request, options.timeoutMs ?? 30_000);
  }

  /**
   * Ends a VR this one deployed, at once: its worker is terminated even in the middle of a
   * synchronous loop, and this VR then receives its `river:exit` (the error says it was
   * terminated, with `reason`). Resolves once the worker is gone (also when it already was).
   * Only the parent may terminate a VR (`NotParentError` otherwise).
   */
  terminate(uuid: UUID, reason?: string): Promise<void> {
    if (typeof uuid !== 'string' || uuid === '') return Promise.reject(new TypeError('terminate: uuid must be a VR UUID'));
    return this.#link.request<null>('terminate', { uuid, reason } satisfies PortTerminateArgs, 30_000).then(() => undefined);
  }

  /** Calls `onUp` for every VM found now and later, `onDown` when one goes away. */
  async watchVMs(options: WatchVMsOptions, onUp: (info: VMInfo) => void, onDown: (info: VMInfo) => void = () => undefined): Promise<Stoppable> {
    const subscription = await this.#link.request<number>('watch-vms', options);
    this.#vmWatchers.set(subscription, { up: onUp, down: onDown });
    return {
      stop: async () => {
        if (!this.#vmWatchers.delete(subscription)) return;
        await this.#link.request('unwatch-vms', subscription).catch(() => undefined);
      },
    };
  }

  #deliver(src: UUID, body: Uint8Array): void {
    let msg: Message;
    try {
      const value = decode(body);
      msg = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Message) : { value };
    } catch (error) {
      msg = { tag: 'river:undecodable', error };
    }
    msg.src = src;
    const tag = msg.tag;
    if (tag === 'river:undeliverable') {
      msg.error = reviveError(msg.error);
      if (msg.message instanceof Uint8Array) {
        try {
          msg.message = decode(msg.message);
        } catch {
          // keep the bytes
        }
      }
    } else {
      msg.dest = this.uuid;
      if (tag === 'river:exit' && msg.error !== undefined) msg.error = reviveError(msg.error);
    }
    this.#mailbox.put(msg);
  }

  #onGone(uuid: UUID, error: Error): void {
    this.#gone.set(uuid, error);
    if (this.#gone.size > GONE_MEMORY) this.#gone.delete(this.#gone.keys().next().value!);
    this.#mailbox.rejectReceivers((selector) => literalSrc(selector) === uuid, error);
  }

  #onStop(): void {
    this.#mailbox.put({ tag: 'river:stop', src: this.nodeId, dest: this.uuid });
    this.#stopController.abort(new StoppedError({ message: 'this VR is being stopped (its VM is stopping)' }));
  }
}

Object.defineProperty(VirtualResource.prototype, VR_MARKER, { value: true });

function literalSrc(selector: unknown): UUID | undefined {
  if (selector && typeof selector === 'object') {
    const src = (selector as { src?: unknown }).src;
    if (typeof src === 'string') return src;
  }
  return undefined;
}

/** The source `deploy` ships: a class (native, bound and non-class functions fail clearly). */
export function classSource(cls: unknown): string {
  if (!isVRClass(cls)) throw new DeployError({ message: 'deploy: expected a class that extends VirtualResource, or an extension name' });
  const source = Function.prototype.toString.call(cls);
  if (!/^\s*class\b/.test(source) || /\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw new DeployError({ message: `deploy: the source of ${(cls as { name?: string }).name || 'this class'} cannot be shipped (native or bound)` });
  }
  return source;
}
