/**
 * Entry of an initiator's engine worker thread: the engine runs here so that a CPU-bound user
 * program on the main thread cannot stall heartbeats or routing. Runs as plain JS from dist/.
 */
import { debuglog } from 'node:util';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';

import { Engine, type EngineOptions } from '../engine/engine';
import { toWireError } from '../errors/wire';

export interface EngineWorkerData {
  options: Omit<EngineOptions, 'role' | 'log'>;
  vrUuid: string;
  vrPort: MessagePort;
}

/** Control messages between the initiator's main thread and its engine worker. */
export type EngineWorkerMessage =
  | { t: 'ready'; nodeId: string; host: string; port: number }
  | { t: 'failed'; error: ReturnType<typeof toWireError> }
  | { t: 'stop' }
  | { t: 'stopped' };

const log = debuglog('river');

async function main(): Promise<void> {
  const port = parentPort!;
  const data = workerData as EngineWorkerData;
  const engine = new Engine({ ...data.options, role: 'initiator', log: (line) => log(line) });
  port.on('message', (m: EngineWorkerMessage) => {
    if (m.t !== 'stop') return;
    engine.stop().then(
      () => port.postMessage({ t: 'stopped' } satisfies EngineWorkerMessage),
      () => port.postMessage({ t: 'stopped' } satisfies EngineWorkerMessage),
    );
  });
  try {
    await engine.start();
  } catch (error) {
    port.postMessage({ t: 'failed', error: toWireError(error) } satisfies EngineWorkerMessage);
    return;
  }
  engine.attachVR(data.vrUuid, data.vrPort);
  const a = engine.address!;
  port.postMessage({ t: 'ready', nodeId: engine.nodeId, host: a.host, port: a.port } satisfies EngineWorkerMessage);
}

void main();
