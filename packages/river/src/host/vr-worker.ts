/**
 * Worker-thread entry of a deployed VR (see vr-run.ts). Runs as plain JS from dist/ (see
 * runtime-entry.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';

import type { LinkPort } from '../vr/link';
import { runVR, waitForDeploy, type SpareWorkerData, type VRWorkerData } from './vr-run';

export type { SpareWorkerData, VRWorkerData } from './vr-run';

const port = parentPort as unknown as LinkPort;
const given = workerData as VRWorkerData | SpareWorkerData;
if ('spare' in given) waitForDeploy(given, port);
else runVR(given, port);
