// The plain single-process count as a process of its own, so it can run on one simulated
// machine's CPU share (the "1 VM vs plain count on the same share" aim):
//
//   node dist/wfreq/plain-count.js JOB.json
import { jobMain, readJson, type PlainJob } from './job';
import { summarize } from './reference';
import { wordcount } from './wordcount';

if (require.main === module) {
  jobMain(async () => {
    const jobFile = process.argv[2];
    if (!jobFile) throw new Error('usage: plain-count.js JOB.json');
    const job = readJson<PlainJob>(jobFile);
    const files = readJson<string[]>(job.filesList);
    const started = performance.now();
    const counts = wordcount(files);
    const seconds = (performance.now() - started) / 1000;
    return { seconds, summary: summarize(counts) };
  });
}
