/**
 * Entry of a session worker thread (WorkerLink): one RaiServer whose namespace is this thread's
 * global scope. Requests arrive as encoded bytes on the parent port; replies leave the same way.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RaiServer } from '../server/rai-server';
import type { VMRef } from '../session-link';
import { MessageBatcher, unbatch } from './batch';

const port = parentPort;
if (!port) throw new Error('rai-worker must run in a worker thread');

const { vm } = workerData as { vm: VMRef };
const replies = new MessageBatcher((message, transfer) => port.postMessage(message, transfer));
const server = new RaiServer({ vm, send: (bytes) => replies.push(bytes) });
port.on('message', (message: Uint8Array) => unbatch(message, (bytes) => server.receive(bytes)));
