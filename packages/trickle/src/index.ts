// @trickle/core — the public API.
//
// `connect()` discovers River VMs and opens a session on each; `connectWorkers(n)` runs sessions
// in local worker threads (tests, development), and any transport plugs in through
// `createVM(link)`.

export { inject } from './inject';
export { fork, forkAll, forkEach, join, joinAny, ForkHandle } from './fork-join';
export type { Callee } from './fork-join';
export { forkGen, forkWork } from './scheduling/fork-gen';
export type { ForkWorkOptions, ChunkedForkWorkOptions, ItemForkWorkOptions, QueueForkWorkOptions, ReduceOptions, Progress, LiveVMs } from './scheduling/fork-gen';
export type { Reducer } from './scheduling/reduction';
export { ChunkQueue } from './scheduling/work-queue';
export type { Chunk, WorkQueue } from './scheduling/work-queue';
export { DynamicBalancer, schedulingDefaults } from './scheduling/balancer';
export type { Balancer, WorkerSlot } from './scheduling/balancer';

export { connect } from './connect';
export type { ConnectOptions, WatchOptions } from './connect';
export type { LiveControls, LiveVMList } from './scheduling/live-vms';
export { disconnectVMs as disconnect } from './connect';
export { createVM, release, vmInfo, isVM, sessionStats, vmList } from './vm';
export { withOptions } from './call-options';
export type { CallOptions } from './call-options';
export type { VMList } from './vm';
export { WorkerLink, connectWorkers } from './worker-link';
export type { WorkerLinkOptions } from './worker-link';
export type { SessionLink, LinkListener, VMRef } from './session-link';
export type { SessionStats } from './protocol';

export type {
  VM,
  UntypedVM,
  TypedVM,
  VMGlobals,
  Remote,
  RemoteObject,
  RemoteFunction,
  RemoteConstructor,
  RemoteSlot,
  Returned,
  Injectable,
  WithInjected,
} from './types';

export {
  TrickleError,
  RemoteError,
  NotEnoughVMsError,
  VMLostError,
  VMStoppingError,
  CancelledError,
  ResourceLimitError,
  InjectError,
  SerializationError,
  WorkLostError,
  ArgumentListError,
  KeyError,
  PeerFailureError,
  ErrorCodes,
} from './errors';
export type { ErrorCode } from './errors';
export type { DiscoveryFailure, DiscoveryFailureReason } from '@river/engine';
