import { Tag } from 'cbor-x';
import { isPlainObject } from './deep-equal';

/**
 * What an Error becomes on the wire (inside tag SFM_TAGS.error). `cause` and `errors` are
 * present only when the error has them; `props` holds the error's own enumerable properties
 * (such as `code`).
 */
export interface ErrorData {
  name: string;
  message: string;
  stack?: string;
  cause?: unknown;
  errors?: unknown[];
  props?: Record<string, unknown>;
}

const standardErrors: Readonly<Record<string, new (message?: string) => Error>> = {
  Error,
  TypeError,
  RangeError,
  ReferenceError,
  SyntaxError,
  EvalError,
  URIError,
};

/** Properties carried in their own fields, not in `props`. */
const ownFields = new Set(['name', 'message', 'stack', 'cause', 'errors']);

/**
 * The data to write for `error`. An Error `cause` is converted here, as a tagged value,
 * so a cycle of causes (a.cause = b, b.cause = a) is cut instead of recursing forever.
 */
export function errorToData(error: Error, errorTag: number, seen = new Set<Error>()): ErrorData {
  seen.add(error);
  const data: ErrorData = { name: String(error.name), message: String(error.message) };
  if (typeof error.stack === 'string') data.stack = error.stack;
  if ('cause' in error) {
    const cause = error.cause;
    if (!(cause instanceof Error)) data.cause = cause;
    else if (!seen.has(cause)) data.cause = new Tag(errorToData(cause, errorTag, seen), errorTag);
  }
  const errors: unknown = Object.hasOwn(error, 'errors') ? (error as { errors?: unknown }).errors : undefined;
  if (Array.isArray(errors)) data.errors = errors;
  for (const key of Object.keys(error)) {
    if (ownFields.has(key)) continue;
    (data.props ??= {})[key] = (error as unknown as Record<string, unknown>)[key];
  }
  return data;
}

/** Rebuilds an Error: a standard class when `name` is one, else an Error with that name. */
export function errorFromData(data: unknown): Error {
  if (!isPlainObject(data) || typeof data.name !== 'string' || typeof data.message !== 'string') {
    throw new TypeError('malformed error: expected { name, message }');
  }
  const { name, message, stack, errors, props } = data;
  if (stack !== undefined && typeof stack !== 'string') throw new TypeError('malformed error: stack');
  if (errors !== undefined && !Array.isArray(errors)) throw new TypeError('malformed error: errors');
  if (props !== undefined && !isPlainObject(props)) throw new TypeError('malformed error: props');

  const error =
    name === 'AggregateError' && Array.isArray(errors)
      ? new AggregateError(errors, message)
      : new (Object.hasOwn(standardErrors, name) ? standardErrors[name] : Error)(message);
  if (error.name !== name) define(error, 'name', name, false);
  if (stack === undefined) delete error.stack;
  else define(error, 'stack', stack, false);
  if (Object.hasOwn(data, 'cause')) define(error, 'cause', data.cause, false);
  if (errors !== undefined && !Object.hasOwn(error, 'errors')) define(error, 'errors', errors, false);
  // defineProperty, not assignment: a key such as "__proto__" must stay an ordinary property.
  if (props) for (const key of Object.keys(props)) define(error, key, props[key], true);
  return error;
}

function define(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable });
}
