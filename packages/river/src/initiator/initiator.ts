/**
 * The initiator: the user's program on the main thread, with its own VR there, and an engine in a
 * worker thread (connections, heartbeats, routing, discovery, local VMs).
 */
import { randomUUID } from 'node:crypto';
import { MessageChannel, Worker } from 'node:worker_threads';

import { resolveKey } from '../auth/keyfile';
import { RiverError } from '../errors/river-error';
import { StoppedError } from '../errors/stopped-error';
import { fromWireError } from '../errors/wire';
import type { EngineOptions } from '../engine/engine';
import { runtimeEntry } from '../runtime-entry';
import { EngineLink, type LinkPort } from '../vr/link';
import { VirtualResource, constructVR, type DiscoverOptions, type VRClass } from '../vr/virtual-resource';
import type { EngineWorkerData, EngineWorkerMessage } from './engine-worker';

export interface InitiatorOptions
  extends Pick<EngineOptions, 'host' | 'port' | 'peerTimeoutMs' | 'pingIntervalMs' | 'handshakeTimeoutMs' | 'maxFrameBytes'>,
    Pick<DiscoverOptions, 'peers' | 'dnsServer' | 'mdns' | 'interface' | 'localCommand' | 'localEnv'> {
  /** Cluster key; default env `RIVER_KEY` / `RIVER_KEY_FILE`. Without one, only loopback. */
  key?: string;
  /** Key file (as `--key-file`). */
  keyFile?: string;
  /** How long `stop()` waits for the engine to finish (default 10 s). */
  stopTimeoutMs?: number;
}

interface Session {
  worker: Worker;
  link: EngineLink;
  port: LinkPort & { close(): void };
  nodeId: string;
  uuid: string;
  stopTimeoutMs: number;
  stopping?: Promise<void>;
}

async function openSession(options: InitiatorOptions): Promise<Session> {
  const key = await resolveKey({ key: options.key, keyFile: options.keyFile });
  const { port1, port2 } = new MessageChannel();
  const uuid = randomUUID();
  const data: EngineWorkerData = {
    options: {
      host: options.host,
      port: options.port,
      key,
      peerTimeoutMs: options.peerTimeoutMs,
      pingIntervalMs: options.pingIntervalMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      maxFrameBytes: options.maxFrameBytes,
      discovery: {
        peers: options.peers,
        dnsServer: options.dnsServer,
        mdns: options.mdns,
        interface: options.interface,
        localCommand: options.localCommand,
        localEnv: options.localEnv,
      },
    },
    vrUuid: uuid,
    vrPort: port2,
  };
  const worker = new Worker(runtimeEntry('initiator/engine-worker'), { workerData: data, transferList: [port2] });
  const ready = await new Promise<{ nodeId: string }>((resolve, reject) => {
    const onMessage = (m: EngineWorkerMessage) => {
      if (m.t === 'ready') resolve(m);
      else if (m.t === 'failed') reject(fromWireError(m.error));
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new RiverError('RIVER_ENGINE_EXITED', { message: `the engine worker exited while starting (code ${code})` })));
  }).catch(async (error: unknown) => {
    port1.close();
    await worker.terminate();
    throw error;
  });
  worker.removeAllListeners('exit');
  worker.removeAllListeners('error');
  const link = new EngineLink(port1 as unknown as LinkPort);
  const session: Session = { worker, link, port: port1 as unknown as Session['port'], nodeId: ready.nodeId, uuid, stopTimeoutMs: options.stopTimeoutMs ?? 10_000 };
  // The engine dying under us fails everything pending instead of hanging.
  worker.on('error', (error) => link.close(new RiverError('RIVER_ENGINE_FAILED', { message: `the initiator's engine failed: ${error.message}`, cause: error })));
  worker.on('exit', () => {
    link.close(new StoppedError({ message: "the initiator's engine stopped" }));
    port1.close();
  });
  return session;
}

function stopSession(s: Session): Promise<void> {
  s.stopping ??= (async () => {
    const stopped = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, s.stopTimeoutMs);
      s.worker.on('message', (m: EngineWorkerMessage) => {
        if (m.t === 'stopped') {
          clearTimeout(timer);
          resolve();
        }
      });
      s.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    s.link.flushNow();
    s.worker.postMessage({ t: 'stop' } satisfies EngineWorkerMessage);
    await stopped;
    s.link.close(new StoppedError({ message: 'the initiator stopped' }));
    s.port.close();
    await s.worker.terminate();
  })();
  return s.stopping;
}

const sessions = new WeakMap<VirtualResource, Session>();

/**
 * A VR handle for the program's main thread, usable without subclassing: `send`, `recv`,
 * `discover`, `deploy`, … and `stop()` (also `await using`).
 */
export class Initiator extends VirtualResource {
  main(): never {
    throw new TypeError('an Initiator has no main: use startInitiator() and call its methods');
  }

  /** Stops the engine: its connections, its local VMs, and (by their lifetime) the VRs it deployed. */
  stop(): Promise<void> {
    const s = sessions.get(this);
    return s ? stopSession(s) : Promise.resolve();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Lets the process end while the engine is still running (like `Worker.unref()`). A library
   * that needs the engine only while it has requests outstanding — Trickle — unrefs it when idle,
   * so a program ends without an explicit disconnect; `ref()` undoes it.
   */
  unref(): void {
    const s = sessions.get(this);
    s?.worker.unref();
    s?.port.unref?.();
  }

  ref(): void {
    const s = sessions.get(this);
    s?.worker.ref();
    s?.port.ref?.();
  }
}

/** Starts an initiator: an engine worker and an {@link Initiator} VR on this thread. */
export async function startInitiator(options: InitiatorOptions = {}): Promise<Initiator> {
  const session = await openSession(options);
  const vr = constructVR(Initiator, { uuid: session.uuid, parent: undefined, nodeId: session.nodeId, link: session.link });
  sessions.set(vr, session);
  return vr;
}

type MainResult<T> = T extends { main(...args: any[]): infer R } ? Awaited<R> : unknown;

/**
 * Runs `VRClass` in this process as the initiator, with networking, and resolves with what its
 * `main(...args)` returns; the engine is stopped afterwards either way.
 */
export async function runInitiator<T extends VirtualResource>(cls: VRClass<T>, ...args: Parameters<T['main']>): Promise<MainResult<T>> {
  return runInitiatorWith({}, cls, ...args);
}

/** `runInitiator` with options (key, peers, …). */
export async function runInitiatorWith<T extends VirtualResource>(
  options: InitiatorOptions,
  cls: VRClass<T>,
  ...args: Parameters<T['main']>
): Promise<MainResult<T>> {
  const session = await openSession(options);
  try {
    const vr = constructVR(cls, { uuid: session.uuid, parent: undefined, nodeId: session.nodeId, link: session.link });
    return (await vr.main(...args)) as MainResult<T>;
  } finally {
    await stopSession(session);
  }
}
