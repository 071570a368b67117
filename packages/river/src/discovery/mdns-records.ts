/**
 * The River DNS-SD record, both ways, as pure functions (no sockets): what an advertisement
 * publishes for a {@link VMInfo}, and how a service seen on the network becomes a VMInfo again.
 *
 *   <instance>._river._tcp.local  SRV  0 0 <port> <instance>.local
 *   <instance>._river._tcp.local  TXT  id=<uuid> slots=<n> version=<v> name=<name>
 *   <instance>.local              A    <IPv4 address the VM is reachable at>   (one per address)
 *   _river._tcp.local             PTR  <instance>._river._tcp.local
 * with <instance> = `river-<id>`: unique by construction, so probing never finds a conflict and
 * two VMs with the same human name (TXT `name`) never clash.
 *
 * Everything read from the network is untrusted: parsing never throws, and a service that lacks
 * what a caller needs to connect (a valid `id`, SRV port, an IPv4 host) is ignored.
 */
import { isIPv4 } from 'node:net';

import type { VMInfo } from '../vm-info';
import { onInterface, type MdnsInterface } from './mdns-interface';

/** DNS-SD service type: `_river._tcp`. */
export const SERVICE_TYPE = 'river';
export const SERVICE_PROTOCOL = 'tcp' as const;

/** Longest TXT key/value we accept (the DNS limit for one TXT string is 255 bytes). */
const MAX_TXT_ENTRY = 255;
/** Largest slot count believed; more is treated as a bad record. */
const MAX_SLOTS = 1_000_000;
const ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** Version put in VMInfo when a record has none. */
export const UNKNOWN_VERSION = 'unknown';

/** The DNS-SD instance label for a VM id. */
export function instanceName(id: string): string {
  // Labels are at most 63 bytes and dots separate labels; ids are UUIDs in practice.
  return `river-${id.replace(/[^A-Za-z0-9-]/g, '-')}`.slice(0, 63);
}

/** Whether `id` is acceptable as a VM id on the wire: 1–128 printable ASCII characters, no spaces. */
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

function isPort(port: unknown): port is number {
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** Checks what `advertise` is given (a programming error throws TypeError/RangeError). */
export function assertAdvertisable(info: VMInfo): void {
  if (typeof info !== 'object' || info === null) throw new TypeError('advertise: info must be a VMInfo');
  if (!isValidId(info.id)) throw new TypeError(`advertise: invalid VM id ${JSON.stringify(info.id)}`);
  if (!isPort(info.port)) throw new RangeError(`advertise: invalid port ${String(info.port)}`);
  if (!Number.isInteger(info.slots) || info.slots < 1 || info.slots > MAX_SLOTS) {
    throw new RangeError(`advertise: invalid slots ${String(info.slots)}`);
  }
}

/** Cuts `text` to at most `maxBytes` bytes of UTF-8 without splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let out = '';
  let used = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (used + size > maxBytes) break;
    out += ch;
    used += size;
  }
  return out;
}

/** Removes control characters (a name is displayed; a newline in it would garble logs). */
function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, ' ');
}

/** TXT key/values an advertisement publishes for `info` (each entry fits one TXT string). */
export function encodeTxt(info: VMInfo): Record<string, string> {
  const entry = (key: string, value: string) => truncateUtf8(printable(value), MAX_TXT_ENTRY - key.length - 1);
  return {
    id: info.id,
    slots: String(info.slots),
    version: entry('version', String(info.version ?? '')),
    name: entry('name', String(info.name ?? '')),
  };
}

/**
 * Parses raw TXT strings (`key=value`, RFC 6763 §6): keys are case-insensitive (lowercased here);
 * the first occurrence of a key wins; an entry without `=` is a boolean attribute (value '');
 * entries with an empty key, or that are not Buffers/strings, are skipped. Never throws.
 */
export function parseTxt(raw: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const items: unknown[] = Array.isArray(raw) ? raw : raw === undefined || raw === null ? [] : [raw];
  for (const item of items) {
    let text: string;
    if (Buffer.isBuffer(item) || item instanceof Uint8Array) {
      if (item.length === 0 || item.length > MAX_TXT_ENTRY) continue;
      text = Buffer.from(item).toString('utf8');
    } else if (typeof item === 'string') {
      if (item.length === 0 || item.length > MAX_TXT_ENTRY) continue;
      text = item;
    } else {
      continue;
    }
    const eq = text.indexOf('=');
    const key = (eq === -1 ? text : text.slice(0, eq)).toLowerCase();
    if (!key || key in out) continue;
    out[key] = eq === -1 ? '' : text.slice(eq + 1);
  }
  return out;
}

/** The subnets of the interface browsing is pinned to, to prefer addresses on them. */
export type LocalSubnet = Pick<MdnsInterface, 'networks'>;

