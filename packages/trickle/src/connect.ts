/**
 * connect(): discover River VMs, open one Trickle session (a RAI VR in its own worker) on each,
 * and return their handles. With nothing found, no peers named and no `local` given, it starts
 * local VMs (one per core) so a program works out of the box, and says so on stderr.
 *
 * Never a silent fallback: peers named in `peers` / TRICKLE_PEERS that cannot be reached or
 * authenticated are a PeerFailureError (with a count, `connect(n)`, or a live list, `watch`, only
 * when fewer than n, or min, are usable). VMs that discovery found but could not use (an mDNS impostor, a wrong key, a VM
 * without a session) are skipped and named on stderr; NotEnoughVMsError names them too.
 */
import { availableParallelism } from 'node:os';
import { describeFailure, startInitiator, type DiscoveryFailure, type Initiator, type Stoppable, type VMInfo } from '@river/engine';
import { KeyError, NotEnoughVMsError, PeerFailureError } from './errors';
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

/** The option (or env variable) a setting came from, for messages: `TRICKLE_PEERS`, `peers`. */
function sourceOf(option: unknown, name: string, optionName: string): string | undefined {
  if (option !== undefined) return optionName;
  for (const prefix of ['TRICKLE_', 'RIVER_']) {
    const value = process.env[`${prefix}${name}`];
    if (value !== undefined && value !== '') return `${prefix}${name}`;
  }
  return undefined;
}

interface ResolvedOptions extends ConnectOptions {
  exact: boolean;
  /** Where `peers` came from (`peers`, `TRICKLE_PEERS`, `RIVER_PEERS`). */
  peersFrom?: string;
  /** Where the key came from, for KeyError. */
  keyFrom?: string;
}

function resolveOptions(arg: number | ConnectOptions | undefined): ResolvedOptions {
  const options: ConnectOptions = typeof arg === 'number' ? { max: arg, min: arg } : { ...(arg ?? {}) };
  if (typeof arg === 'number' && (!Number.isInteger(arg) || arg < 1)) {
    throw new RangeError(`connect(n): n must be a positive integer, got ${String(arg)}`);
  }
  const peersFrom = sourceOf(options.peers, 'PEERS', 'the peers option');
  const keyFrom = keySourceOf(options);
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
  return { ...options, exact: typeof arg === 'number', peersFrom, keyFrom };
}

/** Where the cluster key comes from, for messages (never the key itself). */
function keySourceOf(options: ConnectOptions): string | undefined {
  if (options.key !== undefined) return 'the key option';
  if (options.keyFile !== undefined) return `keyFile ${options.keyFile}`;
  for (const name of ['TRICKLE_KEY', 'RIVER_KEY']) if (process.env[name]) return name;
  for (const name of ['TRICKLE_KEY_FILE', 'RIVER_KEY_FILE']) if (process.env[name]) return `${name}=${process.env[name]}`;
  return undefined;
}

/** The `host:port` entries of a peers option (array, or comma/space separated). */
function namedPeers(peers: string[] | string | undefined): string[] {
  if (peers === undefined) return [];
  return (Array.isArray(peers) ? peers : [peers]).flatMap((p) => String(p).split(/[\s,]+/)).filter((p) => p !== '');
}

