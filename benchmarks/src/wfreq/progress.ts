// Progress on stderr while the benchmark runs: one updating line on a TTY, plain lines otherwise
// (transient updates throttled so logs stay short).

export class Progress {
  private readonly tty: boolean;
  private readonly started = performance.now();
  private current = '';
  private lastPlain = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly enabled = true,
    private readonly plainIntervalMs = 5_000,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  private stamp(): string {
    const s = Math.floor((performance.now() - this.started) / 1000);
    return `[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}]`;
  }

  private fit(line: string): string {
    const cols = this.stream.columns ?? 120;
    return line.length > cols - 1 ? `${line.slice(0, cols - 2)}…` : line;
  }

  /** A new phase or step: always shown. */
  step(text: string): void {
    if (!this.enabled) return;
    this.current = text;
    const line = `${this.stamp()} ${text}`;
    if (this.tty) this.stream.write(`\r\x1b[2K${this.fit(line)}`);
    else {
      this.stream.write(`${line}\n`);
      this.lastPlain = performance.now();
    }
  }

  /** Detail within the current step: on a TTY always; otherwise at most every few seconds. */
  update(detail: string): void {
    if (!this.enabled) return;
    const line = `${this.stamp()} ${this.current}${detail ? ` — ${detail}` : ''}`;
    if (this.tty) this.stream.write(`\r\x1b[2K${this.fit(line)}`);
    else if (performance.now() - this.lastPlain >= this.plainIntervalMs) {
      this.stream.write(`${line}\n`);
      this.lastPlain = performance.now();
    }
  }

  /** A line that stays (results, warnings). */
  log(text: string): void {
    if (!this.enabled) return;
    if (this.tty) this.stream.write(`\r\x1b[2K${text}\n${this.current ? this.fit(`${this.stamp()} ${this.current}`) : ''}`);
    else this.stream.write(`${text}\n`);
  }

  /** Ends the updating line. */
  done(text?: string): void {
    if (!this.enabled) return;
    if (this.tty) this.stream.write(`\r\x1b[2K${text ? `${this.stamp()} ${text}\n` : ''}`);
    else if (text) this.stream.write(`${this.stamp()} ${text}\n`);
    this.current = '';
  }
}
