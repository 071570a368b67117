// @trickle/core/internal — for sibling code that hosts sessions or builds transports (the River
// extension, the CLI, benchmarks). Not part of the user-facing API; may change with it.

export { RaiServer } from './server/rai-server';
export type { RaiServerOptions } from './server/rai-server';
export { RaiSession } from './server/rai-session';
export type { RaiSessionOptions } from './server/rai-session';
export { installHelpers } from './server/helpers';
export { SessionClient } from './client/session-client';
export { clientOf } from './vm';
export { createWireCodec, TRICKLE_TAGS } from './values/wire';
export * from './protocol';
export { trickleExtensions, trickleCliPath } from './river/extension';
export { RAI_EXTENSION } from './river/tags';
export { RiverLink } from './river/river-link';
