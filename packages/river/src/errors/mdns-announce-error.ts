import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.MdnsAnnounceError';
const symbol = Symbol.for(marker);

/** An mDNS advertisement was not announced in time (for instance a name conflict stopped it while probing). */
export class MdnsAnnounceError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_MDNS_ANNOUNCE';

  constructor(options: RiverErrorOptions) {
    super(MdnsAnnounceError.code, options);
    this.name = 'MdnsAnnounceError';
  }

  static override isInstance(error: unknown): error is MdnsAnnounceError {
    return RiverError.hasMarker(error, marker);
  }
}
