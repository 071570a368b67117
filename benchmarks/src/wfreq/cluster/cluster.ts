// A simulated cluster on one Linux machine, for honest speedup measurements:
//
//   switch namespace <id>-sw:  bridge br0 (STP off, multicast snooping off → multicast floods)
//      ├─ veth p0 ── eth0 in <id>-init  198.18.100.2    initiator   cgroup <id>/init  (share)
//      ├─ veth p1 ── eth0 in <id>-vm1   198.18.100.11   VM 1        cgroup <id>/vm1   (share)
//      └─ …          eth0 in <id>-vmN   198.18.100.(10+N)
//
// Every simulated machine — each VM and the initiator — is a real process in its own network
// namespace with an equal CPU quota (CFS bandwidth: `share` cores each, e.g. 0.2 so that 8 VMs +
// the initiator fit in 2 cores). The bridge lives in a namespace of its own and is attached to no
// host interface, so multicast (mDNS) reaches exactly the simulated machines and never the host's
// real network. Optionally each machine's link is shaped to Gigabit Ethernet with tc.
//
// Without root, network namespaces or a cgroup cpu controller, the cluster falls back to plain
// local processes on loopback with no quotas (and says so): speedups above the core count cannot
// be shown then.
//
// Everything is torn down by dispose(), on SIGINT/SIGTERM (see cleanup.ts) and, synchronously, on
// process exit; stale namespaces and cgroups of crashed runs are swept by name prefix on create.
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { CgroupSet, CPU_PERIOD_US, detectCpuController, sweepStaleGroups, type CpuController, type CpuStat } from './cgroups';
import { compiledEntry } from '../paths';
import { registerCleanup } from './cleanup';
import { ManagedProcess, run, runOk, safeKill, type ExecResult } from './exec';
import { addNamespace, deleteNamespace, deleteNamespaceSync, netnsSupport, sweepStaleNamespaces, type Support } from './netns';

/** Name prefix of every namespace and cgroup this module creates. */
export const PREFIX = 'wfq';
/** Private benchmarking subnet (RFC 2544), used only inside our namespaces. */
export const SUBNET = '198.18.100';
export const DEFAULT_SHARE = 0.2;
export const DEFAULT_BASE_PORT = 7100;
/** Interface name of each machine's link, inside its namespace. */
export const LINK = 'eth0';

export type ClusterKind = 'netns' | 'processes';

export interface ClusterOptions {
  /** VM slots (machines besides the initiator). */
  slots: number;
  /** Cores per machine (default 0.2); `null` for no quotas. Ignored (no quotas) in the fallback. */
  share?: number | null;
  /** CFS period of the quotas, µs (default 10 ms; see CPU_PERIOD_US). */
  periodUs?: number;
  /** Shape each link to Gigabit Ethernet with tc (default true; best effort). */
  shape?: boolean;
  /** 'auto' (default) falls back to local processes when namespaces/cgroups cannot be used. */
  mode?: 'auto' | ClusterKind;
  /** Port each VM is told to listen on (namespaces: all the same; fallback: base + index). */
  basePort?: number;
  log?: (line: string) => void;
}

export interface VmSlot {
  /** 0-based. */
  index: number;
  /** vm1, vm2, … */
  name: string;
  /** Address the VM should listen on: its bridge address, or 127.0.0.1 in the fallback. */
  host: string;
  /** Port the VM should listen on. */
  port: number;
  /** Its namespace (netns kind). */
  ns?: string;
}

export interface VmCommand {
  argv: string[];
  env?: Record<string, string>;
}

export interface RunningVm extends VmSlot {
  /** host:port from the VM's first line of stdout (or host:port of the slot if it printed none). */
  address: string;
  firstLine: string;
  pid: number | undefined;
  process: ManagedProcess;
}

/** Where a one-shot or long-running process runs: a VM slot's machine, or the initiator's. */
export type Machine = 'initiator' | number;

