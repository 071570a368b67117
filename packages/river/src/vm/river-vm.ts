/**
 * `RiverVM`: a process that hosts VRs. Its main thread is the engine (sockets, handshakes,
 * heartbeats, routing, membership, mDNS advertisement); every VR runs in its own worker thread.
 */
import { advertise as mdnsAdvertise, type MdnsAdvertisement } from '../discovery/mdns';
import { DnsResolver, dnsServerFrom, parsePeerSpec } from '../discovery/dns';
import { SeedJoin } from '../discovery/seed-join';
import { mdnsEnabled, mdnsInterface } from '../discovery/sources';
import { DiscoveryError } from '../errors/discovery-error';
import { MdnsInterfaceError } from '../errors/mdns-interface-error';
import { StoppedError } from '../errors/stopped-error';
import { Engine, type EngineOptions } from '../engine/engine';
import { MetricsServer } from '../metrics/metrics-server';
import { VMMetrics, type MetricDeclaration } from '../metrics/vm-metrics';
import type { VMInfo } from '../vm-info';

export interface RiverVMOptions
  extends Pick<
    EngineOptions,
    | 'host'
    | 'port'
    | 'key'
    | 'name'
    | 'slots'
    | 'extensions'
    | 'peerTimeoutMs'
    | 'pingIntervalMs'
    | 'handshakeTimeoutMs'
    | 'maxFrameBytes'
    | 'maxUnsentBytes'
    | 'maxVRHeapMb'
    | 'gossipIntervalMs'
    | 'stopGraceMs'
    | 'log'
  > {
  /** Advertise over mDNS; default on unless env `RIVER_MDNS=off`. */
  advertise?: boolean;
  /** Pin mDNS to one interface (default env `RIVER_MDNS_INTERFACE`). */
  interface?: string;
  /**
   * A cluster to join: `host:port` of a member (joined once, at start), or a DNS name —
   * `name:port` (its addresses) or a bare `name` (SRV `_river._tcp.name`) — resolved at start and
   * again every `rejoinIntervalMs`, joining through any address that is not a member yet.
   */
  join?: string;
  /** DNS server for `join` names, `ip` or `ip:port` (default env `RIVER_DNS_SERVER`, else the system's). */
  dnsServer?: string;
  /** How often a `join` name is resolved again (default 10 s). */
  rejoinIntervalMs?: number;
  /** Serve Prometheus metrics on this port (0: any free port; default: no metrics). */
  metricsPort?: number;
  /** Where the metrics are served (default 127.0.0.1: loopback only). */
  metricsHost?: string;
  /** Counters this VM's extensions count from their VRs (`countMetric`), shown with the metrics. */
  metrics?: MetricDeclaration[];
}

export type VMState =
  | { kind: 'new' }
  | { kind: 'starting' }
  | { kind: 'running'; advertisement: MdnsAdvertisement | undefined }
  | { kind: 'stopping'; done: Promise<void> }
  | { kind: 'stopped' };

export class RiverVM {
  private state: VMState = { kind: 'new' };
  private readonly engine: Engine;
  private readonly metrics: VMMetrics | undefined;
  private metricsServer: MetricsServer | undefined;
  private seedJoin: SeedJoin | undefined;

  constructor(private readonly options: RiverVMOptions = {}) {
    let engine: Engine | undefined;
    this.metrics =
      options.metricsPort === undefined
        ? undefined
        : new VMMetrics({ stats: () => engine!.stats(), port: () => engine!.address?.port }, options.metrics);
    this.engine = engine = new Engine({ ...options, role: 'vm', observer: this.metrics });
  }

  /** Where the metrics are served (`http://host:port/metrics`), when they are. */
  get metricsAddress(): { host: string; port: number } | undefined {
    return this.metricsServer ? { host: this.metricsServer.host, port: this.metricsServer.port } : undefined;
  }

  /** This VM's node id. */
  get id(): string {
    return this.engine.nodeId;
  }

