// Plumbing shared by the benchmarks' simulated cluster and the packages' namespace tests:
// bounded commands, line-buffered child processes, network namespaces of our own.
export { run, runOk, safeKill, pidAlive, sleep, sleepSync, type ExecOptions, type ExecResult } from './exec';
export { LineProcess, type ExitStatus, type LineProcessOptions } from './line-process';
export {
  netnsSupport,
  execIn,
  listNamespaces,
  pidsIn,
  addNamespace,
  deleteNamespace,
  deleteNamespaceSync,
  sweepStaleNamespaces,
  type DeleteOptions,
  type NetnsSupport,
} from './netns';
