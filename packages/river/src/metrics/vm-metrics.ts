/**
 * A VM's Prometheus metrics (prom-client): what it hosts (VRs by kind, each worker's heap), what
 * it was asked (control requests by op, failures by code, and the counters its extensions
 * declared — Trickle's requests by kind, failures, forkWork chunks), its connections and bytes,
 * and Node's process metrics, among them the event-loop lag of the main thread, which on a VM is
 * the engine thread (sockets, heartbeats, routing).
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

import type { EngineObserver, VREndKind } from '../engine/observer';
import type { UUID, VRUsage } from '../protocol';
import { SocketBytes } from './socket-bytes';

/** A counter an extension counts from its VRs (`countMetric` in `@river/engine/internal`). */
export interface MetricDeclaration {
  /** Prometheus metric name, e.g. `trickle_requests_total`. */
  name: string;
  help: string;
  labelNames?: string[];
}

/** What the metrics read from the engine when scraped. */
export interface MetricsSource {
  stats(): { vrs: number; connections: { vm: number; initiator: number }; members: number };
  /** The engine's listening port (to tell its sockets from the metrics server's). */
  port(): number | undefined;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export class VMMetrics implements EngineObserver {
  readonly registry = new Registry();
  private readonly kinds = new Map<UUID, string>();
  private readonly heaps = new Map<UUID, number>();
  private readonly declared = new Map<string, { counter: Counter<string>; labels: number }>();
  private readonly bytes: SocketBytes;
  private readonly started: Counter<'kind'>;
  private readonly ended: Counter<'kind' | 'end'>;
  private readonly requests: Counter<'op'>;
  private readonly failures: Counter<'op' | 'code'>;

  constructor(source: MetricsSource, declarations: MetricDeclaration[] = []) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.bytes = new SocketBytes(() => source.port());
    const kinds = this.kinds;
    const heaps = this.heaps;
    const bytes = this.bytes;
    new Gauge({
      name: 'river_vrs',
      help: 'VRs running on this VM, by kind (extension name, or class for shipped source); a Trickle session is one trickle:rai VR',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        const byKind = new Map<string, number>();
        for (const kind of kinds.values()) byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
        for (const [kind, n] of byKind) this.set({ kind }, n);
      },
    });
    this.started = new Counter({ name: 'river_vrs_started_total', help: 'VRs started on this VM, by kind', labelNames: ['kind'], registers });
    this.ended = new Counter({ name: 'river_vrs_ended_total', help: 'VRs ended on this VM, by kind and how (returned, stopped, crashed, failed)', labelNames: ['kind', 'end'], registers });
    this.requests = new Counter({ name: 'river_requests_total', help: 'control requests from peers (deploy, locate, members, gossip, join, terminate), by op', labelNames: ['op'], registers });
    this.failures = new Counter({ name: 'river_request_failures_total', help: 'control requests from peers that failed, by op and error code', labelNames: ['op', 'code'], registers });
    new Gauge({
      name: 'river_vr_heap_used_bytes',
      help: 'V8 heap in use in all VR workers together (each reports once a second)',
      registers,
      collect() {
        let sum = 0;
        for (const h of heaps.values()) sum += h;
        this.set(sum);
      },
    });
    new Gauge({
      name: 'river_vr_heap_used_max_bytes',
      help: 'V8 heap in use in the VR worker that uses the most',
      registers,
      collect() {
        this.set(Math.max(0, ...heaps.values()));
      },
    });
    new Counter({
      name: 'river_bytes_received_total',
      help: 'bytes read from peer connections (TCP payload, handshakes and heartbeats included)',
      registers,
      collect() {
        this.reset();
        this.inc(bytes.totals().in);
      },
    });
    new Counter({
      name: 'river_bytes_sent_total',
      help: 'bytes written to peer connections',
      registers,
      collect() {
        this.reset();
        this.inc(bytes.totals().out);
      },
    });
    new Gauge({
      name: 'river_connections',
      help: 'open authenticated connections, by the role of the peer (vm, initiator)',
      labelNames: ['role'],
      registers,
      collect() {
        const { connections } = source.stats();
        this.set({ role: 'vm' }, connections.vm);
        this.set({ role: 'initiator' }, connections.initiator);
      },
    });
    new Gauge({
      name: 'river_members',
      help: 'cluster members this VM knows, itself included',
      registers,
      collect() {
        this.set(source.stats().members);
      },
    });
    for (const d of declarations) {
      if (!NAME.test(d.name)) throw new TypeError(`metric name ${JSON.stringify(d.name)} is not a Prometheus name`);
      const labelNames = d.labelNames ?? [];
      this.declared.set(d.name, { counter: new Counter({ name: d.name, help: d.help, labelNames, registers }), labels: labelNames.length });
    }
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  stop(): void {
    this.bytes.stop();
  }

  // ---- EngineObserver

  vrStarted(uuid: UUID, kind: string): void {
    this.kinds.set(uuid, kind);
    this.started.inc({ kind });
  }

  vrEnded(uuid: UUID, end: VREndKind): void {
    const kind = this.kinds.get(uuid);
    this.kinds.delete(uuid);
    this.heaps.delete(uuid);
    if (kind !== undefined) this.ended.inc({ kind, end });
  }

  vrUsage(uuid: UUID, usage: VRUsage): void {
    if (!usage || typeof usage !== 'object') return;
    if (this.kinds.has(uuid) && Number.isFinite(usage.heapUsed)) this.heaps.set(uuid, usage.heapUsed);
    if (!Array.isArray(usage.counts)) return;
    for (const entry of usage.counts) {
      if (!Array.isArray(entry)) continue;
      const [name, labels, n] = entry;
      const metric = this.declared.get(name);
      // Counts for a metric this VM did not declare, or of the wrong shape, are ignored.
      if (!metric || !Array.isArray(labels) || labels.length !== metric.labels || !(typeof n === 'number' && n > 0 && Number.isFinite(n))) continue;
      metric.counter.inc(labelsOf(metric.counter, labels), n);
    }
  }

  request(op: string, errorCode: string | undefined): void {
    const o = typeof op === 'string' ? op.slice(0, 32) : 'unknown';
    this.requests.inc({ op: o });
    if (errorCode !== undefined) this.failures.inc({ op: o, code: String(errorCode).slice(0, 64) });
  }
}

function labelsOf(counter: Counter<string>, values: string[]): Record<string, string> {
  const names = (counter as unknown as { labelNames: string[] }).labelNames;
  const out: Record<string, string> = {};
  names.forEach((name, i) => (out[name] = String(values[i]).slice(0, 64)));
  return out;
}
