/**
 * mDNS / DNS-SD discovery of River VMs (service type `_river._tcp`) over bonjour-service.
 *
 * - {@link advertise} publishes one VM; `stop()` sends the goodbye (TTL 0) and closes the socket.
 * - {@link browse} collects the VMs that answer within a timeout (or until `want` of them did).
 * - {@link watch} reports VMs as they appear (onUp) and say goodbye (onDown).
 *
 * Each call owns its own bonjour-service instance and UDP socket (see ./mdns-socket.ts for why the
 * socket is ours), so one call's stop never withdraws another's records, and nothing stays open
 * after `stop()` / the end of `browse()`.
 *
 * `interface` pins all multicast to one interface, given by name (`br0`, `lo`) or by one of its
 * IPv4 addresses; unset, multicast-dns uses every interface. Callers map the option and env
 * `RIVER_MDNS_INTERFACE` ({@link mdnsInterfaceFromEnv}); `RIVER_MDNS=off` is theirs as well.
 *
 * What mDNS does not do: notice a VM that vanishes without a goodbye (crash, cable). The records'
 * TTLs are long and bonjour-service never expires them; lost peers are the connection
 * heartbeats' job.
 */
import { networkInterfaces } from 'node:os';
import { isDeepStrictEqual } from 'node:util';

import { Bonjour, type Browser, type Service, type ServiceConfig } from 'bonjour-service';

import { MdnsAnnounceError } from '../errors/mdns-announce-error';
import type { VMInfo } from '../vm-info';
import { resolveMdnsInterface, type MdnsInterface } from './mdns-interface';
import {
  advertisedAddresses,
  assertAdvertisable,
  encodeTxt,
  instanceName,
  pinAddressRecords,
  SERVICE_PROTOCOL,
  SERVICE_TYPE,
  vmInfoFromService,
  type LocalSubnet,
} from './mdns-records';
import { debug, MDNS_GROUP, MDNS_PORT, MdnsSocket } from './mdns-socket';

export { mdnsInterfaceFromEnv, resolveMdnsInterface, type MdnsInterface } from './mdns-interface';
export { parseTxt, SERVICE_TYPE, vmInfoFromService } from './mdns-records';

export interface MdnsOptions {
  /** Pin multicast to this interface: a name (`br0`, `lo`) or one of its IPv4 addresses. */
  interface?: string;
}

export interface BrowseOptions extends MdnsOptions {
  /** How long to collect answers, in milliseconds (the most `browse` waits). */
  timeoutMs: number;
  /** Resolve as soon as this many distinct VMs (by id) have answered; default: listen for `timeoutMs`. */
  want?: number;
  /** Resolve at once, with the VMs that answered so far, when this aborts. */
  signal?: AbortSignal;
  /** Called for each VM as its answer arrives (and again when its advertised info changes). */
  onFound?: (vm: VMInfo) => void;
}

export interface WatchOptions extends MdnsOptions {
  /** Errors after `watch` returned (socket setup); default: a process warning. */
  onError?: (error: Error) => void;
}

export interface MdnsAdvertisement {
  /** Withdraws the record (goodbye packet, TTL 0) and closes the socket. Idempotent. */
  stop(): Promise<void>;
}

export interface MdnsWatcher {
  /** Stops watching and closes the socket. Idempotent. */
  stop(): Promise<void>;
}

/** How long `advertise` waits for its first announcement (probing takes ~1 s). */
export const ANNOUNCE_TIMEOUT_MS = 5_000;
/** How long `stop()` waits for the goodbye packet to be handed to the socket. */
const GOODBYE_TIMEOUT_MS = 1_000;
/** Re-queries after the first one, in ms from the start, so a lost packet is not a lost VM. */
const REQUERY_AT_MS = [1_000, 3_000];
/** Then, while watching, one query per this interval. */
const WATCH_REQUERY_EVERY_MS = 60_000;

interface Transport {
  bonjour: Bonjour;
  socket: MdnsSocket;
  pinned: MdnsInterface | undefined;
  close(): Promise<void>;
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
}

