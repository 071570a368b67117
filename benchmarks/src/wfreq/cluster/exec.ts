// Running commands (bounded in time) and long-running child processes (killed by pid): the
// implementation is @trickle/devkit's; this keeps the cluster's names.
import { LineProcess } from '@trickle/devkit';

export { run, runOk, safeKill, pidAlive, sleepSync, sleep, type ExecResult, type ExecOptions } from '@trickle/devkit';

/**
 * A long-running child process whose stdout is kept as lines (first 10 000), stderr as text
 * (bounded). The command is exec'd by any wrapper (sh, ip netns exec), so `pid` is the real process.
 */
export class ManagedProcess extends LineProcess {
  constructor(label: string, command: string, args: readonly string[], env?: NodeJS.ProcessEnv, onStderr?: (text: string) => void) {
    super(label, command, args, { env, onStderr, maxLines: 10_000 });
  }
}
