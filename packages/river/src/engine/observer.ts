/**
 * What an engine tells whoever watches it (the VM's metrics, `metrics/vm-metrics.ts`). Every method
 * is called on the engine thread and must be cheap and never throw.
 */
import type { ControlOp, UUID, VRUsage } from '../protocol';

/** How a VR's worker ended, as the VR host reports it. */
export type VREndKind = 'returned' | 'crashed' | 'stopped' | 'failed';

export interface EngineObserver {
  /** A VR started on this VM: `kind` is its extension name, or `class` for shipped source. */
  vrStarted(uuid: UUID, kind: string): void;
  /** A VR of this VM ended. */
  vrEnded(uuid: UUID, end: VREndKind): void;
  /** A worker VR's periodic report. */
  vrUsage(uuid: UUID, usage: VRUsage): void;
  /** A control request from a peer was answered: `error` is the failure's code, if it failed. */
  request(op: ControlOp | string, errorCode: string | undefined): void;
}
