/**
 * A health probe: dial one VM, authenticate (the cluster key), ask for its member list, hang up.
 * What `river ping` / `trickle ping` run for container health checks and readiness probes. It
 * starts no engine and listens on nothing.
 */
import { randomUUID } from 'node:crypto';

import { AuthError } from '../errors/auth-error';
import { HandshakeError } from '../errors/handshake-error';
import { PingError, type PingFailure } from '../errors/ping-error';
import { RiverError } from '../errors/river-error';
import type { MembersResult } from '../protocol';
import { isVMInfo, type VMInfo } from '../vm-info';
import { PeerTable, addressKey, type PeerAddress } from './peers';

export interface PingOptions {
  /** The cluster key (none: the VM must have none either). */
  key?: string;
  /** The whole probe's deadline (default 5000 ms). */
  timeoutMs?: number;
}

export interface PingResult {
  /** The VM that answered. */
  info: VMInfo;
  /** Members the VM knows, itself included. */
  members: number;
  /** From dialling to the answer, milliseconds. */
  ms: number;
}

export async function pingVM(address: PeerAddress, options: PingOptions = {}): Promise<PingResult> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const started = Date.now();
  const where = addressKey(address);
  const peers = new PeerTable(
    {
      nodeId: randomUUID(),
      role: 'initiator',
      key: options.key === '' ? undefined : options.key,
      maxFrameBytes: 64 * 1024 * 1024,
      pingIntervalMs: 1000,
      peerTimeoutMs: timeoutMs,
      handshakeTimeoutMs: timeoutMs,
      hello: () => ({ listenPort: null, info: null }),
      // One attempt: a probe reports what it finds, it does not wait for the VM to come up.
      reconnect: { backoffMs: [], connectTimeoutMs: timeoutMs },
    },
    {
      frame: () => undefined,
      request: () => Promise.reject(new RiverError('RIVER_UNKNOWN_OP', { message: 'a ping answers no requests' })),
      connected: () => undefined,
      lost: () => undefined,
      log: () => undefined,
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PingError({ reason: 'timeout', message: `${where}: timeout (no answer within ${timeoutMs} ms)` })), timeoutMs);
  });
  try {
    const probe = (async () => {
      const peer = await peers.dialAddress(address);
      const result = await peers.request<MembersResult>(peer.nodeId, 'members', undefined, timeoutMs);
      const members = Array.isArray(result?.members) ? result.members.filter(isVMInfo) : [];
      const info = peer.info ?? members.find((m) => m.id === peer.nodeId);
      if (!info || peer.role !== 'vm') throw new PingError({ reason: 'protocol', message: `${where}: answered, but not as a VM` });
      return { info, members: members.length, ms: Date.now() - started };
    })();
    return await Promise.race([probe.catch((error: unknown) => Promise.reject(pingFailure(where, error))), deadline]);
  } finally {
    clearTimeout(timer);
    peers.stop();
  }
}

function pingFailure(where: string, error: unknown): PingError {
  if (PingError.isInstance(error)) return error;
  const e = error as Error & { code?: string; cause?: { code?: string } };
  const sys = e?.cause?.code ?? e?.code;
  const detail = e?.message ?? String(error);
  let reason: PingFailure;
  if (AuthError.isInstance(error)) reason = 'wrong key';
  else if (HandshakeError.isInstance(error) && /key/i.test(detail)) reason = 'wrong key';
  else if (sys === 'ECONNREFUSED') reason = 'refused';
  else if (sys === 'ETIMEDOUT' || /timed out|timeout/i.test(detail)) reason = 'timeout';
  else if (HandshakeError.isInstance(error)) reason = 'protocol';
  else reason = 'unreachable';
  return new PingError({ reason, message: `${where}: ${reason} (${detail})`, cause: error });
}