export interface ClusterDescription {
  kind: ClusterKind;
  id: string;
  /** Cores per simulated machine (undefined: no quotas). */
  share: number | undefined;
  quotas: boolean;
  /** e.g. "cgroup v1 cpu (cpu.cfs_quota_us = 20000, cpu.cfs_period_us = 100000)". */
  quota?: string;
  slots: number;
  machines: number;
  hostCpus: number;
  network: string;
  shaping: string;
  mdns: string;
  fallbackReason?: string;
  /** One paragraph for reports. */
  text: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
  onStderr?: (text: string) => void;
  /** false: run without the machine's CPU quota (namespace only). */
  quota?: boolean;
}

let sequence = 0;

/** Whether the real (namespaces + quotas) cluster can be built here, and why not. */
export function clusterSupport(): Support & { controller?: CpuController } {
  const ns = netnsSupport(PREFIX);
  if (!ns.ok) return ns;
  const cg = detectCpuController();
  if (!cg.ok) return { ok: false, reason: cg.reason };
  return { ok: true, controller: cg.controller };
}

interface Host {
  name: string;
  ns?: string;
  address: string;
  cgroup?: string;
}

export class Cluster implements AsyncDisposable {
  readonly id: string;
  readonly kind: ClusterKind;
  readonly share: number | undefined;
  readonly key: string;
  readonly slots: VmSlot[];
  readonly fallbackReason: string | undefined;
  /** Environment given to every VM and initiator (key; mDNS pinned to the bridge, or off). */
  readonly env: Record<string, string>;
  private readonly hosts = new Map<string, Host>();
  private readonly namespaces: string[] = [];
  private cgroups: CgroupSet | undefined;
  private readonly tracked = new Set<ManagedProcess>();
  private running: RunningVm[] = [];
  private ballast: ManagedProcess[] = [];
  private loopbackNs: string | undefined;
  private shaping = 'none';
  private unregister: () => void = () => undefined;
  private disposing: Promise<void> | undefined;
  private readonly log: (line: string) => void;

  private constructor(kind: ClusterKind, options: ClusterOptions, fallbackReason?: string) {
    this.id = `${PREFIX}-${process.pid}-${++sequence}`;
    this.kind = kind;
    this.share = kind === 'netns' && options.share !== null ? (options.share ?? DEFAULT_SHARE) : undefined;
    this.fallbackReason = fallbackReason;
    this.key = randomBytes(32).toString('hex');
    this.log = options.log ?? (() => undefined);
    const basePort = options.basePort ?? DEFAULT_BASE_PORT;
    this.slots = Array.from({ length: options.slots }, (_, i) => ({
      index: i,
      name: `vm${i + 1}`,
      host: kind === 'netns' ? `${SUBNET}.${11 + i}` : '127.0.0.1',
      port: kind === 'netns' ? basePort : basePort + i,
      ...(kind === 'netns' ? { ns: `${this.id}-vm${i + 1}` } : {}),
    }));
    this.env =
      kind === 'netns'
        ? { RIVER_KEY: this.key, TRICKLE_KEY: this.key, RIVER_MDNS_INTERFACE: LINK, TRICKLE_MDNS_INTERFACE: LINK }
        : // Never multicast on the host's real interfaces: mDNS off, peers given explicitly.
          { RIVER_KEY: this.key, TRICKLE_KEY: this.key, RIVER_MDNS: 'off', TRICKLE_MDNS: 'off' };
  }

