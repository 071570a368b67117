import type { VMRef } from '../session-link';
import { ErrorCodes } from './codes';
import { TrickleError, hasMarker, mark } from './trickle-error';

const MARKER = Symbol.for('@trickle/core.InjectError');

/**
 * Something cannot be injected (or sent as a function argument): an anonymous function, a name
 * given twice, a native or bound function, source that does not evaluate on the VM.
 * `item` is the name of the thing being injected, when it has one.
 */
export class InjectError extends TrickleError {
  override readonly name = 'InjectError';
  declare readonly item?: string;

  constructor(message: string, options: { item?: string; vm?: VMRef; cause?: unknown } = {}) {
    super(message, { code: ErrorCodes.INJECT, cause: options.cause, vm: options.vm });
    mark(this, MARKER);
    if (options.item !== undefined) (this as { item?: string }).item = options.item;
  }

  static override isInstance(error: unknown): error is InjectError {
    return hasMarker(error, MARKER);
  }
}
