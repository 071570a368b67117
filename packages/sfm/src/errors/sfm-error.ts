const marker = Symbol.for('@river/sfm/SfmError');

/**
 * Base class of every error @river/sfm raises. `code` names the condition; `isInstance` works
 * across duplicate copies of the package (it checks a `Symbol.for` marker, not the prototype).
 */
export abstract class SfmError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }

  static isInstance(error: unknown): error is SfmError {
    return hasMarker(error, marker);
  }

  static {
    markPrototype(this, marker, 'SfmError');
  }
}

/** True when `error` is an object that carries `marker` (set on a class prototype). */
export function hasMarker(error: unknown, marker: symbol): boolean {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
}

/**
 * Puts the class's name and marker on its prototype, not on each instance, so instances keep
 * only `message`, `code` and their own fields (which is what the codec carries).
 */
export function markPrototype(errorClass: abstract new (...args: never[]) => Error, marker: symbol, name: string): void {
  Object.defineProperty(errorClass.prototype, marker, { value: true });
  Object.defineProperty(errorClass.prototype, 'name', { value: name, writable: true, configurable: true });
}
