import type { ErrorInfo, FailureCode } from '../protocol';
import type { VMRef } from '../session-link';
import { ErrorCodes } from './codes';
import { TrickleError, hasMarker, mark, vmLabel } from './trickle-error';

const MARKER = Symbol.for('@trickle/core.RemoteError');

/** Properties of RemoteError that a remote error's own property of the same name must not replace. */
const RESERVED = new Set([
  'name', 'message', 'stack', 'cause', 'vm', 'remoteName', 'remoteMessage', 'remoteStack', 'failure',
  'variable', 'props', 'localStack',
]);

export interface RemoteErrorOptions {
  vm: VMRef;
  /** What was being accessed on the VM: `foo()`, `names`, `new Stack()`, `Stack#3.push()`. */
  remoteName?: string;
  /** An Error created where the request was made; its stack becomes the local half of `stack`. */
  site?: Error;
}

/**
 * An exception raised on a VM, rethrown on the initiator.
 *
 * - `name` is the remote error's name: a remote `TypeError` has `err.name === 'TypeError'`.
 * - `message` is the remote message plus where it happened (VM and remote name);
 *   `remoteMessage` is the remote message alone.
 * - `remoteStack` is the stack on the VM; `stack` is the caller's local stack followed by the
 *   remote one, so neither is lost.
 * - The remote error's own properties (`code`, custom fields) are copied onto this error and
 *   kept in `props`; `code` is `'TRICKLE_REMOTE'` when the remote error has none.
 * - `cause` is the remote cause (a RemoteError when it was an error).
 * - `failure` is set when Trickle itself failed the request on the VM (`'NOT_DEFINED'`,
 *   `'NOT_CALLABLE'`, `'FREE_VARIABLE'`…), absent when user code threw.
 */
export class RemoteError extends TrickleError {
  declare readonly vm: VMRef;
  declare readonly remoteName?: string;
  readonly remoteMessage: string;
  declare readonly remoteStack?: string;
  declare readonly failure?: FailureCode;
  /** For `failure === 'FREE_VARIABLE'`: the variable the injected code needs. */
  declare readonly variable?: string;
  readonly props: Readonly<Record<string, unknown>>;

  constructor(info: ErrorInfo, options: RemoteErrorOptions) {
    const props = info.props ?? {};
    // A failure during something other than the request itself (a forkWork reducer) names that.
    const remoteName = info.during ?? options.remoteName;
    const where = remoteName ? `, in ${remoteName}` : '';
    super(`${info.message} [${info.name} on ${vmLabel(options.vm)}${where}]`, {
      code: typeof props.code === 'string' ? props.code : ErrorCodes.REMOTE,
      cause: info.cause === undefined ? undefined : causeOf(info.cause, options.vm),
      vm: options.vm,
    });
    mark(this, MARKER);
    Object.defineProperty(this, 'name', { value: info.name, writable: true, configurable: true, enumerable: false });
    this.remoteMessage = info.message;
    const self = this as { -readonly [K in keyof RemoteError]: RemoteError[K] };
    if (remoteName !== undefined) self.remoteName = remoteName;
    if (info.stack !== undefined) self.remoteStack = info.stack;
    if (info.failure !== undefined) self.failure = info.failure;
    if (info.variable !== undefined) self.variable = info.variable;
    this.props = props;
    for (const [key, value] of Object.entries(props)) {
      if (!RESERVED.has(key) && key !== 'code') (this as unknown as Record<string, unknown>)[key] = value;
    }
    this.stack = composeStack(this, options.site, info.stack);
  }

  static override isInstance(error: unknown): error is RemoteError {
    return hasMarker(error, MARKER);
  }
}

function causeOf(cause: NonNullable<ErrorInfo['cause']>, vm: VMRef): unknown {
  return 'value' in cause && !('message' in cause) ? cause.value : new RemoteError(cause as ErrorInfo, { vm });
}

function composeStack(error: RemoteError, site: Error | undefined, remoteStack: string | undefined): string {
  const head = `${error.name}: ${error.message}`;
  const local = site?.stack ? framesOf(site.stack) : '';
  const remote = remoteStack ? framesOf(remoteStack) : '';
  let stack = head;
  if (local) stack += `\n${local}`;
  if (remote) stack += `\n    --- remote stack on ${vmLabel(error.vm)} ---\n${remote}`;
  return stack;
}

/** The "    at …" lines of a V8 stack (everything after the message, which may span lines). */
function framesOf(stack: string): string {
  const lines = stack.split('\n');
  const first = lines.findIndex((line) => /^\s+at /.test(line));
  return first < 0 ? '' : lines.slice(first).join('\n');
}
