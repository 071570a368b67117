/**
 * A message: named attributes whose values the codec can carry (see `Codec`). Messages are
 * plain records; `recv` hands back the very object that was `put`.
 */
export type Message = Record<string, unknown>;

/**
 * What a message *type* may be, wherever a type argument names one (`recv<Ping>`, `Pattern<Ping>`,
 * `matches<Ping>`): any object type, an interface as well as a type alias or `Message`. (An
 * interface has no index signature, so it is not a `Message`; it still describes one.)
 */
export type MessageType = object;

/**
 * What a guard narrows to, from the guard's type: `(m: unknown) => m is Ping` gives `Ping`; a
 * plain predicate gives `Message`. Write guards over `unknown` or `object` when the type is an
 * interface (TypeScript requires a guard's type to be assignable to its parameter's type).
 */
export type Guarded<F> = F extends (msg: any) => msg is infer M ? (M extends object ? M : Message) : Message;
