export { ErrorCodes, type ErrorCode } from './codes';
export { TrickleError } from './trickle-error';
export { RemoteError, type RemoteErrorOptions } from './remote-error';
export { NotEnoughVMsError } from './not-enough-vms-error';
export { VMLostError } from './vm-lost-error';
export { CancelledError } from './cancelled-error';
export { InjectError } from './inject-error';
export { SerializationError } from './serialization-error';
export { WorkLostError } from './work-lost-error';