/** A bonjour-service instance on our own socket (created, bound and pinned, or rejected). */
function createTransport(opts: MdnsOptions): Transport {
  const pinned = opts.interface !== undefined ? resolveMdnsInterface(opts.interface) : undefined;
  const socket = new MdnsSocket({ pinned });
  // These options go to multicast-dns as they are (bonjour-service types them as ServiceConfig).
  const mdnsOptions = {
    socket,
    bind: '0.0.0.0',
    interface: pinned?.address,
    port: MDNS_PORT,
    ip: MDNS_GROUP,
    ttl: 255,
    loopback: true,
  };
  // bonjour-service's default error callback throws (from inside a socket callback).
  const bonjour = new Bonjour(mdnsOptions as unknown as Partial<ServiceConfig>, (err: Error) =>
    debug('send failed: %s', err?.message ?? err),
  );
  const close = once(
    () =>
      new Promise<void>((resolve) => {
        bonjour.destroy(() => resolve());
      }),
  );
  return { bonjour, socket, pinned, close };
}

async function openTransport(opts: MdnsOptions): Promise<Transport> {
  const transport = createTransport(opts);
  try {
    await transport.socket.ready;
  } catch (err) {
    await transport.close();
    throw err;
  }
  return transport;
}

function subnetOf(pinned: MdnsInterface | undefined): LocalSubnet | undefined {
  return pinned ? { networks: pinned.networks } : undefined;
}

/**
 * Publishes `info` as `_river._tcp` on `info.port` with TXT `id`, `slots`, `version`, `name`, and
 * A records chosen by `advertisedAddresses` from `info.host` (pass '0.0.0.0' for a VM bound to
 * all addresses) and the pinned interface. Resolves once the first announcement was sent (after
 * probing, about a second).
 */
