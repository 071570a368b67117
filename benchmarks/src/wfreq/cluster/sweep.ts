// Removes what crashed benchmark runs left behind: namespaces and cgroups named `wfq-<pid>-…`
// whose process is gone (and anything still running inside them, which only such a run started).
//
//   node dist/wfreq/cluster/sweep.js
import { detectCpuController, sweepStaleGroups } from './cgroups';
import { PREFIX } from './cluster';
import { netnsSupport, sweepStaleNamespaces } from './netns';

async function main(): Promise<void> {
  const removed: string[] = [];
  if (netnsSupport(PREFIX).ok) removed.push(...(await sweepStaleNamespaces(PREFIX)));
  const cg = detectCpuController();
  if (cg.ok) removed.push(...sweepStaleGroups(cg.controller, PREFIX).map((g) => `cgroup ${g}`));
  console.log(removed.length ? `removed: ${removed.join(', ')}` : 'nothing stale');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
