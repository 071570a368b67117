// Network namespaces: creation, probing, and removal of our own (including stale ones of dead
// runs, by name prefix). Nothing here adds an address, route, link or process to the host's own
// namespace: veth ends are created directly inside their namespaces.
import { spawnSync } from 'node:child_process';
import { pidAlive, run, runOk, safeKill, sleepSync } from './exec';

export interface Support {
  ok: boolean;
  reason?: string;
}

let cachedSupport: Support | undefined;

/** Whether this process can create network namespaces (Linux, root, iproute2, ip netns exec works). */
export function netnsSupport(prefix = 'wfq'): Support {
  if (cachedSupport) return cachedSupport;
  const probe = (): Support => {
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

/** Our namespaces (any run) currently present. */
export async function listNamespaces(prefix: string): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(`${prefix}-`));
}

export async function pidsIn(ns: string): Promise<number[]> {
  const out = await run('ip', ['netns', 'pids', ns]);
  return out.stdout
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

function pidsInSync(ns: string): number[] {
  const out = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 2_000 });
  return String(out.stdout ?? '')
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Creates a namespace: IPv6 off (no RS/MLD chatter), loopback up with multicast. */
export async function addNamespace(ns: string): Promise<void> {
  await runOk('ip', ['netns', 'add', ns]);
  await runOk('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'multicast', 'on']);
}

/** Kills whatever runs inside a namespace of ours (it is private to our run), then deletes it. */
export async function deleteNamespace(ns: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const pids = await pidsIn(ns);
    if (pids.length === 0) break;
    for (const pid of pids) safeKill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 50));
  }
  await run('ip', ['netns', 'del', ns]);
}

export function deleteNamespaceSync(ns: string): void {
  for (let i = 0; i < 3; i++) {
    const pids = pidsInSync(ns);
    if (pids.length === 0) break;
    for (const pid of pids) safeKill(pid, 'SIGKILL');
    sleepSync(50);
  }
  spawnSync('ip', ['netns', 'del', ns], { timeout: 2_000 });
}

/** Deletes namespaces `<prefix>-<pid>-…` whose creating process is gone (killing what is inside). */
export async function sweepStaleNamespaces(prefix: string): Promise<string[]> {
  const removed: string[] = [];
  const re = new RegExp(`^${prefix}-(\\d+)-`);
  for (const name of await listNamespaces(prefix)) {
    const m = re.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    await deleteNamespace(name);
    removed.push(name);
  }
  return removed;
}
