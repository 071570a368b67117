// @river/sfm — the public API. Everything a user or a higher layer may rely on is exported here.

export type { Guarded, Message, MessageType } from './message';
export { ANY, matches } from './pattern';
export type { Any, Pattern, PatternEntry, MessageGuard, Selector } from './pattern';
export { Mailbox } from './mailbox';
export type { RecvOptions } from './mailbox';

export { Codec, defaultCodec, encode, decode } from './codec';
export type { CodecOptions } from './codec';
export { defineExtension } from './codec-extension';
export type { CodecExtension } from './codec-extension';
export { SFM_TAGS, PROJECT_TAG_RANGE, isReservedTag } from './extensions';

export { encodeFrame, encodeFrameBytes, FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD_BYTES } from './frame';
export { FrameDecoder, RawFrameDecoder } from './frame-decoder';
export type { FrameDecoderOptions, RawFrameDecoderOptions } from './frame-decoder';
export { DEFAULT_MAX_FRAME_BYTES } from './frame-splitter';

export { SfmError } from './errors/sfm-error';
export { TimeoutError } from './errors/timeout-error';
export { FrameError } from './errors/frame-error';
export type { FrameErrorCode } from './errors/frame-error';
export { CodecError } from './errors/codec-error';
export type { CodecErrorCode } from './errors/codec-error';
export { MailboxClosedError } from './errors/mailbox-closed-error';