/** River's key errors, as one-line KeyErrors naming where the key came from. */
function asKeyError(error: unknown, keyFrom: string | undefined): unknown {
  const code = (error as { code?: unknown })?.code;
  if (code !== 'RIVER_KEY_FILE_UNREADABLE' && code !== 'RIVER_INVALID_KEY' && code !== 'RIVER_KEY_FILE_INSECURE') return error;
  const cause = (error as { cause?: { code?: unknown } }).cause;
  const detail = (error as Error).message + (typeof cause?.code === 'string' && !(error as Error).message.includes(cause.code) ? ` (${cause.code})` : '');
  return new KeyError(keyFrom ?? 'the cluster key', code, detail);
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
  let initiator: Initiator;
  try {
    initiator = await startInitiator({ key: options.key, keyFile: options.keyFile, localCommand });
  } catch (error) {
    throw asKeyError(error, options.keyFrom);
  }
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
    const counted = options.max !== undefined;
    const min = options.min ?? 1;
    const named = namedPeers(options.peers);
    const report = await initiator.discoverReport({ ...discoverOptions, local: options.local });
    let found = report.vms;
    const failures: DiscoveryFailure[] = [...report.failures];
    // Peers the user named must work: never a silent fallback. With a count (connect(n), max),
    // enough usable VMs make a failed peer a warning; so does a live list (watch), which keeps
    // polling the peer and takes it in once it answers. Otherwise every named peer is wanted.
    const namedFailures = failures.filter((f) => f.source === 'peer');
    const lenient = counted || Boolean(options.watch);
    if (namedFailures.length > 0 && !(lenient && found.length >= min)) {
      throw lenient ? notEnough(options, found.length, failures) : new PeerFailureError(namedFailures, { from: options.peersFrom ?? 'peers' });
    }
    if (found.length === 0 && options.local === undefined && named.length === 0 && failures.length === 0) {
      const n = options.max ?? Math.max(min, availableParallelism());
      process.stderr.write(`[trickle: no VMs found; starting ${n} local VM${n === 1 ? '' : 's'}]\n`);
      found = (await initiator.discoverReport({ ...discoverOptions, peers: undefined, mdns: false, local: n })).vms;
    }
    const vms = await openSessions(initiator, found, options, failures);
    reportSkipped(failures);
    if (vms.length < min) throw notEnough(options, vms.length, failures);
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

/** How many unusable VMs connect() names one by one on stderr; the rest are counted. */
const SKIPPED_LINES = 10;

function reportSkipped(failures: readonly DiscoveryFailure[]): void {
  for (const failure of failures.slice(0, SKIPPED_LINES)) process.stderr.write(`[trickle: skipped ${describeFailure(failure)}]\n`);
  const more = failures.length - SKIPPED_LINES;
  if (more > 0) process.stderr.write(`[trickle: skipped ${more} more VM${more === 1 ? '' : 's'} that could not be used]\n`);
}

function notEnough(options: ResolvedOptions, found: number, failures: readonly DiscoveryFailure[]): NotEnoughVMsError {
  const min = options.min ?? 1;
  return new NotEnoughVMsError(min, found, {
    failures,
    detail: options.exact ? `connect(${min}) needs exactly ${min}` : failures.length > 0 ? undefined : 'start VMs with `trickle vm`, or pass peers or local',
  });
}

/**
 * Opens a session on each VM found, up to `max`: a VM where that fails (it went away, it runs no
 * Trickle, it is full) is skipped and added to `failures`, and the next one found takes its place.
 */
async function openSessions(initiator: Initiator, found: readonly VMInfo[], options: ResolvedOptions, failures: DiscoveryFailure[]): Promise<VM[]> {
  const limit = options.max ?? found.length;
  const vms: VM[] = [];
  let next = 0;
  while (vms.length < limit && next < found.length) {
    const batch = found.slice(next, next + (limit - vms.length));
    next += batch.length;
    const opened = await Promise.allSettled(batch.map((info) => openSession(initiator, info, options)));
    opened.forEach((result, i) => {
      if (result.status === 'fulfilled') vms.push(result.value);
      else failures.push(sessionFailure(batch[i]!, result.reason));
    });
  }
  return vms;
}

function sessionFailure(info: VMInfo, error: unknown): DiscoveryFailure {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300);
  const reason = /cluster key|authentication/.test(message) ? 'wrong-key' : /timed out|no answer/.test(message) ? 'timeout' : /refused/.test(message) ? 'refused' : 'unreachable';
  return { source: 'peer', address: `${info.host}:${info.port}`, id: info.id, name: info.name, reason, message: `no session: ${message}` };
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
