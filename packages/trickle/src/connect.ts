/**
 * connect(): discover River VMs, open one Trickle session (a RAI VR in its own worker) on each,
 * and return their handles. With nothing found and no `local` given, it starts local VMs (one
 * per core) so a program works out of the box, and says so on stderr.
 */
import { availableParallelism } from 'node:os';
import { startInitiator, type Initiator, type Stoppable, type VMInfo } from '@river/engine';
import { NotEnoughVMsError } from './errors';
import { inject } from './inject';
import { RiverLink, keepAlive } from './river/river-link';
import { RAI_EXTENSION } from './river/tags';
import { trickleCliPath } from './river/extension';
import { LiveSet, liveSetOf, type LiveVMList } from './scheduling/live-vms';
import type { Injectable, VM } from './types';
import { clientOf, createVM, disconnect, type VMList } from './vm';

export interface ConnectOptions {
  /** Use at most this many VMs; with `connect(n)`, exactly n or NotEnoughVMsError. */
  max?: number;
  /** Fail with NotEnoughVMsError when fewer are found (default 1). */
  min?: number;
  /**
   * How long discovery listens at most (default 1500 ms; env TRICKLE_TIMEOUT_MS). With a count
   * (`connect(n)`, or `max`) it returns as soon as that many VMs answered; without one it
   * listens for the whole window, since it wants every VM there is.
   */
  timeoutMs?: number;
  /** Static peers `host:port` (env TRICKLE_PEERS, then RIVER_PEERS). */
  peers?: string[] | string;
  /** Start this many local VMs as child processes (env TRICKLE_LOCAL). */
  local?: number;
  /** Cluster key (env TRICKLE_KEY, then RIVER_KEY). */
  key?: string;
  /** Key file (env TRICKLE_KEY_FILE, then RIVER_KEY_FILE). */
  keyFile?: string;
  /** mDNS discovery on/off (env TRICKLE_MDNS=off, then RIVER_MDNS). */
  mdns?: boolean;
  /** Pin mDNS to one interface (env TRICKLE_MDNS_INTERFACE, then RIVER_MDNS_INTERFACE). */
  interface?: string;
  /** Print `[trickle: discovered N VMs]` on stderr (default: on under `trickle run`). */
  announce?: boolean;
  /**
   * Heap limit of each session's worker on the VMs, in MB (V8's `maxOldGenerationSizeMb`). A
   * session that exceeds it is ended and its requests reject with `ResourceLimitError`; the VM
   * and its other sessions carry on. It bounds the JavaScript heap, not Buffers / ArrayBuffers.
   */
  maxOldGenerationSizeMb?: number;
  /**
   * Keep looking for VMs after connecting and return a live list (`LiveVMList`): VMs found later
   * (static peers and their cluster membership, mDNS when on) get a session, are given what was
   * injected into the list so far, and are appended; running forkWork/forkGen calls on the list
   * use them. VMs that are lost or stop are taken out. `max` still caps the list.
   * `{ intervalMs }` sets how often the sources are polled (default 2000 ms).
   */
  watch?: boolean | WatchOptions;
}

export interface WatchOptions {
  /** How often discovery sources are polled for new VMs (default 2000 ms). */
  intervalMs?: number;
}

const env = (name: string): string | undefined => {
  const value = process.env[`TRICKLE_${name}`] ?? process.env[`RIVER_${name}`];
  return value === undefined || value === '' ? undefined : value;
};

function envNumber(name: string): number | undefined {
  const raw = env(name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`TRICKLE_${name} must be a non-negative integer, got '${raw}'`);
  return n;
}

function resolveOptions(arg: number | ConnectOptions | undefined): ConnectOptions & { exact: boolean } {
  const options: ConnectOptions = typeof arg === 'number' ? { max: arg, min: arg } : { ...(arg ?? {}) };
  if (typeof arg === 'number' && (!Number.isInteger(arg) || arg < 1)) {
    throw new RangeError(`connect(n): n must be a positive integer, got ${String(arg)}`);
  }
  options.peers ??= env('PEERS');
  options.key ??= env('KEY');
  options.keyFile ??= env('KEY_FILE');
  options.local ??= envNumber('LOCAL');
  options.timeoutMs ??= envNumber('TIMEOUT_MS');
  options.interface ??= env('MDNS_INTERFACE');
  if (options.mdns === undefined) {
    const mdns = env('MDNS');
    if (mdns !== undefined) options.mdns = !/^(off|0|false|no)$/i.test(mdns);
  }
  options.announce ??= process.env.TRICKLE_ANNOUNCE === '1';
  return { ...options, exact: typeof arg === 'number' };
}

/** Which initiator (engine) serves which VM handles, so the last disconnect stops it. */
const owners = new WeakMap<object, Initiator>();
const openHandles = new Map<Initiator, Set<VM>>();

