import * as sfm from '../src';

// The public API is a contract (SPEC.md, @river/sfm): this list changes only on purpose.
test('index exports exactly the documented runtime names', () => {
  expect(Object.keys(sfm).sort()).toEqual(
    [
      'ANY',
      'CodecError',
      'Codec',
      'DEFAULT_MAX_FRAME_BYTES',
      'FRAME_HEADER_BYTES',
      'FrameDecoder',
      'FrameError',
      'MAX_FRAME_PAYLOAD_BYTES',
      'Mailbox',
      'MailboxClosedError',
      'PROJECT_TAG_RANGE',
      'RawFrameDecoder',
      'SFM_TAGS',
      'SfmError',
      'TimeoutError',
      'decode',
      'defaultCodec',
      'defineExtension',
      'encode',
      'encodeFrame',
      'encodeFrameBytes',
      'isReservedTag',
      'matches',
    ].sort(),
  );
});
