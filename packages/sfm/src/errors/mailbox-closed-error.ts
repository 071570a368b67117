import { SfmError, hasMarker, markPrototype } from './sfm-error';

const marker = Symbol.for('@river/sfm/MailboxClosedError');

/** The default reason of `Mailbox.close()`: the mailbox takes no more receivers. */
export class MailboxClosedError extends SfmError {
  readonly code = 'ERR_MAILBOX_CLOSED';

  constructor(message = 'mailbox closed', options?: { cause?: unknown }) {
    super(message, options);
  }

  static override isInstance(error: unknown): error is MailboxClosedError {
    return hasMarker(error, marker);
  }

  static {
    markPrototype(this, marker, 'MailboxClosedError');
  }
}
