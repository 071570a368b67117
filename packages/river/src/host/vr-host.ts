/**
 * Starts deployed VRs, each in its own worker thread, and watches them end. A VR's failure —
 * `main` throwing, an uncaught error in its worker, running out of memory — ends that VR only.
 */
import { randomUUID } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { Worker } from 'node:worker_threads';

import { DeployError } from '../errors/deploy-error';
import { ResourceLimitError } from '../errors/resource-limit-error';
import { fromWireError, type WireError } from '../errors/wire';
import { LocalVR } from '../engine/local-vr';
import { ToVRKind, type DeployArgs, type UUID } from '../protocol';
import { runtimeEntry } from '../runtime-entry';
import type { SpareWorkerData, VRWorkerData } from './vr-worker';

/** How a VR's worker ended. */
export type VREnd =
  /** `main` settled and the VR reported it (it already sent `river:exit` to its parent). */
  | { kind: 'returned' }
  /** The engine terminated it on purpose (parent gone, VM stopping). */
  | { kind: 'stopped'; error: Error }
  /** It died: uncaught error, out of memory, `process.exit` in the worker. */
  | { kind: 'crashed'; error: Error }
  /** Deploy failed; nobody knows its UUID yet. */
  | { kind: 'failed' };

export interface VRHostHooks {
  /** A new local VR exists (register it for routing before it can receive anything). */
  added(vr: LocalVR): void;
  /** A local VR's worker is gone. */
  ended(vr: LocalVR, end: VREnd): void;
}

interface WorkerEntry {
  vr: LocalVR;
  worker: Worker;
  /** Shared with the worker: set to 1 when its VM is stopping (see VirtualResource.stopping). */
  stopFlag: Int32Array;
  end: VREnd | undefined;
  /** Resolves when the worker thread is gone. */
  exited: Promise<void>;
}

/** A worker started before it is needed, with the limits it was started with. */
interface Spare {
  worker: Worker;
  limits: DeployArgs['resourceLimits'];
}

export class VRHost {
  private readonly workerEntry = runtimeEntry('host/vr-worker');
  private readonly workers = new Map<UUID, WorkerEntry>();
  /**
   * One worker kept started, River and the extensions loaded, for the next deploy with default
   * limits: starting a worker and loading modules is most of a deploy's CPU (~70 ms), which on a
   * small CPU share is most of a session's start. Made at start and after each deploy settles.
   */
  private spare: Spare | undefined;
  private closed = false;

  constructor(
    private readonly nodeId: string,
    private readonly extensions: Record<string, string>,
    private readonly hooks: VRHostHooks,
    /**
     * `maxHeapMb`: the heap limit of every worker, whatever a deploy asks for (the VM operator's
     * cap). `spare: false`: no worker started ahead of deploys.
     */
    private readonly limits: { maxHeapMb?: number; spare?: boolean } = {},
  ) {
    for (const [name, path] of Object.entries(extensions)) {
      if (!isAbsolute(path)) throw new DeployError({ message: `extension ${name}: module path must be absolute, got ${path}` });
    }
    this.warm();
  }

  /** Starts the spare worker if there is none (and spares are on). */
  private warm(): void {
    if (this.closed || this.spare || this.limits.spare === false) return;
    const limits = capHeap(undefined, this.limits.maxHeapMb);
    const data: SpareWorkerData = { spare: true, preload: Object.values(this.extensions) };
    let worker: Worker;
    try {
      worker = new Worker(this.workerEntry, { workerData: data, resourceLimits: limits });
    } catch {
      return; // deploys start their own
    }
    worker.unref(); // an unused spare never keeps the process alive
    const spare: Spare = { worker, limits };
    const lost = () => {
      if (this.spare === spare) this.spare = undefined;
    };
    worker.once('error', lost);
    worker.once('exit', lost);
    this.spare = spare;
  }

  /** The spare worker, if it was started with exactly these limits (it is then no longer spare). */
  private takeSpare(limits: DeployArgs['resourceLimits']): Worker | undefined {
    const spare = this.spare;
    if (!spare || JSON.stringify(spare.limits ?? {}) !== JSON.stringify(limits ?? {})) return undefined;
    this.spare = undefined;
    spare.worker.removeAllListeners();
    spare.worker.ref();
    return spare.worker;
  }

  /** No more spares; terminates the current one (the VM is stopping). */
  close(): Promise<void> {
    this.closed = true;
    const spare = this.spare;
    this.spare = undefined;
    return spare ? spare.worker.terminate().then(() => undefined) : Promise.resolve();
  }

  get size(): number {
    return this.workers.size;
  }

