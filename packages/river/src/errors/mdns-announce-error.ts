const marker = 'river.error.MdnsAnnounceError';
const symbol = Symbol.for(marker);

/** An mDNS advertisement was not announced in time (for instance a name conflict stopped it while probing). */
export class MdnsAnnounceError extends Error {
  // Marks instances across duplicate copies of this package (instanceof would not).
  private readonly [symbol] = true;
  override readonly name = 'MdnsAnnounceError';
  readonly code = 'RIVER_MDNS_ANNOUNCE' as const;

  constructor({ message, cause }: { message: string; cause?: unknown }) {
    super(message, { cause });
  }

  static isInstance(error: unknown): error is MdnsAnnounceError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[symbol] === true;
  }
}
