// The initiator of one timed Trickle run, as a process of its own on the initiator's machine:
//
//   node dist/wfreq/initiator.js JOB.json
//
// Times `runVariant` (from before it connects to after the final merge), then summarises the
// counts (outside the timed part) and prints the result line (see job.ts).
import { jobMain, readJson, type TrickleJob } from './job';
import { summarize } from './reference';
import { runVariant } from './variants';

if (require.main === module) {
  jobMain(async () => {
    const jobFile = process.argv[2];
    if (!jobFile) throw new Error('usage: initiator.js JOB.json');
    const job = readJson<TrickleJob>(jobFile);
    if (job.kind !== 'trickle') throw new Error(`not a Trickle job: ${String(job.kind)}`);
    const files = readJson<string[]>(job.filesList);
    const started = performance.now();
    const counts = await runVariant({ variant: job.variant, vms: job.vms, files, chunksize: job.chunksize, cluster: job.cluster });
    const seconds = (performance.now() - started) / 1000;
    if (!(counts instanceof Map)) throw new TypeError(`runVariant must return a Map, got ${Object.prototype.toString.call(counts)}`);
    return { seconds, summary: summarize(counts) };
  });
}
