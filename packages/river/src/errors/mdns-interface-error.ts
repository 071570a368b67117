import { RiverError } from './river-error';

const marker = 'river.error.MdnsInterfaceError';
const symbol = Symbol.for(marker);

/** The mDNS interface (option `interface`, env `RIVER_MDNS_INTERFACE`) names no local interface with an IPv4 address. */
export class MdnsInterfaceError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_MDNS_INTERFACE';
  /** The interface name or IPv4 address that was asked for. */
  readonly interface: string;

  constructor({ interface: spec, reason, cause }: { interface: string; reason: string; cause?: unknown }) {
    super(MdnsInterfaceError.code, { message: `mDNS interface ${JSON.stringify(spec)}: ${reason}`, cause });
    this.name = 'MdnsInterfaceError';
    this.interface = spec;
  }

  static override isInstance(error: unknown): error is MdnsInterfaceError {
    return RiverError.hasMarker(error, marker);
  }
}
