/**
 * Starts deployed VRs, each in its own worker thread — or, when it has a heap limit, in its own
 * child process — and watches them end. A VR's failure — `main` throwing, an uncaught error,
 * running out of memory — ends that VR only.
 *
 * Why processes for VRs with a heap limit: Node's worker resource limits are best effort. A
 * worker whose next allocation does not fit even after V8's near-limit grace (a Map or array
 * doubling its backing store, a large string) makes V8 abort the whole process — the VM and
 * every other session. A child process that does so ends alone.
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
import { checkResourceLimits } from './resource-limits';
import { VRChildProcess } from './vr-child-process';
import type { SpareWorkerData, VRWorkerData } from './vr-run';

/** A VR's worker thread or child process: what VRHost needs of either. */
type VRRunner = Worker | VRChildProcess;

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
  worker: VRRunner;
  /** Shared with the worker: set to 1 when its VM is stopping (see VirtualResource.stopping). */
  stopFlag: Int32Array;
  end: VREnd | undefined;
  /** Resolves when the worker thread is gone. */
  exited: Promise<void>;
}

/** A worker started before it is needed, with the limits it was started with. */
interface Spare {
  worker: VRRunner;
  limits: DeployArgs['resourceLimits'];
}

export class VRHost {
  private readonly workerEntry = runtimeEntry('host/vr-worker');
  private readonly workers = new Map<UUID, WorkerEntry>();
  /** Extensions by name (own names only: `toString` is not an extension). */
  private readonly extensions = new Map<string, string>();
  /**
   * One worker kept started, River and the extensions loaded, for the next deploy with default
   * limits: starting a worker and loading modules is most of a deploy's CPU (~70 ms), which on a
   * small CPU share is most of a session's start. Made at start and after each deploy settles.
   */
  private spare: Spare | undefined;
  private closed = false;

  constructor(
    private readonly nodeId: string,
    extensions: Record<string, string>,
    private readonly hooks: VRHostHooks,
    /**
     * `maxHeapMb`: the heap limit of every worker, whatever a deploy asks for (the VM operator's
     * cap). `spare: false`: no worker started ahead of deploys.
     */
    private readonly limits: { maxHeapMb?: number; spare?: boolean } = {},
  ) {
    for (const [name, path] of Object.entries(extensions)) {
      if (typeof path !== 'string' || !isAbsolute(path)) throw new DeployError({ message: `extension ${name}: module path must be absolute, got ${String(path)}` });
      this.extensions.set(name, path);
    }
    this.warm();
  }

  /** Starts the spare worker if there is none (and spares are on). */
  private warm(): void {
    if (this.closed || this.spare || this.limits.spare === false) return;
    const limits = capHeap(undefined, this.limits.maxHeapMb);
    let worker: VRRunner;
    try {
      worker = this.start(limits);
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

  /** A new worker thread or process, waiting for its `{ deploy }` message. */
  private start(limits: DeployArgs['resourceLimits']): VRRunner {
    const preload = [...this.extensions.values()];
    if (limits?.maxOldGenerationSizeMb !== undefined) return new VRChildProcess(limits, preload);
    const data: SpareWorkerData = { spare: true, preload };
    return new Worker(this.workerEntry, { workerData: data, resourceLimits: limits });
  }

  /** The spare worker, if it was started with exactly these limits (it is then no longer spare). */
  private takeSpare(limits: DeployArgs['resourceLimits']): VRRunner | undefined {
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
    let resourceLimits: DeployArgs['resourceLimits'];
    try {
      if (!(args.args instanceof Uint8Array)) throw new DeployError({ message: "a deploy's arguments must be SFM-encoded bytes" });
      if (args.parent !== null && typeof args.parent !== 'string') throw new DeployError({ message: "a deploy's parent must be a VR's UUID" });
      modulePath = this.modulePathOf(args);
      resourceLimits = capHeap(checkResourceLimits(args.resourceLimits), this.limits.maxHeapMb);
    } catch (error) {
      return Promise.reject(error);
    }
    const data: VRWorkerData = {
      uuid,
      parent: args.parent,
      nodeId: this.nodeId,
      source: args.source,
      imports: args.imports,
      position: args.position,
      modulePath,
      extension: args.extension,
      args: args.args,
    };
    let worker: VRRunner;
    try {
      worker = this.takeSpare(resourceLimits) ?? this.start(resourceLimits);
    } catch (error) {
      return Promise.reject(new DeployError({ message: `could not start a worker: ${(error as Error).message}`, cause: error }));
    }
    // Only a thread shares memory with the engine (see VirtualResource.stopping).
    const stopFlag = worker instanceof Worker ? new SharedArrayBuffer(4) : undefined;
    try {
      worker.postMessage({ deploy: { ...data, stopFlag } });
    } catch (error) {
      void worker.terminate();
      return Promise.reject(new DeployError({ message: `could not start the VR: ${(error as Error).message}`, cause: error }));
    }
    const vr = new LocalVR(uuid, args.parent, args.lifetime, worker, worker);
    const entry: WorkerEntry = {
      vr,
      worker,
      stopFlag: new Int32Array(stopFlag ?? new ArrayBuffer(4)),
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

  /**
   * The module of the extension `args` names (undefined for a VR shipped as source); throws
   * DeployError when it names neither, or an extension this VM does not have.
   */
  private modulePathOf(args: DeployArgs): string | undefined {
    if (args.extension !== undefined) {
      if (typeof args.extension !== 'string') throw new DeployError({ message: `an extension name must be a string, got ${typeof args.extension}` });
      const path = this.extensions.get(args.extension);
      if (path === undefined) {
        const known = [...this.extensions.keys()];
        throw new DeployError({
          message: `no extension named ${JSON.stringify(args.extension.slice(0, 200))} on this VM (${known.length ? `it has: ${known.join(', ')}` : 'it has none'})`,
        });
      }
      return path;
    }
    if (typeof args.source !== 'string') throw new DeployError({ message: 'deploy needs a class source or an extension name' });
    if (args.source.trim() === '') throw new DeployError({ message: 'empty VR class source' });
    return undefined;
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

/** Why a worker died, as its parent should read it: running out of its memory is a ResourceLimitError. */
function crashError(uuid: UUID, error: Error, limits: DeployArgs['resourceLimits']): Error {
  if ((error as Error & { code?: unknown }).code !== 'ERR_WORKER_OUT_OF_MEMORY') return error;
  const set = Object.entries(limits ?? {})
    .map(([name, value]) => `${name} ${String(value)}`)
    .join(', ');
  const limit = new ResourceLimitError({
    message: `VR ${uuid} ran out of memory: ${(error as Error & { what?: string }).what ?? 'it reached the heap limit of its worker'} (${set || 'the default V8 limits'})`,
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
