import type { VMRef } from '../session-link';
import { ErrorCodes } from './codes';
import { TrickleError, hasMarker, mark } from './trickle-error';

const MARKER = Symbol.for('@trickle/core.SerializationError');

/**
 * A value cannot cross between the initiator and a VM: a symbol, an instance of a local class
 * sent as an argument, a remote object of another VM, a cyclic structure... `remoteName` is what
 * was being called or read (`foo`, `table.get`), `where` is the position inside the value
 * (`args[1].items[3]`).
 */
export class SerializationError extends TrickleError {
  override readonly name = 'SerializationError';
  declare readonly remoteName?: string;
  declare readonly where?: string;

  constructor(
    message: string,
    options: { vm?: VMRef; remoteName?: string; where?: string; cause?: unknown } = {},
  ) {
    super(message, { code: ErrorCodes.SERIALIZATION, cause: options.cause, vm: options.vm });
    mark(this, MARKER);
    if (options.remoteName !== undefined) (this as { remoteName?: string }).remoteName = options.remoteName;
    if (options.where !== undefined) (this as { where?: string }).where = options.where;
  }

  static override isInstance(error: unknown): error is SerializationError {
    return hasMarker(error, MARKER);
  }
}
