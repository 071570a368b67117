// Running commands (no shell, bounded in time) and helpers for processes known by pid.
import { execFile } from 'node:child_process';

const COMMAND_TIMEOUT_MS = 10_000;

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Killed with SIGKILL after this long (default 10 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed. */
  input?: string;
}

/** Runs a command (no shell) to completion, resolving with its result whatever the exit code. */
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

/** Like {@link run}, but rejects unless the command exits 0; resolves with its stdout. */
export async function runOk(command: string, args: readonly string[], options: ExecOptions = {}): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.signal ?? `exit ${result.code}`}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** Sends `signal` to one process by pid; ignores a missing pid, pids 0/1, and processes already gone. */
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

/** Synchronous sleep, for short waits in exit hooks. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
