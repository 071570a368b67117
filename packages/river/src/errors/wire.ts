import { AuthError } from './auth-error';
import { ConfigError } from './config-error';
import { DeployError } from './deploy-error';
import { DiscoveryError } from './discovery-error';
import { HandshakeError } from './handshake-error';
import { ImportError } from './import-error';
import { MessageTooLargeError } from './message-too-large-error';
import { NotParentError } from './not-parent-error';
import { PeerLostError } from './peer-lost-error';
import { ProtocolError } from './protocol-error';
import { RequestTimeoutError } from './timeout-error';
import { ReservedAttributeError } from './reserved-attribute-error';
import { ResourceLimitError } from './resource-limit-error';
import { RiverError, type RiverErrorOptions } from './river-error';
import { StoppedError } from './stopped-error';
import { UnknownVRError } from './unknown-vr-error';
import { VRExitedError } from './vr-exited-error';
import { VRLostError } from './vr-lost-error';

/**
 * An error as it crosses a MessagePort or a connection: plain data. Structured clone and CBOR
 * both drop an error's class and its `code`; this keeps them, so the receiving side rebuilds the
 * same River error class (and `X.isInstance` holds there too).
 */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: WireError;
}

type RiverErrorClass = new (options: RiverErrorOptions) => RiverError;

/** The one table from wire `code` to class. */
const byCode = new Map<string, RiverErrorClass>(
  (
    [
      AuthError,
      ConfigError,
      DeployError,
      DiscoveryError,
      HandshakeError,
      ImportError,
      MessageTooLargeError,
      NotParentError,
      PeerLostError,
      ProtocolError,
      RequestTimeoutError,
      ReservedAttributeError,
      ResourceLimitError,
      StoppedError,
      UnknownVRError,
      VRExitedError,
      VRLostError,
    ] as Array<RiverErrorClass & { code: string }>
  ).map((cls) => [cls.code, cls]),
);

export function toWireError(error: unknown, depth = 0): WireError {
  if (error instanceof Error || (error && typeof error === 'object' && 'message' in error)) {
    const e = error as Error & { code?: unknown };
    const wire: WireError = { name: String(e.name ?? 'Error'), message: String(e.message ?? '') };
    if (typeof e.code === 'string') wire.code = e.code;
    if (typeof e.stack === 'string') wire.stack = e.stack;
    if (e.cause !== undefined && depth < 4) wire.cause = toWireError(e.cause, depth + 1);
    return wire;
  }
  return { name: 'Error', message: String(error) };
}

/**
 * `value` as a well-formed WireError, without stacks: what an engine keeps when it remembers an
 * error, and how an error from another process is checked (anything malformed becomes a plain
 * `Error` saying so, never an exception).
 */
export function compactWireError(value: unknown, depth = 0): WireError {
  if (value === null || typeof value !== 'object') return { name: 'Error', message: `malformed error: ${String(value).slice(0, 200)}` };
  const v = value as Record<string, unknown>;
  const out: WireError = {
    name: typeof v.name === 'string' ? v.name.slice(0, 200) : 'Error',
    message: typeof v.message === 'string' ? v.message : String(v.message ?? ''),
  };
  if (typeof v.code === 'string') out.code = v.code;
  if (v.cause !== undefined && v.cause !== null && depth < 4) out.cause = compactWireError(v.cause, depth + 1);
  return out;
}

/** Rebuilds an error: River codes get their own class back; anything else an `Error` with the same name. */
export function fromWireError(wire: WireError, depth = 0): Error {
  if (wire === null || typeof wire !== 'object' || typeof wire.message !== 'string' || typeof wire.name !== 'string') {
    return fromWireError(compactWireError(wire), depth);
  }
  const cause = wire.cause && depth < 8 ? fromWireError(wire.cause, depth + 1) : undefined;
  const cls = wire.code ? byCode.get(wire.code) : undefined;
  let error: Error;
  if (cls) {
    error = new cls({ message: wire.message, cause });
  } else {
    error = new Error(wire.message, cause === undefined ? undefined : { cause });
    error.name = wire.name;
    if (wire.code !== undefined) (error as Error & { code?: string }).code = wire.code;
  }
  if (typeof wire.stack === 'string') error.stack = wire.stack;
  return error;
}

/**
 * An error that arrived inside a decoded message body (CBOR keeps name, message, stack, cause but
 * may drop the class): gives River errors their class back, leaves anything else as it is.
 */
export function reviveError(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const code = (value as Error & { code?: unknown }).code;
  const name = value.name;
  const cls =
    (typeof code === 'string' ? byCode.get(code) : undefined) ??
    [...byCode.values()].find((c) => c.name === name);
  if (!cls || RiverError.isInstance(value)) return value;
  const revived = new cls({ message: value.message, cause: value.cause });
  if (value.stack) revived.stack = value.stack;
  // Extra own properties the error carried (e.g. ResourceLimitError's `limits`).
  const from = value as unknown as Record<string, unknown>;
  const to = revived as unknown as Record<string, unknown>;
  for (const key of Object.keys(value)) if (to[key] === undefined && from[key] !== undefined) to[key] = from[key];
  return revived;
}
