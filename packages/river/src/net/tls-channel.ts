/**
 * The encrypted, authenticated channel of a keyed connection: TLS 1.3 with an external
 * pre-shared key (RFC 8446 §2.2, OpenSSL through node:tls) derived from the cluster key. Every
 * byte after TCP connect is a TLS record, so a frame injected, replayed, reordered or relayed by a
 * host without the key fails TLS's record authentication and the connection closes. TLS also
 * runs the ECDHE exchange (psk_dhe_ke), so a later leak of the key does not decrypt recorded
 * traffic. River's own HELLO/AUTH handshake then runs inside the channel and binds both node ids
 * to it (see `channelBinding`).
 *
 * No cryptography is ours here: the key schedule, record protection and replay protection are
 * TLS's. We only derive the PSK with HKDF and pick the parameters.
 */
import { hkdfSync } from 'node:crypto';
import { connect as tlsConnect, TLSSocket, type ConnectionOptions as TlsConnectionOptions, type TLSSocketOptions } from 'node:tls';
import type { Socket } from 'node:net';

import { AuthError } from '../errors/auth-error';
import { HandshakeError } from '../errors/handshake-error';
import type { RiverError } from '../errors/river-error';
import { PROTOCOL_VERSION } from '../protocol';

/** The PSK identity both sides use (the key is the cluster's; the identity only names the scheme). */
export const PSK_IDENTITY = `river/${PROTOCOL_VERSION}`;
/** First byte of every TLS record of type handshake: a keyed dialer's first byte. */
export const TLS_HANDSHAKE_RECORD = 0x16;
/** Label of the TLS exporter (RFC 8446 §7.5) that binds River's handshake to the channel. */
const EXPORTER_LABEL = `EXPORTER-river/${PROTOCOL_VERSION} channel binding`;

const TLS_PARAMETERS = {
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  // External PSKs in OpenSSL's TLS 1.3 are tied to a SHA-256 suite.
  ciphers: 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256',
} as const;

const pskCache = new Map<string, Buffer>();

/** The 32-byte PSK for a cluster key: HKDF-SHA256 of its UTF-8 bytes, with a fixed salt and label. */
export function derivePsk(key: string): Buffer {
  let psk = pskCache.get(key);
  if (!psk) {
    psk = Buffer.from(hkdfSync('sha256', Buffer.from(key, 'utf8'), 'river/tls-psk', `river/${PROTOCOL_VERSION} psk`, 32));
    pskCache.clear(); // one key per process in practice; never grow
    pskCache.set(key, psk);
  }
  return psk;
}

/** Wraps an accepted TCP socket in the server side of the channel. */
export function secureAcceptor(socket: Socket, key: string): TLSSocket {
  const psk = derivePsk(key);
  // TLSSocket takes every secure-context option, pskCallback included (node's typings omit it).
  const options: TLSSocketOptions & { pskCallback: (socket: TLSSocket, identity: string) => Buffer } = {
    isServer: true,
    ...TLS_PARAMETERS,
    // Any identity is answered with our PSK: a wrong key fails the binder check either way.
    pskCallback: () => psk,
  };
  return new TLSSocket(socket, options);
}

/** Wraps a connected TCP socket in the client side of the channel. */
export function secureDialer(socket: Socket, key: string): TLSSocket {
  const psk = derivePsk(key);
  const options: TlsConnectionOptions = {
    socket,
    ...TLS_PARAMETERS,
    pskCallback: () => ({ psk, identity: PSK_IDENTITY }),
    // PSK authenticates the peer; there is no certificate to check.
    checkServerIdentity: () => undefined,
  };
  return tlsConnect(options);
}

/**
 * Keying material exported from the channel (RFC 8446 §7.5): the same 32 bytes on both ends of
 * one TLS connection, different on any other. River's MACs cover it.
 */
export function channelBinding(socket: TLSSocket): Uint8Array {
  return socket.exportKeyingMaterial(32, EXPORTER_LABEL, Buffer.alloc(0));
}

/**
 * Explains a TLS failure in River's terms. Before the channel is up: the peer does not hold the
 * key, has none, or is not a River node. After: a record failed authentication (injected,
 * replayed, reordered or corrupted bytes).
 */
export function explainTlsError(error: Error & { code?: string }, secured: boolean): RiverError | undefined {
  // OpenSSL's failures arrive as ERR_SSL_* errors, or (found while writing) as EPROTO with
  // OpenSSL's reason in the message.
  const fromMessage = /SSL routines:[^:]*:([^:]+)/.exec(error.message)?.[1];
  const code = error.code?.startsWith('ERR_SSL_')
    ? error.code
    : fromMessage
      ? `ERR_SSL_${fromMessage.toUpperCase().replace(/ /g, '_')}`
      : error.code === 'EPROTO'
        ? 'ERR_SSL_PROTOCOL_ERROR'
        : '';
  if (!code) return undefined;
  if (secured) {
    return new HandshakeError({
      message: `the encrypted channel failed (${tlsReason(code)}): bytes that are not the peer's own records (injected, replayed, reordered or corrupted) — connection closed`,
      cause: error,
    });
  }
  if (code === 'ERR_SSL_BINDER_DOES_NOT_VERIFY' || /ALERT_(ILLEGAL_PARAMETER|DECRYPT_ERROR|BAD_RECORD_MAC|HANDSHAKE_FAILURE)/.test(code)) {
    return new AuthError({ message: 'authentication failed: the peer does not hold the same cluster key', cause: error });
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'ERR_SSL_RECORD_LAYER_FAILURE') {
    return new AuthError({
      message: 'the peer did not answer with the encrypted channel: it has no cluster key (or is not a River node), this node requires one',
      cause: error,
    });
  }
  return new AuthError({ message: `the encrypted channel could not be set up (${tlsReason(code)})`, cause: error });
}

function tlsReason(code: string): string {
  return code.replace(/^ERR_SSL_/, '').toLowerCase().replace(/_/g, ' ');
}