  /** Where it listens (after `start`). */
  get address(): { host: string; port: number } {
    const a = this.engine.address;
    if (!a) throw new StoppedError({ message: 'the VM is not running' });
    return { ...a };
  }

  get info(): VMInfo {
    return this.engine.info;
  }

  /** Whether it holds a cluster key (without one it listens on loopback only). */
  get keyed(): boolean {
    return this.engine.keyed;
  }

  get advertising(): boolean {
    return this.state.kind === 'running' && this.state.advertisement !== undefined;
  }

  async start(): Promise<this> {
    if (this.state.kind !== 'new') throw new StoppedError({ message: `the VM was already started (${this.state.kind})` });
    this.state = { kind: 'starting' };
    try {
      await this.engine.start();
      if (this.metrics) this.metricsServer = await MetricsServer.start(this.metrics, { port: this.options.metricsPort!, host: this.options.metricsHost });
      if (this.options.join) {
        const engine = this.engine;
        const log = this.options.log ?? (() => undefined);
        this.seedJoin = new SeedJoin(parsePeerSpec(this.options.join), {
          resolver: new DnsResolver(dnsServerFrom(this.options.dnsServer)),
          self: () => ({ bound: this.options.host ?? (engine.keyed ? '0.0.0.0' : '127.0.0.1'), port: engine.address!.port, advertised: engine.address!.host }),
          members: () => engine.members(),
          join: (seed) => engine.join(seed),
          intervalMs: this.options.rejoinIntervalMs,
          log,
        });
        await this.seedJoin.start().catch((error: unknown) => {
          throw new DiscoveryError({ message: `could not join ${this.options.join}: ${(error as Error).message}`, cause: error });
        });
      }
      let advertisement: MdnsAdvertisement | undefined;
      if (mdnsEnabled(this.options.advertise, this.engine.keyed)) {
        // A VM listening on every address advertises every address of the pinned interface (or
        // of all), not just the one address its VMInfo names.
        const everywhere = this.options.host === undefined || this.options.host === '0.0.0.0' || this.options.host === '::';
        const info = everywhere ? { ...this.engine.info, host: '0.0.0.0' } : this.engine.info;
        // A VM that cannot advertise is still reachable through static peers and --join.
        advertisement = await mdnsAdvertise(info, { interface: mdnsInterface(this.options.interface) }).catch((error: unknown) => {
          if (MdnsInterfaceError.isInstance(error)) throw error; // a wrong --interface is the user's to fix
          this.options.log?.(`mDNS advertisement failed (${(error as Error).message}); reachable through static peers and --join only`);
          return undefined;
        });
      }
      this.state = { kind: 'running', advertisement };
    } catch (error) {
      await this.engine.stop().catch(() => undefined);
      await this.stopServices();
      this.state = { kind: 'stopped' };
      throw error;
    }
    return this;
  }

  /**
   * Graceful: at once withdraw the mDNS record, stop accepting connections and new VRs, and tell
   * the VRs (their `signal` and `stopping`); give them `stopGraceMs` to finish, terminate the
   * rest, close connections.
   */
  stop(): Promise<void> {
    const s = this.state;
    if (s.kind === 'stopping') return s.done;
    if (s.kind === 'stopped' || s.kind === 'new') {
      this.state = { kind: 'stopped' };
      return Promise.resolve();
    }
    const done = (async () => {
      const withdrawn = s.kind === 'running' ? s.advertisement?.stop().catch(() => undefined) : undefined;
      await Promise.all([withdrawn, this.engine.stop()]);
      await this.stopServices();
      this.state = { kind: 'stopped' };
    })();
    this.state = { kind: 'stopping', done };
    return done;
  }

  /** `stop()` without the grace, also when one is under way: VRs still running are terminated now. */
  stopNow(): Promise<void> {
    const stopping = this.stop();
    if (this.state.kind === 'stopping') void this.engine.stopNow();
    return stopping;
  }

  private async stopServices(): Promise<void> {
    this.seedJoin?.stop();
    this.metrics?.stop();
    await this.metricsServer?.close();
    this.metricsServer = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
