import type { VMRef } from '../session-link';

const TRICKLE_ERROR = Symbol.for('@trickle/core.error');

/**
 * Base of every error Trickle raises. `isInstance` checks a `Symbol.for` marker rather than the
 * prototype chain, so it keeps working when two copies of the package are installed.
 */
export class TrickleError extends Error {
  readonly code: string;
  /** The VM the error is about, when there is one. */
  declare readonly vm?: VMRef;

  constructor(message: string, options: { code: string; cause?: unknown; vm?: VMRef }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    mark(this, TRICKLE_ERROR);
    this.code = options.code;
    if (options.vm) (this as { vm?: VMRef }).vm = { id: options.vm.id, name: options.vm.name };
  }

  static isInstance(error: unknown): error is TrickleError {
    return hasMarker(error, TRICKLE_ERROR);
  }
}

/** Marks `target` with `marker` (as a non-enumerable own property). */
export function mark(target: object, marker: symbol): void {
  Object.defineProperty(target, marker, { value: true, enumerable: false });
}

export function hasMarker(error: unknown, marker: symbol): boolean {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
}

/** "'vm-1'" — how a VM is named in messages. */
export function vmLabel(vm: VMRef | undefined): string {
  return vm ? `VM '${vm.name}'` : 'the VM';
}