  /**
   * Builds the cluster. In 'auto' mode (default) falls back to local processes, saying loudly why,
   * when namespaces or CPU quotas are unavailable.
   */
  static async create(options: ClusterOptions): Promise<Cluster> {
    if (!Number.isInteger(options.slots) || options.slots < 1 || options.slots > 200) throw new RangeError('slots: 1…200');
    if (options.share != null && !(options.share > 0 && options.share <= cpus().length)) throw new RangeError(`share ${options.share}: must be in (0, cpus]`);
    const mode = options.mode ?? 'auto';
    const support = mode === 'processes' ? { ok: false, reason: 'processes mode requested' } : clusterSupport();
    if (!support.ok && mode === 'netns') throw new Error(`cannot build the simulated cluster: ${support.reason}`);
    if (!support.ok) {
      const cluster = new Cluster('processes', options, support.reason);
      cluster.hosts.set('initiator', { name: 'initiator', address: '127.0.0.1' });
      cluster.log(
        `WARNING: no simulated cluster (${support.reason}). VMs run as plain local processes with NO CPU quotas: ` +
          `speedups above this machine's ${cpus().length} cores cannot be shown.`,
      );
      cluster.unregister = registerCleanup(cluster.id, () => cluster.dispose(), () => cluster.disposeSync());
      return cluster;
    }
    const controller = (support as { controller: CpuController }).controller;
    const stale = [...(await sweepStaleNamespaces(PREFIX)), ...sweepStaleGroups(controller, PREFIX)];
    if (stale.length) options.log?.(`swept stale namespaces/cgroups of earlier runs: ${stale.join(', ')}`);
    const cluster = new Cluster('netns', options);
    cluster.unregister = registerCleanup(cluster.id, () => cluster.dispose(), () => cluster.disposeSync());
    try {
      await cluster.build(controller, options.shape ?? true, options.periodUs ?? CPU_PERIOD_US);
    } catch (err) {
      await cluster.dispose();
      throw err;
    }
    return cluster;
  }

  private async build(controller: CpuController, shape: boolean, periodUs: number): Promise<void> {
    const sw = `${this.id}-sw`;
    this.namespaces.push(sw);
    await addNamespace(sw);
    await runOk('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0']);
    await runOk('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);

    this.cgroups = CgroupSet.create(controller, this.id);
    const machines: Host[] = [
      { name: 'initiator', ns: `${this.id}-init`, address: `${SUBNET}.2`, cgroup: 'init' },
      ...this.slots.map((s) => ({ name: s.name, ns: s.ns!, address: s.host, cgroup: s.name })),
    ];
    const shapers = ['netem delay 50us rate 1gbit', 'tbf rate 1gbit burst 256kb latency 10ms'];
    let shaper: string | undefined;
    for (const [i, m] of machines.entries()) {
      this.namespaces.push(m.ns!);
      await addNamespace(m.ns!);
      const port = `p${i}`;
      // Both ends created inside their namespaces: nothing appears in the host's namespace.
      await runOk('ip', ['link', 'add', LINK, 'netns', m.ns!, 'type', 'veth', 'peer', 'name', port, 'netns', sw]);
      await runOk('ip', ['-n', sw, 'link', 'set', port, 'master', 'br0']);
      await runOk('ip', ['-n', sw, 'link', 'set', port, 'up']);
      await runOk('ip', ['-n', m.ns!, 'addr', 'add', `${m.address}/24`, 'dev', LINK]);
      await runOk('ip', ['-n', m.ns!, 'link', 'set', LINK, 'multicast', 'on']);
      await runOk('ip', ['-n', m.ns!, 'link', 'set', LINK, 'up']);
      // Unpinned multicast (mDNS) leaves by the bridge link.
      await runOk('ip', ['-n', m.ns!, 'route', 'add', '224.0.0.0/4', 'dev', LINK]);
      if (shape) {
        const candidates = shaper ? [shaper] : shapers;
        for (const q of candidates) {
          const r = await run('ip', ['netns', 'exec', m.ns!, 'tc', 'qdisc', 'add', 'dev', LINK, 'root', ...q.split(' ')]);
          if (r.code === 0) {
            shaper = q;
            break;
          }
        }
      }
      this.cgroups.addChild(m.cgroup!, this.share, periodUs);
      this.hosts.set(m.name, m);
    }
    if (shape) {
      this.shaping = shaper
        ? `each machine's link shaped with \`tc qdisc … ${shaper}\`${shaper.startsWith('tbf') ? ' (netem is not available in this kernel, so no latency is added; rate only)' : ''}`
        : 'requested, but no tc qdisc could be installed (links unshaped)';
    } else this.shaping = 'none (links unshaped)';
  }

