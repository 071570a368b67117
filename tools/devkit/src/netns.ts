// Network namespaces: support check, creation, and removal of our own (including stale ones of
// dead runs, by name prefix). Names are `<prefix>-<pid of the creating process>-…`. Nothing here
// adds an address, route, link or process to the host's own namespace.
import { spawnSync } from 'node:child_process';
import { pidAlive, run, runOk, safeKill, sleepSync, type ExecOptions, type ExecResult } from './exec';

export interface NetnsSupport {
  ok: boolean;
  /** Why namespaces cannot be used (when !ok). */
  reason?: string;
}

let cachedSupport: NetnsSupport | undefined;

/**
 * Whether this process can create network namespaces (Linux, root, iproute2, `ip netns exec`
 * works), probed once per process with a namespace `<prefix>-<pid>-probe` that is deleted again.
 */
export function netnsSupport(prefix: string): NetnsSupport {
  if (cachedSupport) return cachedSupport;
  const probe = (): NetnsSupport => {
    if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
    if (typeof process.getuid === 'function' && process.getuid() !== 0) return { ok: false, reason: 'network namespaces need root (ip netns add)' };
    const version = spawnSync('ip', ['-V'], { encoding: 'utf8', timeout: 5_000 });
    if (version.error || version.status !== 0) return { ok: false, reason: 'iproute2 (`ip`) is not installed' };
    const name = `${prefix}-${process.pid}-probe`;
    const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8', timeout: 5_000 });
    if (add.status !== 0) return { ok: false, reason: `ip netns add failed: ${(add.stderr || add.error?.message || '').trim()}` };
    const exec = spawnSync('ip', ['netns', 'exec', name, process.execPath, '-e', '0'], { encoding: 'utf8', timeout: 10_000 });
    spawnSync('ip', ['netns', 'del', name], { timeout: 5_000 });
    if (exec.status !== 0) return { ok: false, reason: `ip netns exec failed: ${(exec.stderr || exec.error?.message || '').trim()}` };
    return { ok: true };
  };
  cachedSupport = probe();
  return cachedSupport;
}

/** `ip netns exec <ns> <command> …` to completion. */
export function execIn(ns: string, command: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return run('ip', ['netns', 'exec', ns, command, ...args], options);
}

/** Namespaces `<prefix>-…` (of any run) currently present. */
export async function listNamespaces(prefix: string): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(`${prefix}-`));
}

const parsePids = (text: string) =>
  text
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);

/** Pids of the processes inside a namespace. */
export async function pidsIn(ns: string): Promise<number[]> {
  return parsePids((await run('ip', ['netns', 'pids', ns])).stdout);
}

function pidsInSync(ns: string): number[] {
  return parsePids(String(spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 2_000 }).stdout ?? ''));
}

/** Creates a namespace: IPv6 off (no RS/MLD chatter), loopback up with multicast. */
export async function addNamespace(ns: string): Promise<void> {
  await runOk('ip', ['netns', 'add', ns]);
  // Before any link exists, so new links inherit it from `default`.
  await runOk('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'multicast', 'on']);
}

export interface DeleteOptions {
  /**
   * Kill (SIGKILL, by pid) whatever still runs inside first (default true). Only for namespaces of
   * our own: what runs inside them was started by us.
   */
  killProcesses?: boolean;
}

/** Deletes a namespace of ours; resolves with whether `ip netns del` succeeded. */
export async function deleteNamespace(ns: string, options: DeleteOptions = {}): Promise<boolean> {
  if (options.killProcesses ?? true) {
    for (let i = 0; i < 3; i++) {
      const pids = await pidsIn(ns);
      if (pids.length === 0) break;
      for (const pid of pids) safeKill(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return (await run('ip', ['netns', 'del', ns])).code === 0;
}

/** {@link deleteNamespace}, synchronous and bounded (exit hooks). */
export function deleteNamespaceSync(ns: string, options: DeleteOptions = {}): void {
  if (options.killProcesses ?? true) {
    for (let i = 0; i < 3; i++) {
      const pids = pidsInSync(ns);
      if (pids.length === 0) break;
      for (const pid of pids) safeKill(pid, 'SIGKILL');
      sleepSync(50);
    }
  }
  spawnSync('ip', ['netns', 'del', ns], { timeout: 2_000 });
}

/**
 * Deletes namespaces `<prefix>-<pid>-…` whose creating process is gone; resolves with the names
 * deleted. `killProcesses` as for {@link deleteNamespace}.
 */
export async function sweepStaleNamespaces(prefix: string, options: DeleteOptions = {}): Promise<string[]> {
  const removed: string[] = [];
  const re = new RegExp(`^${prefix}-(\\d+)-`);
  for (const name of await listNamespaces(prefix)) {
    const m = re.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    if (await deleteNamespace(name, options)) removed.push(name);
  }
  return removed;
}
