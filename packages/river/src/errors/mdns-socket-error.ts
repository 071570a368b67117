const marker = 'river.error.MdnsSocketError';
const symbol = Symbol.for(marker);

/** The mDNS socket could not be set up (bind, multicast membership, or pinning it to the interface failed). */
export class MdnsSocketError extends Error {
  // Marks instances across duplicate copies of this package (instanceof would not).
  private readonly [symbol] = true;
  override readonly name = 'MdnsSocketError';
  readonly code = 'RIVER_MDNS_SOCKET' as const;

  constructor({ message, cause }: { message: string; cause?: unknown }) {
    super(message, { cause });
  }

  static isInstance(error: unknown): error is MdnsSocketError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[symbol] === true;
  }
}
