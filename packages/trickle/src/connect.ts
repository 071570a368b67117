/**
 * connect(): discover River VMs, open one Trickle session (a RAI VR in its own worker) on each,
 * and return their handles. With nothing found and no `local` given, it starts local VMs (one
 * per core) so a program works out of the box, and says so on stderr.
 */
import { availableParallelism } from 'node:os';
import { startInitiator, type Initiator, type VMInfo } from '@river/engine';
import { NotEnoughVMsError } from './errors';
import { RiverLink, keepAlive } from './river/river-link';
import { RAI_EXTENSION } from './river/tags';
import { trickleCliPath } from './river/extension';
import type { VM } from './types';
import { clientOf, createVM, disconnect, type VMList } from './vm';

export interface ConnectOptions {
  /** Use at most this many VMs; with `connect(n)`, exactly n or NotEnoughVMsError. */
  max?: number;
  /** Fail with NotEnoughVMsError when fewer are found (default 1). */
  min?: number;
  /** How long discovery listens (default 1500 ms; env TRICKLE_TIMEOUT_MS). */
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
  /** Per-session worker heap limit on the VMs, in MB. */
  maxOldGenerationSizeMb?: number;
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
    keepAlive(initiator, -1);
    for (const vm of vms) owners.set(vm, initiator);
    return connectedList(vms);
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
  const vm = createVM(new RiverLink(initiator, info, uuid));
  await clientOf(vm).ping();
  return vm;
}

/** Ends the sessions on these VMs; the initiator's engine stops with its last session. */
export async function disconnectVMs(vms: VM | readonly VM[]): Promise<void> {
  const list = Array.isArray(vms) ? (vms as readonly VM[]) : [vms as VM];
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