  /** Starts a VR; resolves with its UUID once its class evaluated and it was constructed. */
  deploy(args: DeployArgs, onMessage: (vr: LocalVR, items: unknown[]) => void): Promise<UUID> {
    const uuid = randomUUID();
    let modulePath: string | undefined;
    if (args.extension !== undefined) {
      modulePath = this.extensions[args.extension];
      if (!modulePath) {
        const known = Object.keys(this.extensions);
        return Promise.reject(
          new DeployError({
            message: `no extension named ${args.extension} on this VM (${known.length ? `it has: ${known.join(', ')}` : 'it has none'})`,
          }),
        );
      }
    } else if (typeof args.source !== 'string') {
      return Promise.reject(new DeployError({ message: 'deploy needs a class source or an extension name' }));
    }
    const data: VRWorkerData = {
      uuid,
      parent: args.parent,
      nodeId: this.nodeId,
      source: args.source,
      modulePath,
      extension: args.extension,
      args: args.args,
      stopFlag: new SharedArrayBuffer(4),
    };
    const resourceLimits = capHeap(args.resourceLimits, this.limits.maxHeapMb);
    let worker: Worker;
    const spare = this.takeSpare(resourceLimits);
    if (spare) {
      worker = spare;
      worker.postMessage({ deploy: data });
    } else {
      try {
        worker = new Worker(this.workerEntry, { workerData: data, resourceLimits });
      } catch (error) {
        return Promise.reject(new DeployError({ message: `could not start a worker: ${(error as Error).message}`, cause: error }));
      }
    }
    const vr = new LocalVR(uuid, args.parent, args.lifetime, worker, worker);
    const entry: WorkerEntry = {
      vr,
      worker,
      stopFlag: new Int32Array(data.stopFlag!),
      end: undefined,
      exited: new Promise<void>((resolve) => worker.once('exit', () => resolve())),
    };
    this.workers.set(uuid, entry);
    const deployed = new Promise<UUID>((resolve, reject) => {
      let settled = false;
      vr.listen((items) => {
        for (const item of items) {
          if (Array.isArray(item) && item[0] === 4 && !settled) {
            settled = true;
            const err = item[1] as WireError | null;
            if (err) {
              entry.end = { kind: 'failed' };
              vr.state = { kind: 'exited' };
              void worker.terminate();
              reject(fromWireError(err));
            } else {
              vr.state = { kind: 'running' };
              resolve(uuid);
            }
          }
        }
        if (settled && vr.state.kind !== 'starting') onMessage(vr, items);
      });
      this.hooks.added(vr);
      worker.on('error', (error) => {
        entry.end ??= { kind: 'crashed', error: crashError(uuid, error, resourceLimits) };
        if (!settled) {
          settled = true;
          entry.end = { kind: 'failed' };
          reject(new DeployError({ message: `the VR's worker failed while starting: ${error.message}`, cause: error }));
        }
      });
      worker.on('exit', (code) => {
        this.workers.delete(uuid);
        if (!settled) {
          settled = true;
          entry.end = { kind: 'failed' };
          reject(new DeployError({ message: `the VR's worker exited while starting (code ${code})` }));
        }
        vr.state = { kind: 'exited' };
        this.hooks.ended(vr, entry.end ?? { kind: 'crashed', error: new Error(`the VR's worker ended (exit code ${code})`) });
      });
    });
    // The next spare starts once this deploy no longer needs the CPU.
    const rewarm = () => this.warm();
    deployed.then(rewarm, rewarm);
    return deployed;
  }

  /** Marks a VR as having ended normally (its `main` settled and it reported). */
  reported(uuid: UUID): void {
    const entry = this.workers.get(uuid);
    if (!entry) return;
    entry.end ??= { kind: 'returned' };
    entry.vr.state = { kind: 'exited' };
    void entry.worker.terminate();
  }

  /**
   * Stops a VR's worker at once, even in the middle of a loop (`why` becomes the error its parent
   * sees). Resolves when the thread is gone.
   */
  terminate(uuid: UUID, why: Error): Promise<void> {
    const entry = this.workers.get(uuid);
    if (!entry) return Promise.resolve();
    entry.end ??= { kind: 'stopped', error: why };
    void entry.worker.terminate();
    return entry.exited;
  }

  /** The local VR named `uuid`, while its worker runs. */
  get(uuid: UUID): LocalVR | undefined {
    return this.workers.get(uuid)?.vr;
  }

  all(): LocalVR[] {
    return [...this.workers.values()].map((e) => e.vr);
  }

  /** Waits until every worker has ended (or `timeoutMs` passed). */
  async drain(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.workers.size > 0 && Date.now() < deadline && !signal?.aborted) await new Promise((r) => setTimeout(r, 20));
  }

  /**
   * The VM is stopping: tells every VR (a `river:stop` message, its `signal` aborts) and sets its
   * stop flag, which a VR reads synchronously (`stopping`) even while its thread is busy and has
   * not read the message yet.
   */
  askToStop(): void {
    for (const entry of this.workers.values()) {
      Atomics.store(entry.stopFlag, 0, 1);
      entry.vr.post([ToVRKind.STOP]);
    }
  }
}

/** Why a worker died, as its parent should read it: running out of its heap is a ResourceLimitError. */
function crashError(uuid: UUID, error: Error, limits: DeployArgs['resourceLimits']): Error {
  if ((error as Error & { code?: unknown }).code !== 'ERR_WORKER_OUT_OF_MEMORY') return error;
  const set = Object.entries(limits ?? {})
    .map(([name, value]) => `${name} ${String(value)}`)
    .join(', ');
  const limit = new ResourceLimitError({
    message: `VR ${uuid} ran out of memory: it reached the heap limit of its worker (${set || 'the default V8 limits'})`,
    cause: error,
  });
  if (limits) limit.limits = { ...limits };
  return limit;
}

/** The resource limits a worker gets: what was asked, its heap capped by the VM's `maxHeapMb`. */
function capHeap(asked: DeployArgs['resourceLimits'], maxHeapMb: number | undefined): DeployArgs['resourceLimits'] {
  const limits = asked && typeof asked === 'object' ? { ...asked } : undefined;
  if (maxHeapMb === undefined) return limits;
  const wanted = limits?.maxOldGenerationSizeMb;
  return { ...limits, maxOldGenerationSizeMb: typeof wanted === 'number' && wanted > 0 ? Math.min(wanted, maxHeapMb) : maxHeapMb };
}