  // -------------------------------------------------------------------------------------------
  // Describing

  get quotas(): boolean {
    return this.share !== undefined;
  }

  get initiatorHost(): string {
    return this.hosts.get('initiator')!.address;
  }

  get vms(): readonly RunningVm[] {
    return this.running;
  }

  /** Namespaces this cluster created (for tests). */
  get namespaceNames(): readonly string[] {
    return [...this.namespaces, ...(this.loopbackNs ? [this.loopbackNs] : [])];
  }

  /** The parent cgroup folder (for tests), if any. */
  get cgroupDir(): string | undefined {
    return this.cgroups?.dir;
  }

  describe(): ClusterDescription {
    const hostCpus = cpus().length;
    const machines = this.slots.length + 1;
    if (this.kind === 'processes') {
      return {
        kind: this.kind,
        id: this.id,
        share: undefined,
        quotas: false,
        slots: this.slots.length,
        machines,
        hostCpus,
        network: 'loopback (127.0.0.1), one port per VM',
        shaping: 'none',
        mdns: 'off (never on the host interfaces); VMs given as static peers',
        fallbackReason: this.fallbackReason,
        text:
          `FALLBACK: no simulated cluster (${this.fallbackReason}). VMs are plain local processes on loopback with no CPU ` +
          `quotas, sharing this machine's ${hostCpus} cores: speedups above ${hostCpus} cannot be shown.`,
      };
    }
    const ctl = this.cgroups!.controller;
    const quota = this.share === undefined ? 'none' : `cgroup v${ctl.version} cpu (${this.cgroups!.quotaText('init')})`;
    const shareText =
      this.share === undefined
        ? 'no CPU quotas'
        : `${this.share} of a core each, ` +
          `${(this.share * machines).toFixed(2)} cores for all ${machines} machines together, of the host's ${hostCpus}`;
    return {
      kind: this.kind,
      id: this.id,
      share: this.share,
      quotas: this.quotas,
      quota,
      slots: this.slots.length,
      machines,
      hostCpus,
      network: `${machines} network namespaces (initiator + ${this.slots.length} VMs), each with one veth link to bridge br0 in a separate namespace (attached to no host interface), subnet ${SUBNET}.0/24`,
      shaping: this.shaping,
      mdns: `multicast flooded on the bridge only (snooping off); mDNS pinned to ${LINK} inside each namespace`,
      text:
        `Simulated cluster: the initiator and up to ${this.slots.length} VMs, each a real process in its own network namespace ` +
        `on a private bridge (${SUBNET}.0/24, reachable from nothing else), each with an equal CPU share through ${quota}: ${shareText}. ` +
        (this.share !== undefined
          ? `The cluster's parent cgroup has the maximum CPU weight (${this.cgroups!.weightText()}), so other work on the host cannot eat into the shares; the quotas cap the cluster as a whole. `
          : '') +
        `Links: ${this.shaping}.`,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Processes

  private host(machine: Machine): Host {
    if (machine === 'initiator') return this.hosts.get('initiator')!;
    const slot = this.slots[machine];
    if (!slot) throw new RangeError(`no VM slot ${machine} (cluster has ${this.slots.length})`);
    return this.hosts.get(slot.name) ?? { name: slot.name, address: slot.host };
  }

  private command(machine: Machine, argv: readonly string[], quota = true): [string, string[]] {
    if (argv.length === 0) throw new Error('empty command');
    const h = this.host(machine);
    if (this.kind === 'processes' || !h.ns) return [argv[0]!, argv.slice(1)];
    const inNs = ['ip', 'netns', 'exec', h.ns, ...argv];
    if (!quota || !this.cgroups || !h.cgroup) return [inNs[0]!, inNs.slice(1)];
    // Enter the cgroup before exec'ing anything: the pid stays the same through sh → ip → argv.
    return ['sh', ['-c', 'echo $$ > "$1" && shift && exec "$@"', 'wfq-spawn', this.cgroups.procsFile(h.cgroup), ...inNs]];
  }

  private fullEnv(extra?: Record<string, string>): NodeJS.ProcessEnv {
    return { ...process.env, ...this.env, ...extra };
  }

  /** Starts a long-running process on a machine (killed at dispose if not before). */
  spawnOn(machine: Machine, label: string, argv: readonly string[], options: RunOptions = {}): ManagedProcess {
    if (this.disposing) throw new Error('cluster is disposed');
    const [cmd, args] = this.command(machine, argv, options.quota ?? true);
    const proc = new ManagedProcess(label, cmd, args, this.fullEnv(options.env), options.onStderr);
    this.tracked.add(proc);
    void proc.exited.then(() => this.tracked.delete(proc));
    return proc;
  }

  /** Runs a command on a machine to completion (bounded: default 10 minutes). */
  async runOn(machine: Machine, argv: readonly string[], options: RunOptions = {}): Promise<ExecResult> {
    const proc = this.spawnOn(machine, `${argv[0]} on ${machine}`, argv, options);
    proc.end();
    const exit = await proc.waitForExit(options.timeoutMs ?? 600_000);
    return { ...exit, stdout: proc.lines.join('\n'), stderr: proc.stderr };
  }

  /** Runs a command on the initiator's machine (its namespace and CPU share). */
  runInitiator(argv: readonly string[], options: RunOptions = {}): Promise<ExecResult> {
    return this.runOn('initiator', argv, options);
  }

  /**
   * Runs a command with no CPU quota and no bridge: in a loopback-only namespace of its own
   * (netns kind), or as a plain local process (fallback). For baselines on all cores, e.g.
   * Trickle with local VMs, where nothing may multicast on the host's interfaces.
   */
  async runUnlimited(argv: readonly string[], options: RunOptions = {}): Promise<ExecResult> {
    if (this.disposing) throw new Error('cluster is disposed');
    let cmd = argv[0]!;
    let args = argv.slice(1);
    if (this.kind === 'netns') {
      if (!this.loopbackNs) {
        const ns = `${this.id}-lo`;
        this.loopbackNs = ns;
        await addNamespace(ns);
        await runOk('ip', ['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'lo']);
      }
      cmd = 'ip';
      args = ['netns', 'exec', this.loopbackNs, ...argv];
    }
    const env = this.kind === 'netns' ? { RIVER_MDNS_INTERFACE: 'lo', TRICKLE_MDNS_INTERFACE: 'lo' } : {};
    const proc = new ManagedProcess(`${argv[0]} (unlimited)`, cmd, args, { ...process.env, ...this.env, ...env, ...options.env }, options.onStderr);
    this.tracked.add(proc);
    void proc.exited.then(() => this.tracked.delete(proc));
    proc.end();
    const exit = await proc.waitForExit(options.timeoutMs ?? 600_000);
    return { ...exit, stdout: proc.lines.join('\n'), stderr: proc.stderr };
  }

  /**
   * Starts `n` VMs, one per slot (0…n-1), from `command(slot)`, and waits until each has printed
   * its first line of stdout (its `host:port`). Any VMs already running are stopped first.
   */
  async startVms(n: number, command: (slot: VmSlot) => VmCommand, options: { timeoutMs?: number; quota?: boolean } = {}): Promise<RunningVm[]> {
    if (!Number.isInteger(n) || n < 1 || n > this.slots.length) throw new RangeError(`startVms(${n}): cluster has ${this.slots.length} slots`);
    await this.stopVms();
    const started: { slot: VmSlot; proc: ManagedProcess }[] = [];
    try {
      for (const slot of this.slots.slice(0, n)) {
        const spec = command(slot);
        started.push({ slot, proc: this.spawnOn(slot.index, slot.name, spec.argv, { env: spec.env, quota: options.quota }) });
      }
      const timeoutMs = options.timeoutMs ?? 60_000;
      const lines = await Promise.all(started.map(({ proc }) => proc.waitForLine(() => true, timeoutMs)));
      this.running = started.map(({ slot, proc }, i) => {
        const line = lines[i]!.trim();
        // `host:port` alone or at the end of the line; else the first `host:port` in it (e.g.
        // `trickle vm listening on 127.0.0.1:7100 (id …)`).
        const m = /(\[?[0-9A-Za-z.:-]+?\]?):(\d+)\s*$/.exec(line) ?? /(?:^|\s)((?:\d{1,3}\.){3}\d{1,3}|\[[0-9A-Fa-f:.]+\]|localhost):(\d{1,5})\b/.exec(line);
        return { ...slot, address: m ? `${m[1]}:${m[2]}` : `${slot.host}:${slot.port}`, firstLine: line, pid: proc.pid, process: proc };
      });
      if (this.kind === 'processes') {
        const peers = this.running.map((vm) => vm.address).join(',');
        this.env.RIVER_PEERS = peers;
        this.env.TRICKLE_PEERS = peers;
      }
      return this.running;
    } catch (err) {
      await Promise.all(started.map(({ proc }) => proc.kill(500)));
      throw err;
    }
  }

  /**
   * Starts CPU ballast (cluster/ballast.ts) on VM slots `from`…end, within their quotas, so the
   * host is as loaded as when every machine works. Stopped by stopBallast(), stopVms() and dispose().
   */
  async startBallast(from: number): Promise<number> {
    await this.stopBallast();
    if (!this.quotas) return 0; // never spin unlimited
    const entry = compiledEntry('cluster/ballast');
    const procs = this.slots.slice(from).map((slot) => this.spawnOn(slot.index, `ballast ${slot.name}`, [process.execPath, entry, '--max-seconds', '3600']));
    await Promise.all(procs.map((p) => p.waitForLine(() => true, 30_000)));
    this.ballast = procs;
    return procs.length;
  }

  async stopBallast(): Promise<void> {
    const procs = this.ballast;
    this.ballast = [];
    await Promise.all(procs.map((p) => p.kill(1_000)));
  }

  /** Stops the running VMs (SIGTERM, then SIGKILL) and anything left on their machines. */
  async stopVms(): Promise<void> {
    await this.stopBallast();
    const vms = this.running;
    this.running = [];
    delete this.env.RIVER_PEERS;
    delete this.env.TRICKLE_PEERS;
    await Promise.all(vms.map((vm) => vm.process.kill(2_000)));
    if (this.cgroups) {
      for (const vm of vms) for (const pid of this.cgroups.pids(vm.name)) safeKill(pid, 'SIGKILL');
    }
  }

  /** CPU accounting of every machine's cgroup (netns kind). */
  cpuStats(): Record<string, CpuStat> {
    const out: Record<string, CpuStat> = {};
    if (!this.cgroups) return out;
    for (const name of ['init', ...this.slots.map((s) => s.name)]) out[name] = this.cgroups.stat(name);
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Teardown

  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      await this.stopVms().catch(() => undefined);
      await Promise.all([...this.tracked].map((p) => p.kill(500)));
      const all = [...(this.loopbackNs ? [this.loopbackNs] : []), ...[...this.namespaces].reverse()];
      for (const ns of all) await deleteNamespace(ns);
      await this.cgroups?.remove();
      this.unregister();
    })();
    return this.disposing;
  }

  private disposeSync(): void {
    for (const vm of this.running) vm.process.killSync();
    for (const p of this.tracked) p.killSync();
    for (const ns of [...(this.loopbackNs ? [this.loopbackNs] : []), ...[...this.namespaces].reverse()]) deleteNamespaceSync(ns);
    this.cgroups?.removeSync();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

export const createCluster = (options: ClusterOptions) => Cluster.create(options);
