import { mapShippedStack } from '@river/engine';

import type { ErrorInfo, FailureCode } from '../protocol';

/** A failure of the request itself (not of user code), with the code the initiator sees. */
export class RaiFailure extends Error {
  constructor(
    readonly failure: FailureCode,
    message: string,
    options: { name?: string; variable?: string; item?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = options.name ?? 'Error';
    if (options.variable !== undefined) this.variable = options.variable;
    if (options.item !== undefined) this.item = options.item;
  }
  declare variable?: string;
  declare item?: string;
}

const OWN_FIELDS = new Set(['name', 'message', 'stack', 'cause']);

function isError(value: unknown): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}

/**
 * What `thrown` becomes on the wire. `exportValue` makes property values safe to send (remote
 * references for objects); a property it cannot send is left out rather than failing the reply.
 */
export function toErrorInfo(thrown: unknown, exportValue: (value: unknown) => unknown, depth = 0): ErrorInfo {
  if (!isError(thrown)) {
    const info: ErrorInfo = { name: 'Error', message: describeThrown(thrown) };
    const value = trySend(thrown, exportValue);
    if (value.ok) info.props = { thrown: value.value };
    return info;
  }
  const info: ErrorInfo = { name: String(thrown.name ?? 'Error'), message: String(thrown.message ?? '') };
  // The stack of a Trickle failure is the server's own, of no use to the caller; a free variable's
  // points into the user's code.
  const own = thrown instanceof RaiFailure && thrown.failure !== 'FREE_VARIABLE';
  // Frames of injected code name the user's file and line (compiled TypeScript mapped back).
  if (typeof thrown.stack === 'string' && !own) info.stack = mapShippedStack(thrown.stack);
  if (thrown instanceof RaiFailure) {
    info.failure = thrown.failure;
    if (thrown.variable !== undefined) info.variable = thrown.variable;
  }
  for (const key of Object.keys(thrown)) {
    if (OWN_FIELDS.has(key) || (thrown instanceof RaiFailure && (key === 'failure' || key === 'variable'))) continue;
    const value = trySend((thrown as unknown as Record<string, unknown>)[key], exportValue);
    if (value.ok) (info.props ??= {})[key] = value.value;
  }
  if ('cause' in thrown && thrown.cause !== undefined) {
    if (isError(thrown.cause) && depth < 8) info.cause = toErrorInfo(thrown.cause, exportValue, depth + 1);
    else {
      const value = trySend(thrown.cause, exportValue);
      if (value.ok) info.cause = { value: value.value };
    }
  }
  return info;
}

function trySend(value: unknown, exportValue: (value: unknown) => unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: exportValue(value) };
  } catch {
    return { ok: false };
  }
}

function describeThrown(thrown: unknown): string {
  if (typeof thrown === 'string') return thrown;
  try {
    return `non-error value thrown: ${typeof thrown === 'object' ? JSON.stringify(thrown) : String(thrown)}`;
  } catch {
    return `non-error value thrown: ${String(thrown)}`;
  }
}
