// A long-running child process whose stdout is kept as lines, stderr as bounded text.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { safeKill } from './exec';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LineProcessOptions {
  env?: NodeJS.ProcessEnv;
  /** Called with every stderr chunk. */
  onStderr?: (text: string) => void;
  /** Stdout lines kept (later lines are dropped); unbounded by default. */
  maxLines?: number;
  /** Stderr kept, in characters (roughly: appending stops once reached); default 256 KiB. */
  maxStderr?: number;
  /** Put before the output in {@link LineProcess.describe}, e.g. `in <namespace>`. */
  context?: string;
}

/**
 * A child process (no shell) with piped stdio. When the command is exec'd by a wrapper (`sh -c
 * 'exec …'`, `ip netns exec`), `pid` is the real process. Killed by pid only, on dispose if not before.
 */
export class LineProcess implements AsyncDisposable {
  readonly lines: string[] = [];
  readonly exited: Promise<ExitStatus>;
  private stderrText = '';
  private readonly child: ChildProcess;
  private exitInfo: ExitStatus | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly maxLines: number;
  private readonly maxStderr: number;
  private readonly context: string;

  constructor(
    readonly label: string,
    command: string,
    args: readonly string[],
    options: LineProcessOptions = {},
  ) {
    this.maxLines = options.maxLines ?? Infinity;
    this.maxStderr = options.maxStderr ?? 256 * 1024;
    this.context = options.context ?? '';
    this.child = spawn(command, [...args], { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
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
      if (this.lines.length < this.maxLines) this.lines.push(line);
      this.wake();
    });
    const onStderr = options.onStderr;
    this.child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      if (this.stderrText.length < this.maxStderr) this.stderrText += text;
      onStderr?.(text);
    });
    this.child.stdin!.on('error', () => undefined); // writing to an exited process
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get stderr(): string {
    return this.stderrText;
  }

  get exitStatus(): ExitStatus | undefined {
    return this.exitInfo;
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Writes one line to the process's stdin. */
  write(line: string): void {
    if (!this.exitInfo) this.child.stdin!.write(`${line}\n`);
  }

  /** Closes stdin. */
  end(): void {
    this.child.stdin!.end();
  }

  /**
   * Resolves with the first stdout line (from index `from`) matching `match`; rejects on timeout or
   * if the process exits first, with its output in the message.
   */
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

  /** {@link waitForLine} over lines that are JSON objects; resolves with the parsed object. */
  async waitForJson<T = Record<string, unknown>>(match: (msg: T) => boolean, timeoutMs: number, from = 0): Promise<T> {
    const line = await this.waitForLine((l) => {
      const msg = parseJson<T>(l);
      return msg !== undefined && match(msg);
    }, timeoutMs, from);
    return parseJson<T>(line) as T;
  }

  /** Every stdout line that parses as JSON. */
  json<T = Record<string, unknown>>(): T[] {
    const out: T[] = [];
    for (const line of this.lines) {
      const msg = parseJson<T>(line);
      if (msg !== undefined) out.push(msg);
    }
    return out;
  }

  /** Waits for exit, bounded; kills it and rejects when it takes longer. */
  async waitForExit(timeoutMs: number): Promise<ExitStatus> {
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

  /** The context, then the tails of stdout and stderr (for error messages). */
  describe(): string {
    const tail = (text: string) => (text.length > 2000 ? `…${text.slice(-2000)}` : text);
    return `${this.context}\n--- stdout\n${tail(this.lines.join('\n'))}\n--- stderr\n${tail(this.stderrText)}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }
}

function parseJson<T>(line: string): T | undefined {
  try {
    return JSON.parse(line) as T;
  } catch {
    return undefined;
  }
}
