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
  /** fork(vms, f, array): an array argument whose length is not the number of VMs (ambiguous). */
  ARGUMENT_LIST: 'TRICKLE_ARGUMENT_LIST',
  /** The cluster key cannot be used: its file is missing, unreadable, insecure, or the key is invalid. */
  KEY: 'TRICKLE_KEY',
  /** Peers named in `peers` / TRICKLE_PEERS cannot be reached or authenticated. */
  PEER_FAILURE: 'TRICKLE_PEER_FAILURE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];
