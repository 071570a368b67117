/**
 * A message: named attributes whose values the codec can carry (see `Codec`). Messages are
 * plain records; `recv` hands back the very object that was `put`.
 */
export type Message = Record<string, unknown>;
