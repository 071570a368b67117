/**
 * River's wire and port protocol: every frame kind that crosses a connection between two engines,
 * and every message that crosses the MessagePort between a VR and its engine. Shapes only; the
 * code that acts on them lives in net/, engine/ and vr/. See docs/protocol.md.
 *
 * Frames are SFM frames (4-byte length prefix + one CBOR value). Each frame's value is an array
 * whose first element is its {@link FrameKind}: arrays keep the hot ROUTE frame small and let the
 * engine route it without touching the message body, which stays an opaque byte string.
 */
import type { ImportBinding } from './code/import-binding';
import type { SourcePosition } from './code/source-position';
import { ProtocolError } from './errors/protocol-error';
import type { WireError } from './errors/wire';
import { isVMInfo, type VMInfo } from './vm-info';

/** Version of this protocol; a HELLO with another major version is refused. */
export const PROTOCOL_VERSION = 2;

/** A VR's (or engine's) name: a UUID string. */
export type UUID = string;

export const FrameKind = {
  /** Handshake: identities and fresh nonces. */
  HELLO: 1,
  /** Handshake: the sender's HMAC over both nonces and both node ids. */
  AUTH: 2,
  /** Handshake: the acceptor verified the dialer; the connection is open. */
  READY: 3,
  /** A fatal error; the sender closes the connection after it. */
  ERROR: 4,
  /** A message from one VR to another: `[ROUTE, dest, src, body, flags?]`. */
  ROUTE: 10,
  PING: 20,
  PONG: 21,
  /** An engine-to-engine request (deploy, locate, members, join, …). */
  REQUEST: 30,
  RESPONSE: 31,
  /** A one-way engine-to-engine notice (vr-exit, members). */
  NOTICE: 32,
  /** Graceful close: the sender is stopping (`reason: 'stopping'`) or retiring a duplicate connection. */
  BYE: 40,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** What a process is: a VM hosts VRs for others; an initiator only hosts its own VR. */
export type NodeRole = 'vm' | 'initiator';

export interface HelloBody {
  version: number;
  nodeId: UUID;
  role: NodeRole;
  /** 32 fresh random bytes; the other side's HMAC covers them, so a recorded handshake cannot be replayed. */
  nonce: Uint8Array;
  /** Whether the sender holds a cluster key (a mismatch fails early with a clear message). */
  keyed: boolean;
}

/** What a node tells about itself once the other side proved the key (in the dialer's AUTH, in READY). */
export interface AboutBody {
  /** The port the sender listens on (its host is the connection's remote address), if any. */
  listenPort: number | null;
  /** The sender's VMInfo when it is a VM. */
  info: VMInfo | null;
}

/** ROUTE flag: a message the engine made (bounce, exit); it is never bounced itself. */
export const ROUTE_SYSTEM = 1;
/**
 * ROUTE flag, always with {@link ROUTE_SYSTEM}: the body is a child's `river:exit` for its parent.
 * The parent's engine reads the flag (never the body) to know that child has reported its end.
 */
export const ROUTE_EXIT = 2;

export type HelloFrame = [typeof FrameKind.HELLO, HelloBody];
/** The acceptor's AUTH has no `about` (it has not verified the dialer yet); the dialer's has. */
export type AuthFrame = [typeof FrameKind.AUTH, Uint8Array, AboutBody?];
export type ReadyFrame = [typeof FrameKind.READY, AboutBody?];
export type ErrorFrame = [typeof FrameKind.ERROR, string, string];
export type RouteFrame = [typeof FrameKind.ROUTE, UUID, UUID, Uint8Array, number?];
export type PingFrame = [typeof FrameKind.PING, number];
export type PongFrame = [typeof FrameKind.PONG, number];
export type RequestFrame = [typeof FrameKind.REQUEST, number, ControlOp, unknown];
export type ResponseFrame = [typeof FrameKind.RESPONSE, number, true, unknown] | [typeof FrameKind.RESPONSE, number, false, WireError];
export type NoticeFrame = [typeof FrameKind.NOTICE, NoticeOp, unknown];
export type ByeFrame = [typeof FrameKind.BYE, ByeReason];

export type HandshakeFrame = HelloFrame | AuthFrame | ReadyFrame | ErrorFrame;
export type Frame = HandshakeFrame | RouteFrame | PingFrame | PongFrame | RequestFrame | ResponseFrame | NoticeFrame | ByeFrame;

export type ByeReason = 'stopping' | 'duplicate';

/** Engine-to-engine requests; each has its argument and result shape below. */
export type ControlOp = 'deploy' | 'locate' | 'members' | 'gossip' | 'join' | 'terminate';

export interface DeployArgs {
  /** The VR class source (`VRClass.toString()`), or absent when `extension` names it. */
  source?: string;
  /** What the class source uses from its module's imports (see code/import-binding.ts). */
  imports?: ImportBinding[];
  /** Where the class was written, for stack traces on the VM. */
  position?: SourcePosition;
  /** Name of a VR class an extension registered on the target VM (e.g. `trickle:rai`). */
  extension?: string;
  /** The arguments of `main`, SFM-encoded by the deploying VR (engines never decode them). */
  args: Uint8Array;
  parent: UUID;
  lifetime: Lifetime;
  resourceLimits?: ResourceLimits;
}
export interface DeployResult {
  uuid: UUID;
}
/**
 * Ends a VR's worker at once (even in the middle of a loop). Only the VR's parent may ask, and
 * a remote request is honoured only when it comes from the process that hosts that parent.
 */
export interface TerminateArgs {
  uuid: UUID;
  /** The asking VR: it must be `uuid`'s parent. */
  parent: UUID;
  /** Why, for the `river:exit` error the parent receives. */
  reason?: string;
}
export interface LocateArgs {
  uuid: UUID;
}
/**
 * Where a VR is as far as the asked engine knows: here, on another node it knows the address of
 * (`at`), gone (with why), or not known.
 */
export type LocateResult =
  | { state: 'here' }
  | { state: 'at'; nodeId: UUID; host: string; port: number }
  | { state: 'gone'; error: WireError }
  | { state: 'unknown' };
export interface MembersResult {
  members: VMInfo[];
}
export interface JoinArgs {
  info: VMInfo;
}
/**
 * Anti-entropy between two neighbours (see engine/membership.ts): the asker sends the digest of
 * its member list (and may carry members/dead it wants the other to know); the answer is the
 * other's digest, with its whole list only when the digests differ.
 */
export interface GossipArgs {
  digest: string;
  members?: VMInfo[];
  dead?: string[];
}
export interface GossipResult {
  digest: string;
  members?: VMInfo[];
  dead?: string[];
}

export type NoticeOp = 'vr-exit' | 'members' | 'reset';
/** NOTICE vr-exit: these VRs of the sender are gone. */
export interface VRExitNotice {
  uuids: UUID[];
  error: WireError;
}
/**
 * NOTICE reset: the first frame on a connection to a peer the sender had declared lost (it was
 * stalled or cut off longer than the peer timeout): everything of the earlier peering is gone, on
 * both sides. See engine/peer-returns.ts.
 */
export interface ResetNotice {
  /** Why the sender declared this process lost. */
  error: WireError;
}
/** NOTICE members: what changed in the sender's member list — members it learned, members it knows are dead. */
export interface MembersNotice {
  members: VMInfo[];
  dead?: string[];
  /** Members that had been declared dead and are back (they answered again): clear their tombstones. */
  back?: VMInfo[];
}

/** How long a deployed VR lives: until its parent is gone (default), or on its own. */
export type Lifetime = 'parent' | 'detached';

/** Passed through to the VR's `worker_thread` (`new Worker(…, { resourceLimits })`). */
export interface ResourceLimits {
  maxOldGenerationSizeMb?: number;
  maxYoungGenerationSizeMb?: number;
  codeRangeSizeMb?: number;
  stackSizeMb?: number;
}

const isUuid = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 128;
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

function isAbout(v: unknown): v is AboutBody {
  if (!v || typeof v !== 'object') return false;
  const a = v as AboutBody;
  if (a.info != null && !isVMInfo(a.info)) return false;
  return a.listenPort == null || (Number.isInteger(a.listenPort) && a.listenPort > 0 && a.listenPort < 65536);
}

/**
 * Checks the shape of a decoded frame value; throws ProtocolError on anything malformed, so one bad
 * peer costs only its own connection.
 */
export function parseFrame(value: unknown): Frame {
  if (!Array.isArray(value) || typeof value[0] !== 'number') {
    throw new ProtocolError({ message: 'malformed frame: expected an array starting with a frame kind' });
  }
  const bad = (what: string): never => {
    throw new ProtocolError({ message: `malformed ${what} frame` });
  };
  switch (value[0]) {
    case FrameKind.ROUTE:
      if (!isUuid(value[1]) || !isUuid(value[2]) || !isBytes(value[3])) bad('ROUTE');
      if (value[4] !== undefined && !(Number.isInteger(value[4]) && value[4] >= 0 && value[4] <= 0xffffffff)) bad('ROUTE');
      return value as RouteFrame;
    case FrameKind.HELLO: {
      const b = value[1] as HelloBody;
      if (!b || typeof b !== 'object' || typeof b.version !== 'number' || !isUuid(b.nodeId) || !isBytes(b.nonce)) bad('HELLO');
      if (b.role !== 'vm' && b.role !== 'initiator') bad('HELLO');
      if (typeof b.keyed !== 'boolean') bad('HELLO');
      return value as HelloFrame;
    }
    case FrameKind.AUTH:
      if (!isBytes(value[1])) bad('AUTH');
      if (value[2] !== undefined && !isAbout(value[2])) bad('AUTH');
      return value as AuthFrame;
    case FrameKind.READY:
      if (value[1] !== undefined && !isAbout(value[1])) bad('READY');
      return value as ReadyFrame;
    case FrameKind.ERROR:
      return [FrameKind.ERROR, String(value[1]), String(value[2])];
    case FrameKind.PING:
    case FrameKind.PONG:
      return value as PingFrame | PongFrame;
    case FrameKind.REQUEST:
      if (typeof value[1] !== 'number' || typeof value[2] !== 'string') bad('REQUEST');
      return value as RequestFrame;
    case FrameKind.RESPONSE:
      if (typeof value[1] !== 'number' || typeof value[2] !== 'boolean') bad('RESPONSE');
      return value as ResponseFrame;
    case FrameKind.NOTICE:
      if (typeof value[1] !== 'string') bad('NOTICE');
      return value as NoticeFrame;
    case FrameKind.BYE:
      return value as ByeFrame;
    default:
      throw new ProtocolError({ message: `unknown frame kind ${String(value[0])}` });
  }
}

export function frameName(kind: number): string {
  for (const [name, k] of Object.entries(FrameKind)) if (k === kind) return name;
  return `kind ${kind}`;
}

// ---------------------------------------------------------------------------------------------
// VR ⇄ engine port messages. Both directions post arrays of items (one post per tick carries
// every item of that tick), so a burst of sends costs one port message.

/** VR → engine. */
export type ToEngine =
  /** A message: `[0, dest, body, flags?]` (src is the port's VR; flags: {@link ROUTE_SYSTEM}). */
  | [0, UUID, Uint8Array, number?]
  /** A request the engine answers with a `res` item. */
  | [1, number, PortOp, unknown]
  /** Tell me when this VR is gone (for `recv({ src })`). */
  | [2, UUID]
  /** `main` settled (worker VRs); the VR already sent `river:exit` to its parent. */
  | [3]
  /** A worker VR evaluated its class and constructed itself (`null`), or could not (the error). */
  | [4, WireError | null]
  /** On the port only: a run of sends packed into one transferred buffer (see port-batch.ts). */
  | [5, Uint8Array]
  /** Every second, from a VR in a worker: its heap and the metric counts since the last report. */
  | [6, VRUsage];

export const ToEngineKind = { SEND: 0, REQUEST: 1, WATCH: 2, EXIT: 3, STARTED: 4, PACKED: 5, USAGE: 6 } as const;

/** What a worker VR reports about itself (see metrics in docs/architecture.md). */
export interface VRUsage {
  /** The worker's V8 heap in use, bytes. */
  heapUsed: number;
  /** Increments of counters an extension declared: `[metric name, label values, delta]`. */
  counts: Array<[string, string[], number]>;
}

/** Engine → VR. */
export type ToVR =
  /** A message for this VR: `[0, src, body]`. */
  | [0, UUID, Uint8Array]
  /** Reply to a request: `[1, id, ok, value | WireError]`. */
  | [1, number, boolean, unknown]
  /** A VR this one watched is gone. */
  | [2, UUID, WireError]
  /** The engine is stopping: finish up. */
  | [3]
  /** Watch-VMs event: `[4, subscription, 'up' | 'down', VMInfo]`. */
  | [4, number, 'up' | 'down', VMInfo]
  /** On the port only: a run of messages packed into one transferred buffer (see port-batch.ts). */
  | [5, Uint8Array];

export const ToVRKind = { MESSAGE: 0, RESPONSE: 1, GONE: 2, STOP: 3, VM_EVENT: 4, PACKED: 5 } as const;

/** Requests a VR makes of its engine. */
export type PortOp = 'deploy' | 'discover' | 'watch-vms' | 'unwatch-vms' | 'info' | 'terminate';

/** Port request `terminate`: the asking VR is the parent. */
export interface PortTerminateArgs {
  uuid: UUID;
  reason?: string;
}

export interface PortDeployArgs {
  vm: VMInfo;
  source?: string;
  imports?: ImportBinding[];
  position?: SourcePosition;
  extension?: string;
  args: Uint8Array;
  lifetime: Lifetime;
  resourceLimits?: ResourceLimits;
}
