import { CodecError, FrameError, MailboxClosedError, SfmError, TimeoutError } from '../src';

describe('error classes', () => {
  test('code, name, message and cause', () => {
    const cause = new Error('underlying');
    const error = new FrameError('ERR_FRAME_DECODE', 'bad frame', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(SfmError);
    expect(error.code).toBe('ERR_FRAME_DECODE');
    expect(error.name).toBe('FrameError');
    expect(error.message).toBe('bad frame');
    expect(error.cause).toBe(cause);
    expect(String(error)).toBe('FrameError: bad frame');
    expect(new TimeoutError(50)).toMatchObject({ code: 'ERR_TIMEOUT', timeoutMs: 50, name: 'TimeoutError' });
    expect(new CodecError('ERR_CODEC_ENCODE', 'x').name).toBe('CodecError');
    expect(new MailboxClosedError().code).toBe('ERR_MAILBOX_CLOSED');
  });

  test('isInstance tells the classes apart', () => {
    const timeout = new TimeoutError(1);
    expect(TimeoutError.isInstance(timeout)).toBe(true);
    expect(SfmError.isInstance(timeout)).toBe(true);
    expect(FrameError.isInstance(timeout)).toBe(false);
    expect(TimeoutError.isInstance(new Error('x'))).toBe(false);
    expect(TimeoutError.isInstance({ code: 'ERR_TIMEOUT' })).toBe(false);
    expect(TimeoutError.isInstance(null)).toBe(false);
    expect(TimeoutError.isInstance('ERR_TIMEOUT')).toBe(false);
  });

  test('isInstance works across two copies of the package; instanceof does not', () => {
    let copy: typeof import('../src') | undefined;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      copy = require('../src') as typeof import('../src');
    });
    const other = new (copy as typeof import('../src')).TimeoutError(5);
    expect(copy?.TimeoutError).not.toBe(TimeoutError);
    expect(other).not.toBeInstanceOf(TimeoutError);
    expect(TimeoutError.isInstance(other)).toBe(true);
    expect(SfmError.isInstance(other)).toBe(true);
    expect(FrameError.isInstance(other)).toBe(false);
  });

  test('own enumerable properties are only the data (code and fields), not the marker', () => {
    expect(Object.keys(new TimeoutError(5)).sort()).toEqual(['code', 'timeoutMs']);
    expect(Object.keys(new FrameError('ERR_FRAME_TRUNCATED', 'x'))).toEqual(['code']);
  });
});
