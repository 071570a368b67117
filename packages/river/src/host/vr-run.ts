/**
 * What a deployed VR's thread or process runs: builds the VR class (from shipped source or an
 * extension module), constructs the VR bound to its engine, runs `main`, and reports how it
 * ended. Started by vr-worker.ts (a worker thread) or vr-process.ts (a child process).
 */
import { getHeapStatistics } from 'node:v8';

import { decode, encode } from '@river/sfm';


import { DeployError } from '../errors/deploy-error';
import { RiverError } from '../errors/river-error';
import { toWireError } from '../errors/wire';
import { ROUTE_EXIT, ROUTE_SYSTEM } from '../protocol';
import { EngineLink, type LinkPort } from '../vr/link';
import { VirtualResource, constructVR, isVRClass, type VRClass } from '../vr/virtual-resource';
import type { ImportBinding } from '../code/import-binding';
import { mapShippedStack, type SourcePosition } from '../code/source-position';
import { evaluateClass, vmRequire } from './evaluate';

/** How often a VR reports its heap and counts to its engine (for the VM's metrics). */
const USAGE_INTERVAL_MS = 1000;

/**
 * A spare worker or process started ahead of any deploy (see VRHost): it loads River and the
 * VM's extension modules, then waits for its first message, `{ deploy: VRWorkerData }`, and
 * becomes that VR.
 */
export interface SpareWorkerData {
  spare: true;
  /** Extension modules to load now, so that a deploy of one finds it in the module cache. */
  preload: string[];
}

/** What the host passes to a VR worker. */
export interface VRWorkerData {
  uuid: string;
  parent: string | null;
  nodeId: string;
  source?: string;
  /** What the class source uses from its module's imports. */
  imports?: ImportBinding[];
  /** Where the class was written (stack frames on the VM name it). */
  position?: SourcePosition;
  /** Absolute path of an extension module exporting the VR class as `default` or `VR`. */
  modulePath?: string;
  extension?: string;
  args: Uint8Array;
  /**
   * Shared with the host: 1 once the VM is stopping (read by `VirtualResource.stopping`). Only a
   * VR in a worker thread has one: memory is not shared with a child process.
   */
  stopFlag?: SharedArrayBuffer;
}

function loadClass(data: VRWorkerData): VRClass {
  let cls: unknown;
  if (data.modulePath) {
    let mod: Record<string, unknown>;
    try {
      mod = vmRequire()(data.modulePath) as Record<string, unknown>;
    } catch (error) {
      throw new DeployError({ message: `extension ${data.extension} (${data.modulePath}) failed to load: ${(error as Error).message}`, cause: error });
    }
    cls = mod.default ?? mod.VR ?? (mod.default as Record<string, unknown> | undefined)?.default;
    if (cls === undefined) throw new DeployError({ message: `extension ${data.extension} (${data.modulePath}) exports no VR class as \`default\` or \`VR\`` });
  } else {
    cls = evaluateClass(data.source ?? '', { VirtualResource, imports: data.imports, position: data.position, where: `VM ${data.nodeId}` });
  }
  if (!isVRClass(cls)) throw new DeployError({ message: 'the deployed class does not extend VirtualResource' });
  return cls;
}

export function runVR(data: VRWorkerData, port: LinkPort): void {
  const link = new EngineLink(port, data.stopFlag);
  let vr: VirtualResource;
  let args: unknown[];
  try {
    const cls = loadClass(data);
    vr = constructVR(cls, { uuid: data.uuid, parent: data.parent ?? undefined, nodeId: data.nodeId, link });
    const decoded = decode(data.args);
    args = Array.isArray(decoded) ? decoded : [decoded];
  } catch (error) {
    const e = RiverError.isInstance(error) ? error : new DeployError({ message: `the VR could not be constructed: ${(error as Error)?.message}`, cause: error });
    link.started(toWireError(e));
    link.flushNow();
    return;
  }
  link.started(null);
  link.flushNow(); // before main: a CPU-bound main would hold it back
  // The VM's metrics (--metrics-port) show each VR's heap and what its extension counted.
  const usage = setInterval(() => link.reportUsage(getHeapStatistics().used_heap_size), USAGE_INTERVAL_MS);
  usage.unref();
  const finish = (outcome: { value: unknown } | { error: unknown }) => {
    if (data.parent) {
      const msg: Record<string, unknown> = { tag: 'river:exit', uuid: data.uuid };
      if ('error' in outcome) {
        const error = outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error));
        // Frames of the shipped class name the user's file and line (compiled TypeScript mapped back).
        if (typeof error.stack === 'string') error.stack = mapShippedStack(error.stack);
        msg.error = error;
      } else msg.value = outcome.value;
      let body: Uint8Array;
      try {
        body = encode(msg);
      } catch (error) {
        body = encode({
          tag: 'river:exit',
          uuid: data.uuid,
          error: new TypeError(`main returned a value the codec cannot carry: ${(error as Error).message}`),
        });
      }
      link.send(data.parent, body, ROUTE_SYSTEM | ROUTE_EXIT);
    }
    clearInterval(usage);
    link.reportUsage(getHeapStatistics().used_heap_size);
    link.exited();
    link.flushNow();
  };
  Promise.resolve()
    .then(() => vr.main(...args))
    .then(
      (value) => finish({ value }),
      (error) => finish({ error }),
    );
}

/** A spare: loads the extension modules now, then becomes the VR its first message names. */
export function waitForDeploy(spare: SpareWorkerData, port: LinkPort): void {
  for (const path of spare.preload) {
    try {
      vmRequire()(path);
    } catch {
      // Reported by the deploy that names it (loadClass), not here.
    }
  }
  const first = (message: unknown) => {
    const deploy = (message as { deploy?: VRWorkerData } | null)?.deploy;
    if (!deploy) return;
    port.off?.('message', first);
    runVR(deploy, port);
  };
  port.on('message', first);
}

