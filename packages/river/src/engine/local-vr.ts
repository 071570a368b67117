import { packOutbox } from '../port-batch';
import type { Lifetime, ToEngine, ToVR, UUID } from '../protocol';

/** The engine end of a VR's port: a `Worker` (VR in a worker thread) or a `MessagePort` (initiator VR). */
export interface PortLike {
  postMessage(value: unknown, transfer?: ArrayBuffer[]): void;
  on(event: 'message', listener: (value: unknown) => void): unknown;
}

export type LocalVRState =
  | { kind: 'starting' }
  | { kind: 'running' }
  /** `main` settled (or the worker died); the record stays until the worker is gone. */
  | { kind: 'exited' };

/**
 * The engine's record of a VR living in this process. Everything the engine posts to the VR goes
 * through one ordered outbox, flushed once per tick as a single port message, so a message and a
 * later `gone` notice can never overtake each other.
 */
export class LocalVR {
  state: LocalVRState = { kind: 'starting' };
  /** VRs this one asked to be told about (for `recv({ src })`). */
  readonly watching = new Set<UUID>();
  private outbox: ToVR[] = [];
  private scheduled = false;

  constructor(
    readonly uuid: UUID,
    readonly parent: UUID | null,
    readonly lifetime: Lifetime,
    readonly port: PortLike,
    /** Its worker thread or process (none for an initiator VR). */
    readonly worker: { terminate(): Promise<unknown> } | undefined,
  ) {}

  post(item: ToVR): void {
    this.outbox.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  listen(handler: (items: ToEngine[]) => void): void {
    this.port.on('message', (value) => {
      if (Array.isArray(value)) handler(value as ToEngine[]);
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const items = this.outbox;
    if (items.length === 0) return;
    this.outbox = [];
    const packed = packOutbox(items);
    try {
      this.port.postMessage(packed.items, packed.transfer);
    } catch {
      // The worker is gone; its exit handler reports it.
    }
  };
}
