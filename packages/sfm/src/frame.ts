import { defaultCodec, type Codec } from './codec';
import { FrameError } from './errors/frame-error';

/**
 * A frame is a 4-byte big-endian unsigned payload length followed by that many payload bytes;
 * the payload is one CBOR value (`encodeFrame`), or any bytes (`encodeFrameBytes`).
 */
export const FRAME_HEADER_BYTES = 4;

/** The largest payload a 4-byte length can advertise. */
export const MAX_FRAME_PAYLOAD_BYTES = 0xffff_ffff;

/** One frame holding the CBOR encoding of `value` (with `codec`, the default codec unless given). */
export function encodeFrame(value: unknown, codec: Codec = defaultCodec): Uint8Array<ArrayBuffer> {
  const frame = codec.encodeWithRoom(value, FRAME_HEADER_BYTES);
  writeHeader(frame, frame.byteLength - FRAME_HEADER_BYTES);
  return frame;
}

/** One frame holding `payload` as it is (a copy of it): for bytes encoded earlier, or not CBOR at all. */
export function encodeFrameBytes(payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
  writeHeader(frame, payload.byteLength);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

function writeHeader(frame: Uint8Array, payloadBytes: number): void {
  if (payloadBytes > MAX_FRAME_PAYLOAD_BYTES) {
    throw new FrameError('ERR_FRAME_TOO_LARGE', `a ${payloadBytes}-byte payload does not fit in one frame`);
  }
  new DataView(frame.buffer, frame.byteOffset, FRAME_HEADER_BYTES).setUint32(0, payloadBytes);
}
