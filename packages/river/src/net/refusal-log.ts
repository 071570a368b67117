/**
 * Log lines about connections refused before authentication, safe against whoever is refused:
 * what a peer said is escaped (no newlines or terminal escapes reach the log) and cut short, and
 * the lines are rate-limited — the first few of each minute are written as they come, the rest
 * are counted and summed up in one line ("N connections refused in the last minute: …").
 */

/** Refusals written one by one per window; past this they are only counted… */
const LINES_PER_WINDOW = 20;
/** …except the first of each kind of reason, up to this many kinds a window. */
const KINDS_PER_WINDOW = 20;
const WINDOW_MS = 60_000;
const MAX_TEXT = 200;

export class RefusalLog {
  private windowStart: number;
  private inWindow = 0;
  private suppressed = 0;
  private readonly reasons = new Map<string, number>();
  /** Kinds of reason already written in this window. */
  private readonly kindsWritten = new Set<string>();
  private readonly sources = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (line: string) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.windowStart = now();
  }

  /** A connection from `from` was refused because of `reason` (which may hold the peer's words). */
  refused(from: string, reason: string): void {
    this.roll();
    this.inWindow++;
    const kind = reasonKind(reason);
    const newKind = !this.kindsWritten.has(kind) && this.kindsWritten.size < KINDS_PER_WINDOW;
    if (this.inWindow <= LINES_PER_WINDOW || newKind) {
      if (newKind) this.kindsWritten.add(kind);
      this.write(`connection from ${escapeForLog(from, 64)} refused: ${escapeForLog(reason, MAX_TEXT)}`);
      return;
    }
    this.suppressed++;
    this.reasons.set(kind, (this.reasons.get(kind) ?? 0) + 1);
    if (this.sources.size < 5) this.sources.add(escapeForLog(from, 64));
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), Math.max(0, this.windowStart + WINDOW_MS - this.now()));
      this.timer.unref();
    }
  }

  /** Writes the summary of what was counted, if anything (also when the engine stops). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.suppressed > 0) {
      const reasons = [...this.reasons].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${n}× ${r}`).join(', ');
      const from = [...this.sources].join(', ');
      this.write(`${this.suppressed} more connections refused in the last minute (${reasons}; from ${from}${this.sources.size >= 5 ? ', …' : ''})`);
    }
    this.suppressed = 0;
    this.reasons.clear();
    this.sources.clear();
    this.kindsWritten.clear();
    this.windowStart = this.now();
    this.inWindow = 0;
  }

  private roll(): void {
    if (this.now() - this.windowStart >= WINDOW_MS) this.flush();
  }
}

/** The reason without what the peer supplied: its first words, for grouping. */
function reasonKind(reason: string): string {
  return escapeForLog(reason.split(/[:(]/, 1)[0]!.trim(), 60);
}

/**
 * Text from outside made safe for one log line: control characters (C0, DEL, C1), line and
 * paragraph separators and bidi controls become `\xNN`/`\uNNNN`, and it is cut at `max` chars.
 */
export function escapeForLog(text: string, max: number): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\\]/g, (c) => {
    if (c === '\\') return '\\\\';
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
