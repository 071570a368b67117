/**
 * Trickle's entries in the SFM codec's extension registry. Tags 1260–1299 are Trickle's block
 * (see @river/sfm `extensions.ts` and docs/protocol.md).
 *
 * The same three marker classes are written by both ends; what a marker *decodes to* depends on
 * the side: the initiator turns a RemoteRef into a proxy, the session turns a TargetRef into the
 * object it names and a CodeRef into a function. Each side therefore builds its own codec with
 * its own decode hooks — no walk over decoded values is needed.
 */
import { Codec, defineExtension } from '@river/sfm';
import type { CodeDescription, Path } from '../protocol';
import { CodeRef, RemoteRef, TargetRef } from './markers';

export const TRICKLE_TAGS = {
  /** RemoteRef: `[id, type]`. */
  remoteRef: 1260,
  /** TargetRef: `[ref | null, path]`. */
  targetRef: 1261,
  /** CodeRef: a CodeDescription. */
  codeRef: 1262,
} as const;

export interface WireHooks {
  remoteRef(id: number, type: string): unknown;
  targetRef(ref: number | undefined, path: Path): unknown;
  codeRef(code: CodeDescription): unknown;
}

export interface WireCodec {
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

export function createWireCodec(hooks: WireHooks): WireCodec {
  return new Codec({
    extensions: [
      defineExtension({
        tag: TRICKLE_TAGS.remoteRef,
        type: RemoteRef,
        encode: (ref) => [ref.id, ref.type],
        decode: (data) => {
          if (!Array.isArray(data) || typeof data[0] !== 'number' || typeof data[1] !== 'string') throw new TypeError('malformed remote reference');
          return hooks.remoteRef(data[0], data[1]);
        },
      }),
      defineExtension({
        tag: TRICKLE_TAGS.targetRef,
        type: TargetRef,
        encode: (target) => [target.ref ?? null, target.path],
        decode: (data) => {
          if (!Array.isArray(data) || !(data[0] === null || typeof data[0] === 'number') || !Array.isArray(data[1])) {
            throw new TypeError('malformed target reference');
          }
          return hooks.targetRef(data[0] ?? undefined, data[1] as Path);
        },
      }),
      defineExtension({
        tag: TRICKLE_TAGS.codeRef,
        type: CodeRef,
        encode: (code) => code.code,
        decode: (data) => {
          if (typeof data !== 'object' || data === null || typeof (data as CodeDescription).source !== 'string') {
            throw new TypeError('malformed code reference');
          }
          return hooks.codeRef(data as CodeDescription);
        },
      }),
    ],
  });
}
