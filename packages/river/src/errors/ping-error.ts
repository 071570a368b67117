import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.PingError';
const symbol = Symbol.for(marker);

/** Why a VM did not answer a ping: nothing listens, no answer in time, a different key, or an unexpected answer. */
export type PingFailure = 'refused' | 'timeout' | 'wrong key' | 'unreachable' | 'protocol';

/** `pingVM` (`river ping`, `trickle ping`) got no authenticated answer; `reason` says why in one word. */
export class PingError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_PING_FAILED';
  readonly reason: PingFailure;

  constructor(options: RiverErrorOptions & { reason: PingFailure }) {
    super(PingError.code, options);
    this.name = 'PingError';
    this.reason = options.reason;
  }

  static override isInstance(error: unknown): error is PingError {
    return RiverError.hasMarker(error, marker);
  }
}
