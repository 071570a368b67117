// What bench:scale uses of the wfreq simulated cluster (namespaces on a bridge, CPU shares).
export { createCluster, installSignalHandlers, type Cluster, type RunningVm } from '../wfreq/cluster';
import { safeKill } from '../wfreq/cluster/exec';

export function safeKillPid(pid: number | undefined): void {
  safeKill(pid, 'SIGKILL');
}
