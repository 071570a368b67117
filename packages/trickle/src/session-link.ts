/**
 * The transport under one session: what the initiator needs from whatever carries RAI requests
 * to a VM and brings the replies back. One link per VM (per session).
 *
 * A link carries opaque, already-encoded messages (`Uint8Array`); Trickle encodes and decodes
 * them itself, because its codec knows about remote references, which the transport need not.
 *
 * Implementations:
 * - `WorkerLink` (worker-link.ts): the RAI server in a local `worker_thread` — dev and tests.
 * - a River link (added with @river/engine): the RAI server is a River VR on a VM; each message is
 *   the body of an SFM message between the initiator VR and that VR, and the VR hands the bytes
 *   to `RaiServer.receive()` (server/rai-server.ts).
 */

/** Who is at the other end of a link: enough to name it in errors and to tell VMs apart. */
export interface VMRef {
  /** Stable id (River: the VM's node id). */
  readonly id: string;
  /** Human-readable name, used in every error message. */
  readonly name: string;
}

/** What a link reports to the session client that listens to it. */
export interface LinkListener {
  /** One encoded message from the session (a reply). Called in the order the session sent them. */
  message(bytes: Uint8Array): void;
  /**
   * The session is gone (VM died, connection lost, worker exited, link closed). Called at most
   * once; nothing is delivered after it.
   */
  lost(reason: Error): void;
  /**
   * Optional: the VM is stopping (graceful removal). Requests already sent are still answered;
   * new work should go elsewhere. The session ends (`lost`) once the VM has finished.
   */
  draining?(): void;
}

export interface SessionLink {
  readonly vm: VMRef;
  /**
   * Optional: where the other sessions of the same initiator reach this one (River: the RAI VR's
   * UUID). forkWork `reduce` combines accumulators session to session through it; sessions
   * without one are combined on the initiator.
   */
  readonly address?: string;
  /**
   * Optional: the largest encoded request the link can carry. A larger one is refused at once
   * (SerializationError) instead of being sent.
   */
  readonly maxMessageBytes?: number;
  /**
   * Sends one encoded request. Requests MUST reach the session in the order they were sent
   * (ordering of `set` and `release` relies on it). Never throws because the session is gone:
   * report that through `lost` instead.
   */
  send(bytes: Uint8Array): void;
  /** Registers the one listener (the session client calls this once, before the first send). */
  listen(listener: LinkListener): void;
  /** Ends the session: the VM side drops the namespace and everything in it. Idempotent. */
  close(): Promise<void>;
  /**
   * Optional: ends the session now, even while it is running a call — its worker on the VM is
   * terminated (a runaway loop never reads a polite close). Used when a request is cancelled;
   * without it the client falls back to `close()`. `lost` need not be reported afterwards.
   */
  cancel?(reason: Error): Promise<void>;
  /**
   * Optional: keep the process alive (`ref`) while requests are outstanding, and let it end
   * (`unref`) when the session is idle, so a program ends without an explicit disconnect.
   */
  ref?(): void;
  unref?(): void;
}
