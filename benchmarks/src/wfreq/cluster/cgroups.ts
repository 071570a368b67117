// CPU quotas through cgroups: one group per simulated machine, each with the same hard limit
// (CFS bandwidth: `quota` µs of CPU per `period` µs). Works with cgroup v2 (`cpu.max`) and,
// where the cpu controller is still bound to a v1 hierarchy (hybrid hosts), with v1
// (`cpu.cfs_quota_us` / `cpu.cfs_period_us`).
//
// Our groups are `<mount>/<prefix>-<pid>-<seq>/<child>`; stale groups of dead processes are
// swept (their remaining processes, ours from a crashed run, killed by pid) before new ones are
// made.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive, safeKill, sleep, sleepSync } from './exec';

/**
 * Default CFS period. Short, so that a machine limited to 0.2 core behaves like a slower CPU
 * (runs 2 ms of every 10 ms) rather than a fast one that stalls for 80 ms of every 100 ms — long
 * stalls would add up to 80 ms to every message hop (chunk handed out, result returned), a
 * scheduling artefact the paper's real machines did not have. The kernel's minimum quota is 1 ms.
 */
export const CPU_PERIOD_US = 10_000;
/** Maximum CPU weight of a group: v1 cpu.shares (default 1024), v2 cpu.weight (default 100). */
export const MAX_SHARES_V1 = 262_144;
export const MAX_WEIGHT_V2 = 10_000;

export interface CpuController {
  version: 1 | 2;
  /** Mount point of the hierarchy holding the cpu controller. */
  mount: string;
  /** Whether usage_usec is readable from the group (v2, or v1 with cpuacct co-mounted). */
  usage: boolean;
}

export type Detection = { ok: true; controller: CpuController } | { ok: false; reason: string };

interface MountInfo {
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

function mounts(): MountInfo[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const right = line.slice(dash + 3).split(' ');
    const mountPoint = left[4]?.replace(/\\040/g, ' ');
    if (!mountPoint || !right[0]) continue;
    out.push({ mountPoint, fsType: right[0], superOptions: (right[2] ?? '').split(',') });
  }
  return out;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Finds a writable cpu controller (v2 preferred). Needs root. */
export function detectCpuController(): Detection {
  if (process.platform !== 'linux') return { ok: false, reason: `cgroups need Linux (this is ${process.platform})` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { ok: false, reason: 'cgroup CPU quotas need root' };
  const all = mounts();
  const reasons: string[] = [];
  for (const m of all.filter((m) => m.fsType === 'cgroup2')) {
    const controllers = readText(join(m.mountPoint, 'cgroup.controllers'))?.trim().split(/\s+/) ?? [];
    if (controllers.includes('cpu')) return { ok: true, controller: { version: 2, mount: m.mountPoint, usage: true } };
    reasons.push(`cgroup v2 at ${m.mountPoint} has no cpu controller (controllers: ${controllers.join(' ') || 'none'})`);
  }
  for (const m of all.filter((m) => m.fsType === 'cgroup')) {
    if (m.superOptions.includes('cpu') && existsSync(join(m.mountPoint, 'cpu.cfs_quota_us'))) {
      return { ok: true, controller: { version: 1, mount: m.mountPoint, usage: m.superOptions.includes('cpuacct') } };
    }
  }
  if (reasons.length === 0) reasons.push('no cgroup hierarchy with the cpu controller is mounted');
  return { ok: false, reason: reasons.join('; ') };
}

export interface CpuStat {
  /** CPU time used, µs (undefined where the hierarchy does not account usage). */
  usageUs?: number;
  periods: number;
  throttledPeriods: number;
  throttledUs: number;
}

function procsOf(dir: string): number[] {
  return (readText(join(dir, 'cgroup.procs')) ?? '')
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

function tryRmdir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** Kills what is left in a group of ours and removes it; synchronous, bounded (~2 s). */
function removeGroupSync(dir: string): boolean {
  if (!existsSync(dir)) return true;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeGroupSync(join(dir, entry.name));
  }
  for (let i = 0; i < 40; i++) {
    const pids = procsOf(dir);
    for (const pid of pids) safeKill(pid, 'SIGKILL');
    if (tryRmdir(dir)) return true;
    sleepSync(50);
  }
  return false;
}

async function removeGroup(dir: string): Promise<boolean> {
  if (!existsSync(dir)) return true;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeGroup(join(dir, entry.name));
  }
  for (let i = 0; i < 40; i++) {
    for (const pid of procsOf(dir)) safeKill(pid, 'SIGKILL');
    if (tryRmdir(dir)) return true;
    await sleep(50);
  }
  return false;
}

/** Removes groups `<prefix>-<pid>-…` of processes that no longer exist. */
export function sweepStaleGroups(controller: CpuController, prefix: string): string[] {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(controller.mount);
  } catch {
    return removed;
  }
  const re = new RegExp(`^${prefix}-(\\d+)-`);
  for (const name of entries) {
    const m = re.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    if (removeGroupSync(join(controller.mount, name))) removed.push(name);
  }
  return removed;
}

