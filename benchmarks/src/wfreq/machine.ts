// Facts about the machine and the source tree, for reports.
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { REPO_ROOT } from './paths';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  node: string;
  os: string;
  /** 1-minute load average when measured (others may share the machine). */
  loadAverage: number;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    node: process.version,
    os: `${type()} ${release()} ${process.arch}`,
    loadAverage: Math.round(loadavg()[0]! * 100) / 100,
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.cpus} × ${m.cpuModel}, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB memory, Node ${m.node}, ${m.os}`;
}

export interface CommitInfo {
  /** `git rev-parse HEAD`, or 'unknown'. */
  commit: string;
  /** Whether the work tree had uncommitted changes. */
  dirty: boolean;
}

export function commitInfo(): CommitInfo {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 5_000 });
  const commit = head.status === 0 ? head.stdout.trim() : 'unknown';
  const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 10_000 });
  return { commit, dirty: status.status === 0 && status.stdout.trim().length > 0 };
}

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