export function connect(): Promise<VMList<VM>>;
export function connect(n: number): Promise<VMList<VM>>;
export function connect(options: ConnectOptions & { watch: true | WatchOptions }): Promise<LiveVMList<VM>>;
export function connect(options: ConnectOptions): Promise<VMList<VM>>;
export async function connect(arg?: number | ConnectOptions): Promise<VMList<VM>> {
  const options = resolveOptions(arg);
  const localCommand = [process.execPath, trickleCliPath(), 'vm'];
  const initiator = await startInitiator({ key: options.key, keyFile: options.keyFile, localCommand });
  // Held while connecting; afterwards the engine keeps the process alive only while requests
  // are outstanding, so a program ends without an explicit disconnect.
  keepAlive(initiator, +1);
  try {
    const discoverOptions = {
      timeoutMs: options.timeoutMs ?? 1500,
      // connect(n) and { max } are done once that many VMs answered; connect() wants them all.
      want: Number.isInteger(options.max) && options.max! >= 1 ? options.max : undefined,
      peers: options.peers,
      mdns: options.mdns,
      interface: options.interface,
      localCommand,
    };
    let found = await initiator.discover({ ...discoverOptions, local: options.local });
    if (found.length === 0 && options.local === undefined) {
      const n = options.max ?? availableParallelism();
      process.stderr.write(`[trickle: no VMs found; starting ${n} local VM${n === 1 ? '' : 's'}]\n`);
      found = await initiator.discover({ ...discoverOptions, peers: undefined, mdns: false, local: n });
    }
    const min = options.min ?? 1;
    if (found.length < min) {
      throw new NotEnoughVMsError(min, found.length, {
        detail: options.exact ? `connect(${min}) needs exactly ${min}` : 'start VMs with `trickle vm`, or pass peers or local',
      });
    }
    const chosen = options.max === undefined ? found : found.slice(0, options.max);
    const vms = await Promise.all(chosen.map((info) => openSession(initiator, info, options)));
    if (options.announce) process.stderr.write(`[trickle: discovered ${vms.length} VM${vms.length === 1 ? '' : 's'}]\n`);
    openHandles.set(initiator, new Set(vms));
    for (const vm of vms) owners.set(vm, initiator);
    const list = options.watch ? await watchList(initiator, vms, options) : connectedList(vms);
    keepAlive(initiator, -1);
    return list;
  } catch (error) {
    await initiator.stop();
    throw error;
  }
}

async function openSession(initiator: Initiator, info: VMInfo, options: ConnectOptions): Promise<VM> {
  const vmRef = { id: info.id, name: info.name };
  const uuid = await initiator.deployWith(info, RAI_EXTENSION, {
    args: [vmRef],
    lifetime: 'parent',
    resourceLimits: options.maxOldGenerationSizeMb ? { maxOldGenerationSizeMb: options.maxOldGenerationSizeMb } : undefined,
  });
  const vm = createVM(new RiverLink(initiator, info, uuid, { maxOldGenerationSizeMb: options.maxOldGenerationSizeMb }));
  await clientOf(vm).ping();
  return vm;
}

/**
 * A live list over `vms`: the engine's `watchVMs` reports VMs as they appear (static peers and
 * the membership they report, mDNS when on) and go. A new VM gets a session, the injections
 * made into the list so far are replayed to it, and then it is appended (LiveSet.admit).
 */
async function watchList(initiator: Initiator, vms: VM[], options: ConnectOptions): Promise<LiveVMList<VM>> {
  const watchOptions = typeof options.watch === 'object' ? options.watch : {};
  const byId = new Map<string, VM>();
  /**
   * Ids of VMs that have or are getting a session: each VM joins once while it is up. A VM that
   * went down (lost after a stall or partition) may come back: it then joins with a new session.
   */
  const seen = new Set<string>();
  for (const vm of vms) {
    const { id } = clientOf(vm).vm;
    byId.set(id, vm);
    seen.add(id);
  }
  let watcher: Stoppable | undefined;
  const live = new LiveSet(vms, {
    dispose: (list) => disconnectVMs(list),
    stopWatching: async () => {
      const stopping = watcher;
      watcher = undefined;
      if (!stopping) return;
      // The engine answers on an unref'd worker: hold the process open until it has.
      keepAlive(initiator, +1);
      try {
        await stopping.stop();
      } finally {
        keepAlive(initiator, -1);
      }
    },
  });
  const join = async (info: VMInfo) => {
    if (live.closed || seen.has(info.id)) return;
    if (options.max !== undefined && live.list.length >= options.max) return;
    seen.add(info.id);
    let vm: VM | undefined;
    try {
      vm = await openSession(initiator, info, options);
      owners.set(vm, initiator);
      openHandles.get(initiator)?.add(vm);
      byId.set(info.id, vm);
      const admitted = await live.admit(vm, (target, items) => inject(target, ...(items as Injectable[])));
      if (!admitted) await disconnectVMs(vm);
      else if (options.announce) process.stderr.write(`[trickle: VM ${info.name} joined]\n`);
    } catch (error) {
      if (vm) await disconnectVMs(vm).catch(() => undefined);
      if (!live.closed) process.emitWarning(`trickle: VM ${info.name} (${info.host}:${info.port}) could not join: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  watcher = await initiator.watchVMs(
    { peers: options.peers, mdns: options.mdns, interface: options.interface, intervalMs: watchOptions.intervalMs },
    (info) => void join(info),
    (info) => {
      const vm = byId.get(info.id);
      if (vm) live.drop(vm);
      seen.delete(info.id);
    },
  );
  return live.list;
}

/** Ends the sessions on these VMs; the initiator's engine stops with its last session. */
export async function disconnectVMs(vms: VM | readonly VM[]): Promise<void> {
  // A live list stops watching first, and ends every session it ever had (also those dropped).
  const live = liveSetOf(vms);
  if (live) await live.close();
  const list = live ? live.all() : Array.isArray(vms) ? (vms as readonly VM[]) : [vms as VM];
  await disconnect(list);
  const stopping = new Set<Initiator>();
  for (const vm of list) {
    const initiator = owners.get(vm);
    const open = initiator && openHandles.get(initiator);
    if (!initiator || !open) continue;
    open.delete(vm);
    if (open.size === 0) {
      openHandles.delete(initiator);
      stopping.add(initiator);
    }
  }
  await Promise.all([...stopping].map((initiator) => initiator.stop()));
}

function connectedList(vms: VM[]): VMList<VM> {
  const list = vms as VMList<VM>;
  Object.defineProperty(list, Symbol.asyncDispose, { value: () => disconnectVMs(list), enumerable: false, configurable: true });
  return list;
}
