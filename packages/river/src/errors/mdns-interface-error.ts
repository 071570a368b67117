const marker = 'river.error.MdnsInterfaceError';
const symbol = Symbol.for(marker);

/** The mDNS interface (option `interface`, env `RIVER_MDNS_INTERFACE`) names no local interface with an IPv4 address. */
export class MdnsInterfaceError extends Error {
  // Marks instances across duplicate copies of this package (instanceof would not).
  private readonly [symbol] = true;
  override readonly name = 'MdnsInterfaceError';
  readonly code = 'RIVER_MDNS_INTERFACE' as const;
  /** The interface name or IPv4 address that was asked for. */
  readonly interface: string;

  constructor({ interface: spec, reason, cause }: { interface: string; reason: string; cause?: unknown }) {
    super(`mDNS interface ${JSON.stringify(spec)}: ${reason}`, { cause });
    this.interface = spec;
  }

  static isInstance(error: unknown): error is MdnsInterfaceError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[symbol] === true;
  }
}