/** A parent group holding one child group per simulated machine, each with the same CPU quota. */
export class CgroupSet {
  readonly dir: string;
  private readonly children = new Map<string, string>();
  private removed = false;

  private constructor(
    readonly controller: CpuController,
    readonly name: string,
  ) {
    this.dir = join(controller.mount, name);
  }

  /**
   * Creates the parent group. With `priority`, the parent gets the maximum CPU weight, so that
   * other work on the host (in groups of default weight) cannot eat into the machines' shares:
   * a quota is only a cap, the weight is what makes it a guarantee under contention. The quotas
   * of the children still cap the cluster as a whole.
   */
  static create(controller: CpuController, name: string, priority = true): CgroupSet {
    const set = new CgroupSet(controller, name);
    mkdirSync(set.dir);
    try {
      if (controller.version === 2) {
        // The root's subtree must hand the cpu controller down to our parent, and our parent to
        // its children (our parent holds no processes, so this is allowed).
        const rootCtl = join(controller.mount, 'cgroup.subtree_control');
        if (!(readText(rootCtl) ?? '').split(/\s+/).includes('cpu')) writeFileSync(rootCtl, '+cpu');
        writeFileSync(join(set.dir, 'cgroup.subtree_control'), '+cpu');
        if (priority) writeFileSync(join(set.dir, 'cpu.weight'), String(MAX_WEIGHT_V2));
      } else if (priority) {
        writeFileSync(join(set.dir, 'cpu.shares'), String(MAX_SHARES_V1));
      }
    } catch (err) {
      removeGroupSync(set.dir);
      throw err;
    }
    return set;
  }

  /**
   * Creates child `name` limited to `share` cores (0.2 = 2 ms of CPU per 10 ms period), or
   * unlimited. The period is lengthened if the quota would fall below the kernel's 1 ms minimum.
   */
  addChild(name: string, share: number | undefined, periodUs = CPU_PERIOD_US): string {
    const dir = join(this.dir, name);
    mkdirSync(dir);
    this.children.set(name, dir);
    const period = share === undefined ? periodUs : Math.max(periodUs, Math.ceil(1000 / share));
    const quota = share === undefined ? undefined : Math.round(share * period);
    if (this.controller.version === 2) {
      writeFileSync(join(dir, 'cpu.max'), quota === undefined ? `max ${period}` : `${quota} ${period}`);
    } else {
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(period));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), quota === undefined ? '-1' : String(quota));
    }
    return dir;
  }

  /** The file a process writes its pid to, to enter child `name`. */
  procsFile(name: string): string {
    const dir = this.children.get(name);
    if (!dir) throw new Error(`no cgroup ${name} in ${this.dir}`);
    return join(dir, 'cgroup.procs');
  }

  /** The parent's CPU weight, as written in the kernel's files. */
  weightText(): string {
    if (this.controller.version === 2) return `cpu.weight = ${(readText(join(this.dir, 'cpu.weight')) ?? '?').trim()}`;
    return `cpu.shares = ${(readText(join(this.dir, 'cpu.shares')) ?? '?').trim()}`;
  }

  /** The quota actually in force for child `name`, as written in the kernel's files. */
  quotaText(name: string): string {
    const dir = this.children.get(name)!;
    if (this.controller.version === 2) return `cpu.max = ${(readText(join(dir, 'cpu.max')) ?? '?').trim()}`;
    return `cpu.cfs_quota_us = ${(readText(join(dir, 'cpu.cfs_quota_us')) ?? '?').trim()}, cpu.cfs_period_us = ${(readText(join(dir, 'cpu.cfs_period_us')) ?? '?').trim()}`;
  }

  pids(name: string): number[] {
    const dir = this.children.get(name);
    return dir ? procsOf(dir) : [];
  }

  stat(name: string): CpuStat {
    const dir = this.children.get(name)!;
    const fields = new Map<string, number>();
    for (const line of (readText(join(dir, 'cpu.stat')) ?? '').split('\n')) {
      const [k, v] = line.trim().split(/\s+/);
      if (k && v !== undefined) fields.set(k, Number(v));
    }
    if (this.controller.version === 2) {
      return {
        usageUs: fields.get('usage_usec'),
        periods: fields.get('nr_periods') ?? 0,
        throttledPeriods: fields.get('nr_throttled') ?? 0,
        throttledUs: fields.get('throttled_usec') ?? 0,
      };
    }
    const usageNs = this.controller.usage ? Number(readText(join(dir, 'cpuacct.usage'))) : NaN;
    return {
      usageUs: Number.isFinite(usageNs) ? usageNs / 1000 : undefined,
      periods: fields.get('nr_periods') ?? 0,
      throttledPeriods: fields.get('nr_throttled') ?? 0,
      throttledUs: (fields.get('throttled_time') ?? 0) / 1000,
    };
  }

  get isRemoved(): boolean {
    return this.removed;
  }

  async remove(): Promise<void> {
    if (this.removed) return;
    if (!(await removeGroup(this.dir))) throw new Error(`could not remove cgroup ${this.dir}`);
    this.removed = true;
  }

  removeSync(): void {
    if (this.removed) return;
    this.removed = removeGroupSync(this.dir);
  }
}
