/**
 * Where discovery options come from when not given: env `RIVER_PEERS`, `RIVER_MDNS`,
 * `RIVER_MDNS_INTERFACE`. Options always win over env.
 */
import { DiscoveryError } from '../errors/discovery-error';
import { parseAddress, type PeerAddress } from '../net/peers';
import { mdnsInterfaceFromEnv } from './mdns';

/** `host:port` list (array or comma/space separated) → addresses; a bad entry throws DiscoveryError. */
export function parsePeers(peers: string[] | string | undefined): PeerAddress[] {
  if (peers === undefined) return [];
  const items = (Array.isArray(peers) ? peers : [peers]).flatMap((p) => String(p).split(/[\s,]+/)).filter((p) => p !== '');
  return items.map((item) => {
    const address = parseAddress(item);
    if (!address) throw new DiscoveryError({ message: `bad peer address ${JSON.stringify(item)}: expected host:port` });
    return address;
  });
}

export function peersFrom(option: string[] | string | undefined, env: NodeJS.ProcessEnv = process.env): PeerAddress[] {
  return parsePeers(option ?? env.RIVER_PEERS);
}

/**
 * Whether mDNS is on: the option, else env `RIVER_MDNS` (`off`/`0`/`false`/`no` switch it off,
 * `on`/`1`/`true`/`yes` on), else on only with a cluster key. Without a key everything stays on
 * loopback, so there is nothing to find on the network — and multicast would still leave on every
 * interface.
 */
export function mdnsEnabled(option: boolean | undefined, keyed: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  if (option !== undefined) return option;
  const v = env.RIVER_MDNS?.trim().toLowerCase();
  if (v === 'off' || v === '0' || v === 'false' || v === 'no') return false;
  if (v === 'on' || v === '1' || v === 'true' || v === 'yes') return true;
  return keyed;
}

export function mdnsInterface(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return option ?? mdnsInterfaceFromEnv(env);
}
