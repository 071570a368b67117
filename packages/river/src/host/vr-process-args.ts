/** What the engine (vr-child-process.ts) and a VR's child process (vr-process.ts) agree on. */
import type { SpareWorkerData } from './vr-run';

/** The one command-line argument of a VR process (JSON). */
export interface VRProcessArgs extends SpareWorkerData {
  /** Resident memory (bytes) past which the process's watchdog ends it. */
  rssLimitBytes?: number;
}

/** The line the watchdog writes on stderr when it ends the process for its memory. */
export const RSS_LIMIT_MARK = 'river: VR process over its memory limit';
