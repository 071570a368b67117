/**
 * The RAI server as a River virtual resource: one per session, deployed by `connect()` on every
 * VM through the `trickle:rai` extension, in its own worker thread. The worker's global scope is
 * the session namespace. The VR lives as long as its parent (the initiator VR): when the
 * initiator disconnects, exits or its connection is lost, River ends this VR and its worker.
 */
import { VirtualResource } from '@river/engine';
import { RaiServer } from '../server/rai-server';
import type { VMRef } from '../session-link';
import { MessageBatcher, unbatch } from '../worker/batch';
import { RAI_TAG, RAI_END_TAG } from './tags';

export default class RaiVR extends VirtualResource {
  async main(vm: VMRef): Promise<void> {
    const initiator = this.parent;
    if (initiator === undefined) throw new Error('the trickle:rai VR must be deployed by an initiator');
    const replies = new MessageBatcher((batch) => this.send(initiator, { tag: RAI_TAG, b: batch }));
    const server = new RaiServer({ vm, send: (bytes) => replies.push(bytes) });
    try {
      for (;;) {
        // Rejects when the initiator is gone; River then ends this VR anyway.
        const msg = await this.recv<{ tag: string; b?: Uint8Array }>({ src: initiator });
        if (msg.tag === RAI_END_TAG) return;
        if (msg.tag === RAI_TAG && msg.b instanceof Uint8Array) unbatch(msg.b, (bytes) => server.receive(bytes));
      }
    } finally {
      replies.flush();
      server.close();
    }
  }
}