/**
 * The IPv4 address to reach a service at. In order: the packet's source address when the service
 * lists it (it is the address on the link we share); else an advertised address on the pinned
 * subnet; else the first advertised non-loopback address (loopback only if the packet came over
 * loopback); else the packet's source address; else undefined.
 */
export function chooseHost(addresses: unknown, referer: unknown, subnet?: LocalSubnet): string | undefined {
  const list = Array.isArray(addresses) ? addresses : [];
  const v4 = list.filter((a): a is string => typeof a === 'string' && isIPv4(a));
  const from = typeof referer === 'object' && referer !== null ? (referer as { address?: unknown }).address : undefined;
  const source = typeof from === 'string' && isIPv4(from) ? from : undefined;
  if (source && v4.includes(source)) return source;
  if (subnet) {
    const onLink = v4.find((a) => onInterface(a, subnet));
    if (onLink) return onLink;
  }
  const isLoopback = (a: string) => a.startsWith('127.');
  const viaLoopback = source !== undefined && isLoopback(source);
  const preferred = v4.find((a) => !isLoopback(a)) ?? (viaLoopback ? v4[0] : undefined);
  return preferred ?? source;
}

/** The parts of a bonjour-service `Service` (as seen by a Browser) that are read. All untrusted. */
export interface ServiceLike {
  port?: unknown;
  addresses?: unknown;
  referer?: unknown;
  rawTxt?: unknown;
}

/** Turns a service seen on the network into a VMInfo, or undefined if it is unusable. Never throws. */
export function vmInfoFromService(service: ServiceLike, subnet?: LocalSubnet): VMInfo | undefined {
  try {
    if (typeof service !== 'object' || service === null) return undefined;
    const txt = parseTxt(service.rawTxt);
    const id = txt.id;
    if (!isValidId(id)) return undefined;
    const port = service.port;
    if (!isPort(port)) return undefined;
    const host = chooseHost(service.addresses, service.referer, subnet);
    if (!host) return undefined;
    const slotsText = txt.slots ?? '';
    const slotsNumber = /^\d{1,7}$/.test(slotsText) ? Number(slotsText) : NaN;
    const slots = slotsNumber >= 1 && slotsNumber <= MAX_SLOTS ? slotsNumber : 1;
    const version = txt.version ? printable(txt.version) : UNKNOWN_VERSION;
    const name = txt.name ? printable(txt.name) : `${host}:${port}`;
    return { id, name, host, port, slots, version };
  } catch {
    return undefined;
  }
}

/**
 * The IPv4 addresses an advertisement publishes as A records:
 * - pinned: the VM's `host` if it is one of the pinned interface's addresses, else every IPv4
 *   address of that interface (a wildcard-bound VM whose `host` names another interface is
 *   reachable on this one too, and only addresses of this link help its browsers);
 * - unpinned: the VM's `host` when it is a concrete IPv4 address, else every non-loopback IPv4
 *   address (loopback only if there is nothing else).
 * Callers with a wildcard-bound VM should pass host '0.0.0.0' to get all addresses.
 */
export function advertisedAddresses(
  vmHost: string | undefined,
  pinned: { addresses: string[] } | undefined,
  allInterfaces: NodeJS.Dict<Array<{ address: string; family: string | number; internal: boolean }>>,
): string[] {
  const concrete = vmHost !== undefined && isIPv4(vmHost) && vmHost !== '0.0.0.0';
  if (pinned) return concrete && pinned.addresses.includes(vmHost) ? [vmHost] : [...pinned.addresses];
  if (concrete) return [vmHost];
  const external: string[] = [];
  const internal: string[] = [];
  for (const infos of Object.values(allInterfaces)) {
    for (const info of infos ?? []) {
      if (!(info.family === 'IPv4' || info.family === 4)) continue;
      (info.internal ? internal : external).push(info.address);
    }
  }
  return external.length > 0 ? external : internal;
}

/** The part of a bonjour-service `Service` that {@link pinAddressRecords} touches. */
export interface RecordSource {
  host: string;
  records(): Array<{ name: string; type: string; ttl: number; data: unknown }>;
}

/**
 * bonjour-service publishes an A/AAAA record for every address of every interface of the host,
 * whatever the multicast interface. This replaces them by A records for `addresses` alone: a VM
 * pinned to br0 must not hand out, say, its eth0 address. `records()` is what the registry calls
 * to build the announcement, the answers to queries and the goodbye.
 */
export function pinAddressRecords<S extends RecordSource>(service: S, addresses: string[]): void {
  const original = service.records.bind(service);
  service.records = () => [
    ...original().filter((record) => record.type !== 'A' && record.type !== 'AAAA'),
    ...addresses.map((address) => ({ name: service.host, type: 'A' as const, ttl: 120, data: address })),
  ];
}
