/**
 * The pieces of the channel that need no sockets: what the pre-authentication check lets through,
 * how refusals are escaped and rate-limited, and how the PSK is derived.
 */
import { encode } from '@river/sfm';

import { ProtocolError } from '../src';
import { assertHandshakeBytes } from '../src/net/handshake-bytes';
import { RefusalLog, escapeForLog } from '../src/net/refusal-log';
import { derivePsk } from '../src/net/tls-channel';
import { FrameKind } from '../src/protocol';

describe('assertHandshakeBytes', () => {
  test('the handshake frames as the engine writes them pass', () => {
    const hello = [FrameKind.HELLO, { version: 2, nodeId: 'a'.repeat(36), role: 'vm', nonce: Buffer.alloc(32, 1), keyed: true }];
    const auth = [FrameKind.AUTH, Buffer.alloc(32, 2), { listenPort: 4000, info: { id: 'x', name: 'n', host: 'h', port: 1, slots: 2, version: '1' } }];
    for (const f of [hello, auth, [FrameKind.READY, { listenPort: null, info: null }], [FrameKind.ERROR, 'X', 'y'], [FrameKind.PING, -1.5]]) {
      expect(() => assertHandshakeBytes(encode(f))).not.toThrow();
    }
  });

  test.each([
    ['a bignum (tag 2)', Buffer.from([0x82, 0x01, 0xc2, 0x42, 0x01, 0x02])],
    ['a typed array (tag 64)', encode([1, new Uint8Array(4)])],
    ['a Map (tag 259)', encode([1, new Map([[1, 2]])])],
    ['a date (tag 1)', encode([1, new Date(0)])],
    ['an indefinite-length array', Buffer.from([0x9f, 0x01, 0xff])],
    ['nesting 5 deep', Buffer.from([0x81, 0x81, 0x81, 0x81, 0x81, 0x01])],
    ['a count beyond the bytes', Buffer.from([0x9a, 0xff, 0xff, 0xff, 0xff])],
    ['a truncated string', Buffer.from([0x82, 0x01, 0x78, 0x20, 0x61])],
    ['trailing bytes', Buffer.from([0x01, 0x02])],
    ['reserved additional information', Buffer.from([0x1c])],
  ])('refuses %s with ProtocolError', (_what, bytes) => {
    expect(() => assertHandshakeBytes(bytes)).toThrow(ProtocolError);
    expect(() => assertHandshakeBytes(bytes)).toThrow(/malformed handshake frame/);
  });
});

describe('refusal log', () => {
  test('escapes what a peer sent: no newlines, terminal escapes or bidi controls reach a line', () => {
    const forged = 'boom\nriver vm: connection from 10.0.0.1:1 refused: \u001b[31mforged\u001b[0m \u202e';
    const out = escapeForLog(forged, 500);
    expect(out).not.toMatch(/[\n\u001b\u202e]/);
    expect(out).toContain('\\x0a');
    expect(out).toContain('\\x1b[31m');
    expect(out).toContain('\\u202e');
    expect(escapeForLog('x'.repeat(300), 200)).toHaveLength(201);
  });

  test('writes 20 lines a minute plus the first of each kind, then one summary', () => {
    let t = 0;
    const lines: string[] = [];
    const log = new RefusalLog((l) => lines.push(l), () => t);
    for (let i = 0; i < 1000; i++) log.refused(`10.0.0.${i % 7}:1`, 'no handshake within 5000 ms');
    log.refused('10.0.0.9:1', 'authentication failed: the peer does not hold the same cluster key');
    expect(lines).toHaveLength(21);
    expect(lines[20]).toMatch(/authentication failed/);
    t = 61_000;
    log.refused('10.0.0.1:1', 'no handshake within 5000 ms');
    expect(lines[21]).toMatch(/^980 more connections refused in the last minute \(980× no handshake within 5000 ms; from 10\.0\.0\.\d:1/);
    expect(lines[22]).toMatch(/^connection from 10\.0\.0\.1:1 refused: no handshake/);
    log.flush();
  });
});

test('the PSK is 32 bytes, the same for the same key and different for another', () => {
  const a = derivePsk('a-key-of-some-length-1234');
  expect(a).toHaveLength(32);
  expect(derivePsk('a-key-of-some-length-1234').equals(a)).toBe(true);
  expect(derivePsk('a-key-of-some-length-1235').equals(a)).toBe(false);
});
