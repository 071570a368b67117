const marker = 'river.error';
const symbol = Symbol.for(marker);

/** Constructor arguments shared by every River error. */
export interface RiverErrorOptions {
  message: string;
  cause?: unknown;
}

/**
 * Base class of every error @river/engine raises. Each condition has its own subclass with a
 * stable `code`; `isInstance` checks a `Symbol.for` marker, so it works across two installed
 * copies of the package (where `instanceof` does not).
 */
export class RiverError extends Error {
  private readonly [symbol] = true;
  readonly code: string;

  constructor(code: string, { message, cause }: RiverErrorOptions) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'RiverError';
    this.code = code;
  }

  static isInstance(error: unknown): error is RiverError {
    return RiverError.hasMarker(error, marker);
  }

  protected static hasMarker(error: unknown, markerName: string): boolean {
    const sym = Symbol.for(markerName);
    return error != null && typeof error === 'object' && sym in error && (error as Record<symbol, unknown>)[sym] === true;
  }
}
