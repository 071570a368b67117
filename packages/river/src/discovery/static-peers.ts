/**
 * Asking static peers (`peers`, `RIVER_PEERS`) during one `discover` window: each spec is resolved
 * (an IP as is, a name through DNS, see dns.ts), each address is asked for its member list, and
 * while the window is open and fewer VMs than wanted are known, names are resolved and peers asked
 * again every `reaskMs` — a seed whose list is still growing (VMs joining now) is read again
 * rather than once.
 */
import { addressKey, type PeerAddress } from '../net/peers';
import type { DnsResolver, PeerSpec } from './dns';

export interface AskPeersOptions {
  resolver: DnsResolver;
  /** When the window closes (Date.now() based). */
  deadline: number;
  /** Aborted once enough VMs are known. */
  signal: AbortSignal;
  /**
   * Asks one address for its member list (and adds what it names). `first`: the first time this
   * address is asked in this window (its failure is worth reporting; later ones are not).
   */
  query(address: PeerAddress, first: boolean, spec: PeerSpec): Promise<void>;
  /** A spec that gave no address in the whole window: the resolver's error, or none (no records). */
  unresolved(spec: PeerSpec, error: unknown): void;
  reaskMs?: number;
}

export async function askPeers(specs: PeerSpec[], o: AskPeersOptions): Promise<void> {
  const reaskMs = o.reaskMs ?? 500;
  const asked = new Set<string>();
  const resolvedOnce = new Set<PeerSpec>();
  const lastError = new Map<PeerSpec, unknown>();
  const left = () => o.deadline - Date.now();
  for (;;) {
    const rounds = await Promise.all(
      specs.map((spec) =>
        bounded(o.resolver.resolve(spec), left()).then(
          (addresses) => {
            if (addresses.length > 0) resolvedOnce.add(spec);
            return addresses;
          },
          (error: unknown) => {
            lastError.set(spec, error);
            return [] as PeerAddress[];
          },
        ),
      ),
    );
    await Promise.all(
      rounds.flatMap((addresses, i) =>
        addresses.map((address) => {
          const key = addressKey(address);
          const first = !asked.has(key);
          asked.add(key);
          return o.query(address, first, specs[i]!).catch(() => undefined);
        }),
      ),
    );
    if (o.signal.aborted || left() <= reaskMs) break;
    await pause(reaskMs, o.signal);
    if (o.signal.aborted) break;
  }
  for (const spec of specs) {
    if (spec.kind !== 'address' && !resolvedOnce.has(spec)) o.unresolved(spec, lastError.get(spec));
  }
}

function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  if (ms <= 0) {
    p.catch(() => undefined);
    return Promise.reject(new Error('the discovery window closed'));
  }
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within the discovery window`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
