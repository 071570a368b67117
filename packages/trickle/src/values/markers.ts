import type { CodeDescription, Path } from '../protocol';

/**
 * Session → initiator: an object the session keeps for the initiator (a class instance, a
 * function, a module…). The initiator's codec turns it into a remote-object proxy.
 */
export class RemoteRef {
  constructor(
    readonly id: number,
    /** Constructor name or `'function'`, for messages and `inspect`. */
    readonly type: string,
  ) {}
}

/**
 * Initiator → session: something the session already has, named by a proxy the initiator passes
 * as an argument: a remote object (`ref`), or a path in the namespace or under a remote object.
 */
export class TargetRef {
  constructor(
    readonly ref: number | undefined,
    readonly path: Path,
  ) {}
}

/** Initiator → session: a local function passed as an argument; it is evaluated on the VM. */
export class CodeRef {
  constructor(readonly code: CodeDescription) {}
}
