import type { VMRef } from '../session-link';
import { ErrorCodes } from './codes';
import { TrickleError, hasMarker, mark, vmLabel } from './trickle-error';

const MARKER = Symbol.for('@trickle/core.ResourceLimitError');

/**
 * The session on a VM reached the memory limit of its worker (`connect({ maxOldGenerationSizeMb
 * })`) and was ended. The VM and its other sessions carry on; this session, and everything
 * injected into it, is gone (connect again for a new one). `limitMb` is the limit when known.
 */
export class ResourceLimitError extends TrickleError {
  override readonly name = 'ResourceLimitError';
  declare readonly vm: VMRef;
  /** The heap limit of the session's worker, in MB (`maxOldGenerationSizeMb`), when known. */
  readonly limitMb: number | undefined;

  constructor(vm: VMRef, options: { limitMb?: number; during?: string; cause?: unknown } = {}) {
    const limit = options.limitMb === undefined ? 'its heap limit' : `its heap limit (maxOldGenerationSizeMb: ${options.limitMb} MB)`;
    super(
      `the session on ${vmLabel(vm)} ran out of memory${options.during ? ` during ${options.during}` : ''}: it reached ${limit} and was ended; the VM carries on, this session is gone (connect again for a new one)`,
      { code: ErrorCodes.RESOURCE_LIMIT, cause: options.cause, vm },
    );
    mark(this, MARKER);
    this.limitMb = options.limitMb;
  }

  /** The same error, about the request `during`. */
  during(during: string): ResourceLimitError {
    return new ResourceLimitError(this.vm, { limitMb: this.limitMb, during, cause: this.cause });
  }

  static override isInstance(error: unknown): error is ResourceLimitError {
    return hasMarker(error, MARKER);
  }
}
