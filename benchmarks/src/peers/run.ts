// One timed program of bench:peers, as a process of its own:
//
//   node dist/peers/run.js JOB.json
//
// Times the program (from before it starts its pool or VMs to the final merged counts), then
// summarises the counts (outside the timed part) and prints the result line (wfreq/job.ts).
import { jobMain, readJson } from '../wfreq/job';
import { summarize } from '../wfreq/reference';
import { runProgram, type ProgramName } from './programs';

export interface PeersJob {
  program: ProgramName;
  /** JSON file holding the array of file paths. */
  filesList: string;
  chunksize: number;
  workers: number;
}

if (require.main === module) {
  jobMain(async () => {
    const jobFile = process.argv[2];
    if (!jobFile) throw new Error('usage: run.js JOB.json');
    const job = readJson<PeersJob>(jobFile);
    const files = readJson<string[]>(job.filesList);
    const started = performance.now();
    // Its own line before the result line: how long getting the workers took (Trickle's connect).
    const counts = await runProgram(job.program, files, { chunksize: job.chunksize, workers: job.workers }, (seconds) =>
      process.stdout.write(`\n${JSON.stringify({ peers: 'startup', seconds })}\n`),
    );
    const seconds = (performance.now() - started) / 1000;
    if (!(counts instanceof Map)) throw new TypeError(`${job.program} must give a Map, got ${Object.prototype.toString.call(counts)}`);
    return { seconds, summary: summarize(counts) };
  });
}
