/**
 * Child-process entry of a deployed VR (see vr-run.ts; the engine side is vr-child-process.ts).
 * A VR runs in a process of its own when it has a heap limit: a worker thread that runs out of
 * heap can take the whole VM down with it (V8 aborts the process when one allocation does not
 * fit even after the near-limit grace), a child process only itself.
 *
 * It talks to its engine over the IPC channel (structured clone, no transfer). A watchdog thread
 * ends the process at once — even while the VR's own thread is busy — when its engine is gone
 * (the parent process died, so nobody would ever stop it) or its resident memory passes the
 * limit (memory outside the JavaScript heap, such as Buffers, is not bounded by the heap limit).
 */
import { Worker } from 'node:worker_threads';

import type { LinkPort } from '../vr/link';
import { RSS_LIMIT_MARK, type VRProcessArgs } from './vr-process-args';
import { waitForDeploy } from './vr-run';

const WATCHDOG = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { ppid, rssLimitBytes, mark } = workerData;
setInterval(() => {
  if (process.ppid !== ppid) process.kill(process.pid, 'SIGKILL');
  if (rssLimitBytes) {
    const rss = process.memoryUsage.rss();
    if (rss > rssLimitBytes) {
      try { writeSync(2, mark + ' (resident ' + Math.round(rss / 1048576) + ' MiB, limit ' + Math.round(rssLimitBytes / 1048576) + ' MiB)\\n'); } catch {}
      process.kill(process.pid, 'SIGKILL');
    }
  }
}, 25);
`;

const args = JSON.parse(process.argv[2] ?? '{}') as VRProcessArgs;

const watchdog = new Worker(WATCHDOG, {
  eval: true,
  workerData: { ppid: process.ppid, rssLimitBytes: args.rssLimitBytes, mark: RSS_LIMIT_MARK },
  resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1, stackSizeMb: 1 },
  stdout: false,
  stderr: false,
});
watchdog.unref();
// Only if the watchdog itself failed to start: then at least an engine that goes away ends us
// (an idle VR only; a busy one would need the watchdog).
watchdog.on('error', () => undefined);
process.on('disconnect', () => process.exit(0));

const port: LinkPort = {
  postMessage: (value) => {
    process.send?.(value);
  },
  on: (_event, listener) => process.on('message', listener),
  off: (_event, listener) => process.off('message', listener),
};

// An uncaught error ends the VR, as it ends a worker thread: the engine gets it, then the exit.
process.on('uncaughtException', (error: unknown) => {
  const e = error instanceof Error ? error : new Error(String(error));
  const crash = { name: String(e.name), message: String(e.message), stack: typeof e.stack === 'string' ? e.stack : undefined };
  if (!process.connected) process.exit(1);
  process.send!({ crash }, undefined, {}, () => process.exit(1));
});

waitForDeploy(args, port);
