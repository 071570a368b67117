/**
 * Where discovery options come from when not given: env `RIVER_PEERS`, `RIVER_MDNS`,
 * `RIVER_MDNS_INTERFACE` (and `RIVER_DNS_SERVER`, read in dns.ts). Options always win over env.
 */
import { parsePeerSpecs, type PeerSpec } from './dns';
import { mdnsInterfaceFromEnv } from './mdns';

/** Static peers from the option, else env `RIVER_PEERS`: addresses, DNS names and SRV names (see dns.ts). */
export function peerSpecsFrom(option: string[] | string | undefined, env: NodeJS.ProcessEnv = process.env): PeerSpec[] {
  return parsePeerSpecs(option ?? env.RIVER_PEERS);
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
