/** Every error code Trickle itself raises, in one table. */
export const ErrorCodes = {
  /** An exception on the VM (user code, or a name/path that does not resolve there). */
  REMOTE: 'TRICKLE_REMOTE',
  NOT_ENOUGH_VMS: 'TRICKLE_NOT_ENOUGH_VMS',
  VM_LOST: 'TRICKLE_VM_LOST',
  /** The VM is stopping (graceful removal) and refused a request it had not started. */
  VM_STOPPING: 'TRICKLE_VM_STOPPING',
  CANCELLED: 'TRICKLE_CANCELLED',
  /** A session reached a resource limit (its worker's heap) and was ended; the VM lives on. */
  RESOURCE_LIMIT: 'TRICKLE_RESOURCE_LIMIT',
  INJECT: 'TRICKLE_INJECT',
  SERIALIZATION: 'TRICKLE_SERIALIZATION',
  /** forkWork/forkGen: no VM left to run on; some chunks were lost. */
  WORK_LOST: 'TRICKLE_WORK_LOST',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];
