/**
 * Local VMs: `river vm` (or `localCommand`, e.g. `trickle vm`) started as child processes on
 * loopback for an initiator that found too few VMs. They are stopped when the initiator ends, and
 * they also exit by themselves if it dies: each child watches its stdin pipe (env
 * `RIVER_EXIT_WITH_STDIN=1`), which closes when the parent process is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

import { DiscoveryError } from '../errors/discovery-error';
import { parseAddress, type PeerAddress } from '../net/peers';
import { runtimeEntry } from '../runtime-entry';

export interface LocalVMOptions {
  /** argv prefix that starts a VM (default: this package's `river vm`). */
  command?: string[];
  key?: string;
  env?: Record<string, string>;
  /** How long a child may take to print its address (default 30 s: node start-up on a busy machine). */
  startTimeoutMs?: number;
  /** Where the children's output after their first line goes (default: this process's stderr). */
  output?: 'inherit' | 'ignore';
}

interface Child {
  process: ChildProcess;
  address: PeerAddress;
}

export class LocalVMs {
  private readonly children: Child[] = [];
  private starting: Promise<unknown> = Promise.resolve();
  private stopped = false;

  get addresses(): PeerAddress[] {
    return this.children.filter((c) => c.process.exitCode === null && c.process.signalCode === null).map((c) => c.address);
  }

  /** Ensures at least `n` local VMs run; resolves with all their addresses. */
  ensure(n: number, options: LocalVMOptions = {}): Promise<PeerAddress[]> {
    const run = this.starting.then(async () => {
      const missing = n - this.addresses.length;
      if (missing > 0) await Promise.all(Array.from({ length: missing }, (_, i) => this.startOne(this.children.length + i, options)));
      return this.addresses;
    });
    this.starting = run.catch(() => undefined);
    return run;
  }

  /** SIGTERM every child, SIGKILL those still alive after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    this.stopped = true;
    const alive = this.children.filter((c) => c.process.exitCode === null && c.process.signalCode === null);
    await Promise.all(
      alive.map(
        (c) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              c.process.kill('SIGKILL');
              resolve();
            }, graceMs);
            c.process.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            c.process.kill('SIGTERM');
            c.process.stdin?.destroy();
          }),
      ),
    );
  }

  private startOne(index: number, options: LocalVMOptions): Promise<void> {
    if (this.stopped) return Promise.reject(new DiscoveryError({ message: 'local VMs are stopped' }));
    const prefix = options.command ?? [process.execPath, runtimeEntry('cli'), 'vm'];
    const [cmd, ...rest] = prefix;
    if (!cmd) return Promise.reject(new DiscoveryError({ message: 'localCommand is empty' }));
    const argv = [...rest, '--port', '0', '--host', '127.0.0.1', '--no-advertise', '--name', `local-${process.pid}-${index}`];
    const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, RIVER_EXIT_WITH_STDIN: '1', RIVER_MDNS: 'off', RIVER_QUIET: '1' };
    if (options.key !== undefined) env.RIVER_KEY = options.key;
    const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'inherit'], env });
    const timeoutMs = options.startTimeoutMs ?? 30_000;
    return new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      const fail = (message: string) => {
        clearTimeout(timer);
        lines.close();
        child.kill('SIGKILL');
        reject(new DiscoveryError({ message: `local VM (${[cmd, ...argv].join(' ')}): ${message}` }));
      };
      const timer = setTimeout(() => fail(`printed no address within ${timeoutMs} ms`), timeoutMs);
      child.once('error', (err) => fail(`could not start: ${err.message}`));
      child.once('exit', (code, signal) => fail(`exited before printing its address (code ${code}, signal ${signal})`));
      lines.once('line', (line) => {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        const token = /listening on (\S+)/.exec(line)?.[1];
        const address = token ? parseAddress(token) : undefined;
        if (!address) {
          fail(`first line holds no host:port: ${JSON.stringify(line)}`);
          return;
        }
        this.children.push({ process: child, address });
        // Keep draining its output so the child never blocks on a full pipe.
        if (options.output === 'ignore') lines.on('line', () => undefined);
        else lines.on('line', (l) => process.stderr.write(`[${address.host}:${address.port}] ${l}\n`));
        resolve();
      });
    });
  }
}
