/**
 * Requests sent on one session link and not yet answered, keyed by id. Owns the rule that when
 * the link dies, every pending request fails (nothing is left hanging).
 */
export interface PendingEntry {
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** What was asked, for messages: `foo()`, `names`, `new Stack()`. */
  readonly remoteName: string;
  /** Where it was asked (its stack becomes the local half of a RemoteError's stack). */
  readonly site: Error | undefined;
  /** Sent without anyone waiting (set, release): a failure is kept for the next awaited reply. */
  readonly detached: boolean;
  readonly kind: string;
  /**
   * Called once when a successful reply to it arrives, before that reply is decoded (see
   * SessionClient: large replies are decoded after the event loop's turn).
   */
  arrived?: () => void;
}

export class PendingRequests {
  private readonly entries = new Map<number, PendingEntry>();

  /** `onBusy(true)` when the first request is added, `onBusy(false)` when the last one leaves. */
  constructor(private readonly onBusy: (busy: boolean) => void = () => undefined) {}

  add(id: number, entry: PendingEntry): void {
    this.entries.set(id, entry);
    if (this.entries.size === 1) this.onBusy(true);
  }

  /** The entry for `id`, left in place. */
  get(id: number): PendingEntry | undefined {
    return this.entries.get(id);
  }

  /** Removes and returns the entry for `id` (undefined for an unknown or already answered id). */
  take(id: number): PendingEntry | undefined {
    const entry = this.entries.get(id);
    if (entry) {
      this.entries.delete(id);
      if (this.entries.size === 0) this.onBusy(false);
    }
    return entry;
  }

  /** Fails every pending request with the error `errorFor` makes for it, and forgets them. */
  failAll(errorFor: (entry: PendingEntry) => Error): void {
    const entries = [...this.entries.values()];
    this.entries.clear();
    if (entries.length > 0) this.onBusy(false);
    for (const entry of entries) entry.reject(errorFor(entry));
  }

  get size(): number {
    return this.entries.size;
  }
}
