import { deepEqual } from './deep-equal';
import type { Message, MessageType } from './message';

/** Pattern wildcard: the attribute must be present (with any value, `undefined` included). */
export const ANY: unique symbol = Symbol.for('@river/sfm/ANY');
export type Any = typeof ANY;

/**
 * What one attribute of a pattern accepts: a literal (SameValueZero; arrays, plain objects,
 * Maps, Sets, Dates and typed arrays by deep equality), a predicate on the attribute's value
 * (called with `undefined` when the attribute is absent), or `ANY`.
 */
export type PatternEntry<V> = V | Any | ((value: V) => boolean);

/**
 * A record of attribute entries; a message matches when every entry matches. `{}` matches all.
 * For a message type without an index signature (a type alias, an interface), a pattern may only
 * name its attributes, with values of their types: `Pattern<Ping>` refuses `{ tga: 'ping' }`.
 */
export type Pattern<M extends MessageType = Message> = { readonly [K in keyof M]?: PatternEntry<M[K]> };

/**
 * A type guard over messages: `recv(isPong)` resolves with a `Pong`. Its parameter may be any
 * type a message has (`unknown`, `object`, `Message`).
 */
export type MessageGuard<M extends MessageType> = (msg: any) => msg is M;

/** Anything `recv`, `tryRecv` and `peek` accept to select a message. */
export type Selector = Pattern | ((msg: Message) => boolean);

/** True when every entry of `pattern` matches the corresponding attribute of `msg`. */
export function matches<M extends MessageType = Message>(pattern: Pattern<NoInfer<M>>, msg: object): msg is M {
  for (const key of Object.keys(pattern)) {
    if (!entryMatches((pattern as Pattern)[key], msg as Message, key)) return false;
  }
  return true;
}

/** Turns a selector into a predicate, doing the per-pattern work (listing its keys) once. */
export function toPredicate(selector: Selector | undefined): (msg: Message) => boolean {
  if (selector === undefined) return acceptAll;
  if (typeof selector === 'function') return selector;
  const pattern: Pattern = selector;
  const keys = Object.keys(pattern);
  switch (keys.length) {
    case 0:
      return acceptAll;
    case 1: {
      const key = keys[0];
      const entry = pattern[key];
      return (msg) => entryMatches(entry, msg, key);
    }
    default:
      return (msg) => {
        for (let i = 0; i < keys.length; i++) {
          if (!entryMatches(pattern[keys[i]], msg, keys[i])) return false;
        }
        return true;
      };
  }
}

const acceptAll = (): boolean => true;

function entryMatches(entry: unknown, msg: Message, key: string): boolean {
  if (entry === ANY) return Object.hasOwn(msg, key);
  const value = msg[key];
  if (entry === value) return true;
  if (typeof entry === 'function') return Boolean((entry as (value: unknown) => unknown)(value));
  if (typeof entry === 'object' && entry !== null) return deepEqual(entry, value);
  return entry !== entry && value !== value; // NaN matches NaN
}