export async function advertise(info: VMInfo, opts: MdnsOptions = {}): Promise<MdnsAdvertisement> {
  assertAdvertisable(info);
  const transport = await openTransport(opts);
  const instance = instanceName(info.id);
  let service: Service;
  try {
    service = transport.bonjour.publish({
      name: instance,
      type: SERVICE_TYPE,
      protocol: SERVICE_PROTOCOL,
      port: info.port,
      host: `${instance}.local`,
      txt: encodeTxt(info),
      // Probing defers the first announcement past this tick, which lets us replace the
      // address records below before any are built (and is what RFC 6762 §8.1 asks for).
      probe: true,
      disableIPv6: true,
    });
  } catch (err) {
    await transport.close();
    throw err;
  }
  pinAddressRecords(service, advertisedAddresses(info.host, transport.pinned, networkInterfaces()));

  const stop = once(async () => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, GOODBYE_TIMEOUT_MS);
      // Sends every record again with TTL 0 (the goodbye), then calls back.
      service.stop(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await transport.close();
  });

  try {
    await new Promise<void>((resolve, reject) => {
      if (service.published) return resolve();
      const timer = setTimeout(() => {
        service.removeListener('up', onUp);
        reject(
          new MdnsAnnounceError({
            message: `mDNS advertisement of ${instance} not announced within ${ANNOUNCE_TIMEOUT_MS} ms`,
          }),
        );
      }, ANNOUNCE_TIMEOUT_MS);
      const onUp = () => {
        clearTimeout(timer);
        resolve();
      };
      service.once('up', onUp);
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}

/**
 * Keeps the VMs a browser has seen, deduplicated by id (the first advertiser of an id wins), and
 * reports changes. A service whose record becomes unusable keeps its last good VMInfo; only a
 * goodbye removes it.
 */
class VmTracker {
  private readonly byFqdn = new Map<string, VMInfo>();
  private readonly ownerOfId = new Map<string, string>();

  constructor(
    private readonly subnet: LocalSubnet | undefined,
    private readonly onUp: (vm: VMInfo) => void,
    private readonly onDown: (vm: VMInfo) => void,
  ) {}

  attach(browser: Browser): void {
    browser.on('up', (service) => this.seen(service));
    browser.on('srv-update', (service) => this.seen(service));
    browser.on('txt-update', (service) => this.seen(service));
    browser.on('down', (service) => this.gone(service));
  }

  list(): VMInfo[] {
    return [...this.byFqdn.values()];
  }

  /** Distinct VMs (by id) known now. */
  get size(): number {
    return this.ownerOfId.size;
  }

  private static key(service: Service): string | undefined {
    return typeof service?.fqdn === 'string' ? service.fqdn.toLowerCase() : undefined;
  }

  private seen(service: Service): void {
    const key = VmTracker.key(service);
    if (key === undefined) return;
    const vm = vmInfoFromService(service, this.subnet);
    if (!vm) {
      debug('ignoring unusable record %s', key);
      return;
    }
    const owner = this.ownerOfId.get(vm.id);
    if (owner !== undefined && owner !== key) {
      debug('ignoring %s: id %s already advertised by %s', key, vm.id, owner);
      return;
    }
    const previous = this.byFqdn.get(key);
    if (previous && isDeepStrictEqual(previous, vm)) return;
    if (previous && previous.id !== vm.id) this.remove(key);
    this.byFqdn.set(key, vm);
    this.ownerOfId.set(vm.id, key);
    this.onUp(vm);
  }

  private gone(service: Service): void {
    const key = VmTracker.key(service);
    if (key !== undefined) this.remove(key);
  }

  private remove(key: string): void {
    const previous = this.byFqdn.get(key);
    if (!previous) return;
    this.byFqdn.delete(key);
    if (this.ownerOfId.get(previous.id) === key) this.ownerOfId.delete(previous.id);
    this.onDown(previous);
  }
}

/** Calls a user callback; a throwing callback must not break the socket's event handling. */
function safely<A extends unknown[]>(fn: (...args: A) => void, what: string): (...args: A) => void {
  return (...args) => {
    try {
      fn(...args);
    } catch (err) {
      process.emitWarning(`mDNS ${what} callback threw: ${(err as Error)?.stack ?? String(err)}`);
    }
  };
}

/**
 * Queries for `_river._tcp` and resolves, after `timeoutMs`, with every VM that answered,
 * deduplicated by id (a VM that said goodbye meanwhile is left out). It resolves earlier once
 * `want` distinct VMs answered, or when `signal` aborts. `host` is an IPv4 address of the VM: the
 * one its answer came from when it advertises it, see `chooseHost`.
 */
export async function browse(opts: BrowseOptions): Promise<VMInfo[]> {
  const timeoutMs = opts?.timeoutMs;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new RangeError(`browse: timeoutMs must be a finite number >= 0, got ${String(timeoutMs)}`);
  }
  const want = opts.want;
  if (want !== undefined && !(Number.isInteger(want) && want >= 1)) {
    throw new RangeError(`browse: want must be a positive integer, got ${String(want)}`);
  }
  if (opts.signal?.aborted) return [];
  const transport = await openTransport(opts);
  const timers: NodeJS.Timeout[] = [];
  let browser: Browser | undefined;
  let enough: () => void = () => undefined;
  const onFound = opts.onFound ? safely(opts.onFound, 'onFound') : undefined;
  const tracker = new VmTracker(
    subnetOf(transport.pinned),
    (vm) => {
      onFound?.(vm);
      if (want !== undefined && tracker.size >= want) enough();
    },
    () => undefined,
  );
  const onAbort = () => enough();
  try {
    const done = new Promise<void>((resolve) => {
      enough = resolve;
      timers.push(setTimeout(resolve, timeoutMs));
    });
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    browser = transport.bonjour.find({ type: SERVICE_TYPE, protocol: SERVICE_PROTOCOL });
    tracker.attach(browser);
    for (const at of REQUERY_AT_MS) {
      if (at < timeoutMs) timers.push(setTimeout(() => browser?.update(), at));
    }
    await done;
    return tracker.list();
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    for (const timer of timers) clearTimeout(timer);
    browser?.stop();
    await transport.close();
  }
}

/**
 * Watches for River VMs until `stop()`: `onUp(vm)` when one appears (and again when its
 * advertised info changes), `onDown(vm)` when it withdraws its record (goodbye). Throws at once
 * for a bad `interface`; later socket errors go to `opts.onError`.
 */
export function watch(
  opts: WatchOptions,
  onUp: (vm: VMInfo) => void,
  onDown: (vm: VMInfo) => void,
): MdnsWatcher {
  const transport = createTransport(opts ?? {});
  const onError =
    opts?.onError ?? ((error: Error) => process.emitWarning(`mDNS watch failed: ${error.message}`, { code: 'RIVER_MDNS_SOCKET' }));
  const tracker = new VmTracker(subnetOf(transport.pinned), safely(onUp, 'onUp'), safely(onDown, 'onDown'));
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  let browser: Browser | undefined;

  transport.socket.ready.then(
    () => {
      if (stopped) return;
      browser = transport.bonjour.find({ type: SERVICE_TYPE, protocol: SERVICE_PROTOCOL });
      tracker.attach(browser);
      for (const at of REQUERY_AT_MS) timers.push(setTimeout(() => browser?.update(), at).unref());
      timers.push(setInterval(() => browser?.update(), WATCH_REQUERY_EVERY_MS).unref());
    },
    (error: Error) => {
      if (stopped) return;
      void transport.close();
      onError(error);
    },
  );

  const stop = once(async () => {
    stopped = true;
    for (const timer of timers) clearTimeout(timer);
    browser?.stop();
    await transport.close();
  });
  return { stop };
}
