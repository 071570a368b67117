/**
 * What discovery could not use, and why. `discover` reports every static peer and every mDNS
 * announcement it tried and failed to reach or authenticate, so a caller can say what went wrong
 * (a wrong port, a wrong key, an impostor) instead of seeing an empty list.
 */
import { AuthError } from '../errors/auth-error';
import { HandshakeError } from '../errors/handshake-error';
import { RiverError } from '../errors/river-error';
import type { VMInfo } from '../vm-info';

/**
 * Why a VM could not be used:
 * - `refused`: nothing listens there (connection refused);
 * - `timeout`: no answer in time (a host that accepts and stays silent, or drops packets);
 * - `closed`: it closed the connection during the handshake;
 * - `wrong-key`: it answered but does not hold this program's cluster key (or one side has none);
 * - `protocol`: it answered with something that is not River's handshake (garbage, another
 *   version, another node than it announced);
 * - `unreachable`: no route to it, or any other network error.
 */
export type DiscoveryFailureReason = 'refused' | 'timeout' | 'closed' | 'wrong-key' | 'protocol' | 'unreachable';

/** One VM (or address) discovery tried and could not use. */
export interface DiscoveryFailure {
  /**
   * Where it came from: a static peer (`peers`, `RIVER_PEERS`; also a DNS name that resolves to
   * nothing, or none of whose addresses answered), one of the addresses a DNS name resolved to when
   * others of them answered (`dns`: `name` is that name; like an mDNS announcement, a name stands
   * for whatever is behind it now), or an mDNS announcement.
   */
  source: 'peer' | 'dns' | 'mdns';
  /** `host:port` that was tried. */
  address: string;
  /** The announced id and name (mDNS announcements carry them; static peers do not). */
  id?: string;
  name?: string;
  reason: DiscoveryFailureReason;
  /** One line: what happened, e.g. `connection refused`, `wrong cluster key: …`. */
  message: string;
}

/** What `discoverReport` returns: the VMs found and usable, and what failed. */
export interface DiscoveryReport {
  vms: VMInfo[];
  failures: DiscoveryFailure[];
}

/** Words for a reason, as in `trickle ls` and error messages. */
export const FAILURE_WORDS: Record<DiscoveryFailureReason, string> = {
  refused: 'connection refused',
  timeout: 'no answer in time',
  closed: 'closed the connection',
  'wrong-key': 'wrong cluster key',
  protocol: 'not a River VM',
  unreachable: 'unreachable',
};

/** Sorts an error from dialling or asking a VM into a reason and a one-line message. */
export function classifyFailure(error: unknown): { reason: DiscoveryFailureReason; message: string } {
  const message = oneLine(error instanceof Error ? error.message : String(error));
  if (AuthError.isInstance(error)) return { reason: 'wrong-key', message: fromOurSide(message) };
  const code = networkCode(error);
  if (code === 'ECONNREFUSED') return { reason: 'refused', message: 'connection refused' };
  if (code === 'ETIMEDOUT') return { reason: 'timeout', message };
  if (code === 'ECONNRESET' || code === 'EPIPE') return { reason: 'closed', message };
  if (code !== undefined) return { reason: 'unreachable', message };
  if (HandshakeError.isInstance(error)) {
    return { reason: /no handshake within/.test(message) ? 'timeout' : 'protocol', message };
  }
  if (RiverError.isInstance(error) && error.code === 'RIVER_REQUEST_TIMEOUT') return { reason: 'timeout', message };
  if (/timed out|no answer within|no handshake within/.test(message)) return { reason: 'timeout', message };
  if (/closed by the peer|closed during the handshake/.test(message)) return { reason: 'closed', message };
  if (RiverError.isInstance(error) && (error.code === 'RIVER_PROTOCOL_ERROR' || error.code === 'RIVER_MESSAGE_TOO_LARGE')) return { reason: 'protocol', message };
  return { reason: 'unreachable', message };
}

/** `vm-a (10.0.0.2:7000): wrong cluster key: …` */
export function describeFailure(failure: DiscoveryFailure): string {
  const who = failure.name ? `${failure.name} (${failure.address})` : failure.address;
  return `${who}: ${failureReason(failure)}`;
}

/** `wrong cluster key: …` — why, without who. */
export function failureReason(failure: Pick<DiscoveryFailure, 'reason' | 'message'>): string {
  const words = FAILURE_WORDS[failure.reason];
  return failure.message && failure.message !== words ? `${words}: ${failure.message}` : words;
}

/**
 * A refusal relayed from the other side speaks of "peer" meaning us; say it from our side, where
 * the reader is: `it requires a cluster key, this node has none`.
 */
function fromOurSide(message: string): string {
  if (/refused authentication: peer has no cluster key/.test(message)) return 'it requires a cluster key and this node has none (set a key file or key on both sides)';
  if (/refused authentication: peer requires a cluster key/.test(message)) return 'it has no cluster key and this node has one (set a key file or key on both sides)';
  return message;
}

/** The `code` of a system error somewhere in the cause chain (ECONNREFUSED, …). */
function networkCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  return undefined;
}

/** Peers' text goes into logs and messages: one line, printable, bounded. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return clean.length > 300 ? `${clean.slice(0, 300)}…` : clean;
}
