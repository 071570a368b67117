import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.MdnsSocketError';
const symbol = Symbol.for(marker);

/** The mDNS socket could not be set up (bind, multicast membership, or pinning it to the interface failed). */
export class MdnsSocketError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_MDNS_SOCKET';

  constructor(options: RiverErrorOptions) {
    super(MdnsSocketError.code, options);
    this.name = 'MdnsSocketError';
  }

  static override isInstance(error: unknown): error is MdnsSocketError {
    return RiverError.hasMarker(error, marker);
  }
}
