/**
 * Which network interface mDNS uses. multicast-dns wants the interface's IPv4 *address* for IPv4
 * multicast (IP_ADD_MEMBERSHIP / IP_MULTICAST_IF take an address, not a name), so a name such as
 * `br0` or `lo` is resolved here to that interface's first IPv4 address.
 */
import { isIPv4 } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

import { MdnsInterfaceError } from '../errors/mdns-interface-error';

/** A local interface mDNS is pinned to. */
export interface MdnsInterface {
  /** Interface name, e.g. `br0`, `eth0`, `lo`. */
  name: string;
  /** The IPv4 address used for multicast membership and as the outgoing multicast interface. */
  address: string;
  /** Its IPv4 netmask, e.g. `255.255.255.0`. */
  netmask: string;
  /** Every IPv4 address of this interface (the ones an advertisement publishes). */
  addresses: string[];
  /** Every IPv4 address with its netmask: the subnets reachable on this interface. */
  networks: Array<{ address: string; netmask: string }>;
}

type InterfaceTable = NodeJS.Dict<NetworkInterfaceInfo[]>;

const isV4 = (info: NetworkInterfaceInfo) => info.family === 'IPv4' || (info.family as unknown) === 4;

/**
 * Resolves an interface name (`br0`, `lo`) or one of this host's IPv4 addresses to the interface
 * mDNS should use. Throws `MdnsInterfaceError` when nothing local matches: pinning to a wrong
 * interface must fail loudly, never fall back to "all interfaces".
 */
export function resolveMdnsInterface(spec: string, table: InterfaceTable = networkInterfaces()): MdnsInterface {
  const wanted = typeof spec === 'string' ? spec.trim() : '';
  if (!wanted) throw new MdnsInterfaceError({ interface: String(spec), reason: 'empty interface name' });
  const names = Object.keys(table);
  const describe = () =>
    names.length === 0
      ? 'this host has no interfaces with addresses'
      : `known: ${names.map((n) => `${n} (${(table[n] ?? []).filter(isV4).map((i) => i.address).join(', ') || 'no IPv4'})`).join('; ')}`;

  if (isIPv4(wanted)) {
    for (const name of names) {
      const v4 = (table[name] ?? []).filter(isV4);
      const hit = v4.find((i) => i.address === wanted);
      if (hit) return describeInterface(name, hit, v4);
    }
    throw new MdnsInterfaceError({ interface: wanted, reason: `no local interface has this address; ${describe()}` });
  }

  const infos = table[wanted];
  if (!infos) throw new MdnsInterfaceError({ interface: wanted, reason: `no such interface; ${describe()}` });
  const v4 = infos.filter(isV4);
  const first = v4[0];
  if (!first) throw new MdnsInterfaceError({ interface: wanted, reason: 'the interface has no IPv4 address' });
  return describeInterface(wanted, first, v4);
}

function describeInterface(name: string, chosen: NetworkInterfaceInfo, v4: NetworkInterfaceInfo[]): MdnsInterface {
  return {
    name,
    address: chosen.address,
    netmask: chosen.netmask,
    addresses: v4.map((i) => i.address),
    networks: v4.map((i) => ({ address: i.address, netmask: i.netmask })),
  };
}

/**
 * The interface pinned by env `RIVER_MDNS_INTERFACE` (unset or empty: none). Callers give the
 * option precedence: `opts.interface ?? mdnsInterfaceFromEnv()`.
 */
export function mdnsInterfaceFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.RIVER_MDNS_INTERFACE?.trim();
  return value ? value : undefined;
}

function toInt(ipv4: string): number | undefined {
  if (!isIPv4(ipv4)) return undefined;
  return ipv4.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

/** Whether `address` lies in the IPv4 subnet `network`/`netmask`. False for anything not IPv4. */
export function inSubnet(address: string, network: string, netmask: string): boolean {
  const a = toInt(address);
  const n = toInt(network);
  const m = toInt(netmask);
  if (a === undefined || n === undefined || m === undefined) return false;
  return ((a & m) >>> 0) === ((n & m) >>> 0);
}

/** Whether `address` is on one of the interface's IPv4 subnets. */
export function onInterface(address: string, iface: Pick<MdnsInterface, 'networks'>): boolean {
  return iface.networks.some((n) => inSubnet(address, n.address, n.netmask));
}
