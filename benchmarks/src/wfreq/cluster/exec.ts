// Running commands (bounded in time) and long-running child processes (killed by pid).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const COMMAND_TIMEOUT_MS = 10_000;

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  input?: string;
}

/** Runs a command (no shell) to completion, whatever its exit code. Bounded in time (SIGKILL). */
export function run(command: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      [...args],
      {
        timeout: options.timeoutMs ?? COMMAND_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        env: options.env,
        maxBuffer: 64 << 20,
      },
      (error, stdout, stderr) => {
        const err = error as (NodeJS.ErrnoException & { code?: unknown; signal?: NodeJS.Signals }) | null;
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
          signal: err?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr) || (err && typeof err.code === 'string' ? err.message : ''),
        });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Like {@link run}, but rejects unless the command exits 0. */
export async function runOk(command: string, args: readonly string[], options: ExecOptions = {}): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.signal ?? `exit ${result.code}`}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

export function safeKill(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined || pid <= 1) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Synchronous sleep for short waits in exit hooks. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A long-running child process whose stdout is kept as lines (bounded), stderr as text (bounded).
 * The command is exec'd by any wrapper (sh, ip netns exec), so `pid` is the real process.
 */
export class ManagedProcess implements AsyncDisposable {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stderrText = '';
  private readonly child: ChildProcess;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly waiters = new Set<() => void>();
  private static readonly MAX_LINES = 10_000;

  constructor(
    readonly label: string,
    command: string,
    args: readonly string[],
    env?: NodeJS.ProcessEnv,
    private readonly onStderr?: (text: string) => void,
  ) {
    this.child = spawn(command, [...args], { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
        this.wake();
      });
      this.child.on('error', (err) => {
        this.stderrText += `spawn error: ${err.message}\n`;
        this.exitInfo = { code: null, signal: null };
        resolve(this.exitInfo);
        this.wake();
      });
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (this.lines.length < ManagedProcess.MAX_LINES) this.lines.push(line);
      this.wake();
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      if (this.stderrText.length < 256 * 1024) this.stderrText += text;
      this.onStderr?.(text);
    });
    this.child.stdin!.on('error', () => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get stderr(): string {
    return this.stderrText;
  }

  get exitStatus() {
    return this.exitInfo;
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  write(line: string): void {
    if (!this.exitInfo) this.child.stdin!.write(`${line}\n`);
  }

  end(): void {
    this.child.stdin!.end();
  }

  /** First stdout line (from index `from`) matching `match`; rejects on timeout or exit. */
  waitForLine(match: (line: string) => boolean, timeoutMs: number, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const check = () => {
        const hit = this.lines.slice(from).find(match);
        if (hit !== undefined) return finish(() => resolve(hit));
        if (this.exitInfo) {
          return finish(() => reject(new Error(`${this.label} exited (${JSON.stringify(this.exitInfo)}) ${this.describe()}`)));
        }
      };
      const finish = (settle: () => void) => {
        if (timer) clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      timer = setTimeout(() => finish(() => reject(new Error(`${this.label}: timed out after ${timeoutMs} ms ${this.describe()}`))), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Waits for exit, bounded; kills it and rejects when it takes longer. */
  async waitForExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      await this.kill();
      throw new Error(`${this.label} did not exit within ${timeoutMs} ms ${this.describe()}`);
    }
    return result;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; this process only, by pid. */
  async kill(graceMs = 1_000): Promise<void> {
    if (this.exitInfo || this.child.pid === undefined) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.exited,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          if (!this.exitInfo) this.child.kill('SIGKILL');
          resolve();
        }, graceMs);
      }),
    ]);
    clearTimeout(timer);
    await this.exited;
  }

  /** Synchronous last-resort kill (exit hooks). */
  killSync(): void {
    if (!this.exitInfo) safeKill(this.child.pid, 'SIGKILL');
  }

  describe(): string {
    const tail = (text: string) => (text.length > 2000 ? `…${text.slice(-2000)}` : text);
    return `\n--- stdout\n${tail(this.lines.join('\n'))}\n--- stderr\n${tail(this.stderrText)}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }
}
