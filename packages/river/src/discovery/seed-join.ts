/**
 * `--join`: how a VM enters a cluster. An IP address is one seed, joined at start (tried for up to
 * `joinTimeoutMs`; then a failure stops the VM: the address is wrong or the seed is down). A DNS name (`name:port`, or a bare name
 * for SRV `_river._tcp.name`) stands for whatever VMs are behind it now — a Kubernetes headless
 * Service, the first node of a Slurm job — so it is resolved at start and again every
 * `intervalMs`: the VM joins through any address it resolves to that is not itself and not
 * already a member. A name that resolves to nothing yet, or whose VMs do not answer yet, is not
 * an error (the first pod of a StatefulSet finds only itself): the VM says so and keeps asking.
 */
import { networkInterfaces } from 'node:os';

import { AuthError } from '../errors/auth-error';
import { addressKey, type PeerAddress } from '../net/peers';
import type { VMInfo } from '../vm-info';
import { specText, type DnsResolver, type PeerSpec } from './dns';

export interface SeedJoinOptions {
  resolver: DnsResolver;
  /** Where this VM listens: the address it bound (maybe 0.0.0.0) and its port. */
  self(): { bound: string; port: number; advertised: string };
  members(): VMInfo[];
  join(seed: PeerAddress): Promise<void>;
  /** How often a name is resolved again (default 10 s). */
  intervalMs?: number;
  /** How long an IP seed is tried at start before the VM gives up (default 30 s). */
  joinTimeoutMs?: number;
  log(line: string): void;
}

export const DEFAULT_REJOIN_INTERVAL_MS = 10_000;
export const DEFAULT_JOIN_TIMEOUT_MS = 30_000;

export class SeedJoin {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Problems already reported (each once, not every round). */
  private readonly reported = new Set<string>();

  constructor(
    private readonly spec: PeerSpec,
    private readonly o: SeedJoinOptions,
  ) {}

  /**
   * First attempt. For an IP address, rejects when the seed cannot be joined; for a name,
   * resolves after one round whatever it found, and keeps resolving every `intervalMs`.
   */
  async start(): Promise<void> {
    if (this.spec.kind === 'address') {
      if (this.isSelf(this.spec.address)) {
        this.o.log(`--join ${specText(this.spec)} is this VM itself: nothing to join, others join it`);
        return;
      }
      await this.joinWithRetries(this.spec.address);
      return;
    }
    await this.round(true);
    this.timer = setInterval(() => {
      this.running ??= this.round(false).finally(() => (this.running = undefined));
    }, this.o.intervalMs ?? DEFAULT_REJOIN_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * One seed, tried until `joinTimeoutMs` (a seed busy with many joiners at once may not finish a
   * handshake in time; one still starting refuses): then its last error. A wrong key fails at once.
   */
  private async joinWithRetries(seed: PeerAddress): Promise<void> {
    const deadline = Date.now() + (this.o.joinTimeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.o.join(seed);
        return;
      } catch (error) {
        const delay = Math.min(2000, 200 * 2 ** attempt) * (0.5 + Math.random());
        if (this.stopped || AuthError.isInstance(error) || Date.now() + delay >= deadline) throw error;
        this.report(`--join ${addressKey(seed)}: ${(error as Error).message}; trying again`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Resolves the name and joins through every address that is neither this VM nor a member. */
  private async round(first: boolean): Promise<void> {
    let addresses: PeerAddress[];
    try {
      addresses = await this.o.resolver.resolve(this.spec);
    } catch (error) {
      this.report(`--join ${specText(this.spec)}: ${(error as Error).message}; asking again every ${this.seconds()}`);
      return;
    }
    const known = new Set(this.o.members().map((m) => addressKey({ host: m.host, port: m.port })));
    const others = addresses.filter((a) => !this.isSelf(a) && !known.has(addressKey(a)));
    if (first && others.length === 0) {
      this.report(`--join ${specText(this.spec)}: no other VM there yet (${addresses.length} address${addresses.length === 1 ? '' : 'es'}); asking again every ${this.seconds()}`);
      return;
    }
    // At start, one seed is enough (membership spreads the rest), tried in random order; later,
    // every address that is not a member yet (a cluster that started in pieces is merged).
    const order = first ? shuffle(others) : others;
    for (const address of order) {
      try {
        await this.o.join(address);
        if (first) {
          this.o.log(`joined through ${addressKey(address)} (${specText(this.spec)}); ${this.o.members().length} in the cluster`);
          return;
        }
      } catch (error) {
        this.report(`--join ${specText(this.spec)}: ${addressKey(address)}: ${(error as Error).message}`);
      }
    }
    if (first) this.o.log(`--join ${specText(this.spec)}: no VM there answered yet; asking again every ${this.seconds()}`);
  }

  private isSelf(address: PeerAddress): boolean {
    const self = this.o.self();
    if (address.port !== self.port) return false;
    if (address.host === self.advertised || address.host === self.bound) return true;
    if (self.bound !== '0.0.0.0' && self.bound !== '::') return false;
    if (address.host.startsWith('127.') || address.host === '::1') return true;
    return Object.values(networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === address.host));
  }

  private report(line: string): void {
    if (this.reported.has(line)) return;
    this.reported.add(line);
    this.o.log(line);
  }

  private seconds(): string {
    return `${(this.o.intervalMs ?? DEFAULT_REJOIN_INTERVAL_MS) / 1000} s`;
  }
}

function shuffle<T>(list: T[]): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
