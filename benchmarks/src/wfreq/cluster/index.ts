// The simulated cluster: network namespaces on a private bridge, equal CPU quotas per machine.
export {
  Cluster,
  createCluster,
  clusterSupport,
  PREFIX,
  SUBNET,
  LINK,
  DEFAULT_SHARE,
  DEFAULT_BASE_PORT,
  type ClusterKind,
  type ClusterOptions,
  type ClusterDescription,
  type Machine,
  type RunOptions,
  type RunningVm,
  type VmCommand,
  type VmSlot,
} from './cluster';
export { detectCpuController, CPU_PERIOD_US, type CpuController, type CpuStat } from './cgroups';
export { netnsSupport, listNamespaces, sweepStaleNamespaces } from './netns';
export { installSignalHandlers, isShuttingDown, registerCleanup, teardownAll } from './cleanup';
export { ManagedProcess, run, runOk, type ExecResult } from './exec';
