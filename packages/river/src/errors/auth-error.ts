import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.AuthError';
const symbol = Symbol.for(marker);

/** Authentication failed: the peer does not hold the same cluster key (or one side has none). */
export class AuthError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_AUTH_FAILED';

  constructor(options: RiverErrorOptions) {
    super(AuthError.code, options);
    this.name = 'AuthError';
  }

  static override isInstance(error: unknown): error is AuthError {
    return RiverError.hasMarker(error, marker);
  }
}
