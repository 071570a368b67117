/**
 * Discovery by DNS, for networks without multicast (Kubernetes, Consul, a cloud's private zone):
 * a peer given as `NAME:PORT` is every address NAME resolves to (A and AAAA: a headless Service
 * lists one per pod), and one given as a bare `NAME` is every target of the SRV records
 * `_river._tcp.NAME` (a name starting with `_` is taken as the full SRV name). Names are resolved
 * again each time discovery runs, so machines that appear later are found.
 *
 * Which server answers: option `dnsServer` or env `RIVER_DNS_SERVER` (`ip` or `ip:port`, through
 * node's `dns.Resolver#setServers`; tests point it at their own server); without one, addresses
 * come from the system's resolver (getaddrinfo: /etc/hosts, search domains) and SRV records from
 * the servers in /etc/resolv.conf.
 */
import { lookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

import { DiscoveryError } from '../errors/discovery-error';
import { parseAddress, type PeerAddress } from '../net/peers';

/** One entry of `peers` / `--join`. */
export type PeerSpec =
  /** An IP address and port: used as is. */
  | { kind: 'address'; address: PeerAddress }
  /** A host name and port: every address it resolves to. */
  | { kind: 'name'; name: string; port: number }
  /** SRV records: every target and port they list. */
  | { kind: 'srv'; name: string };

export const SRV_PREFIX = '_river._tcp.';

const HOST_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;

/** `host:port`, `[v6]:port`, `name:port` or a bare `name` (SRV) → spec; a bad entry throws DiscoveryError. */
export function parsePeerSpec(text: string): PeerSpec {
  const item = text.trim();
  const address = parseAddress(item);
  if (address) {
    if (isIP(address.host)) return { kind: 'address', address };
    if (HOST_NAME.test(address.host)) return { kind: 'name', name: address.host, port: address.port };
  } else if (!item.includes(':') && HOST_NAME.test(item)) {
    return { kind: 'srv', name: item.startsWith('_') ? item : `${SRV_PREFIX}${item}` };
  }
  throw new DiscoveryError({
    message: `bad peer ${JSON.stringify(text)}: expected host:port, [v6]:port, name:port (its A/AAAA records) or a bare name (SRV ${SRV_PREFIX}name)`,
  });
}

/** A list (array, or comma/space separated) → specs. */
export function parsePeerSpecs(peers: string[] | string | undefined): PeerSpec[] {
  if (peers === undefined) return [];
  const items = (Array.isArray(peers) ? peers : [peers]).flatMap((p) => String(p).split(/[\s,]+/)).filter((p) => p !== '');
  return items.map(parsePeerSpec);
}

export function specText(spec: PeerSpec): string {
  switch (spec.kind) {
    case 'address':
      return spec.address.host.includes(':') ? `[${spec.address.host}]:${spec.address.port}` : `${spec.address.host}:${spec.address.port}`;
    case 'name':
      return `${spec.name}:${spec.port}`;
    case 'srv':
      return `SRV ${spec.name}`;
  }
}

/** The DNS server given (option, else env `RIVER_DNS_SERVER`), checked; undefined for the system's. */
export function dnsServerFrom(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const raw = (option ?? env.RIVER_DNS_SERVER)?.trim();
  if (raw === undefined || raw === '') return undefined;
  const address = parseAddress(raw);
  if (isIP(raw) || (address && isIP(address.host))) return raw;
  throw new DiscoveryError({ message: `bad DNS server ${JSON.stringify(raw)} (RIVER_DNS_SERVER / dnsServer): expected an IP address, optionally with :port` });
}

const NO_RECORDS = new Set(['ENODATA', 'ENOTFOUND', 'NOTFOUND', 'ENONAME']);

/** Resolves peer specs to addresses, through one DNS server or the system's resolver. */
export class DnsResolver {
  private readonly resolver: Resolver;

  constructor(readonly server?: string, options: { timeoutMs?: number } = {}) {
    this.resolver = new Resolver({ timeout: options.timeoutMs ?? 2000, tries: 2 });
    if (server) this.resolver.setServers([server]);
  }

  /** Every address a spec stands for now (empty when a name has no records; other DNS failures throw DiscoveryError). */
  async resolve(spec: PeerSpec): Promise<PeerAddress[]> {
    switch (spec.kind) {
      case 'address':
        return [spec.address];
      case 'name':
        return (await this.addresses(spec.name)).map((host) => ({ host, port: spec.port }));
      case 'srv': {
        const records = await this.query(spec.name, () => this.resolver.resolveSrv(spec.name));
        const targets = await Promise.all(
          records.map(async (r) => (isIP(r.name) ? [r.name] : await this.addresses(r.name)).map((host) => ({ host, port: r.port }))),
        );
        return dedupe(targets.flat());
      }
    }
  }

  /** A/AAAA of `name` (through the given server), or the system's lookup (hosts file, search domains). */
  async addresses(name: string): Promise<string[]> {
    if (!this.server) {
      const found = await lookup(name, { all: true }).catch((error: NodeJS.ErrnoException) => {
        if (NO_RECORDS.has(error.code ?? '')) return [];
        throw new DiscoveryError({ message: `cannot resolve ${name}: ${error.message}`, cause: error });
      });
      return [...new Set(found.map((a) => a.address))];
    }
    const [v4, v6] = await Promise.all([
      this.query(name, () => this.resolver.resolve4(name)),
      this.query(name, () => this.resolver.resolve6(name)),
    ]);
    return [...new Set([...v4, ...v6])];
  }

  private async query<T>(name: string, ask: () => Promise<T[]>): Promise<T[]> {
    try {
      return await ask();
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      if (NO_RECORDS.has(e.code ?? '')) return [];
      throw new DiscoveryError({ message: `cannot resolve ${name}${this.server ? ` (DNS server ${this.server})` : ''}: ${e.code ?? e.message}`, cause: error });
    }
  }
}

function dedupe(list: PeerAddress[]): PeerAddress[] {
  const seen = new Set<string>();
  return list.filter((a) => {
    const key = `${a.host}|${a.port}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
