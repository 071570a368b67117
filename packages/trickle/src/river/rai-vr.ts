/**
 * The RAI server as a River virtual resource: one per session, deployed by `connect()` on every
 * VM through the `trickle:rai` extension, in its own worker thread. The worker's global scope is
 * the session namespace. The VR lives as long as its parent (the initiator VR): when the
 * initiator disconnects, exits or its connection is lost, River ends this VR and its worker.
 */
import { VirtualResource } from '@river/engine';
import { countMetric, interceptFrom, sendEncoded } from '@river/engine/internal';
import { RaiServer } from '../server/rai-server';
import type { VMRef } from '../session-link';
import { MessageBatcher, unbatch } from '../worker/batch';
import { TRICKLE_METRICS } from './metrics';
import { RiverPeerExchange } from './peer-exchange';
import { raiBodyHeader, readRaiBody } from './rai-body';
import { RAI_DRAIN_TAG, RAI_END_TAG, RAI_MAX_MESSAGE_BYTES } from './tags';

export default class RaiVR extends VirtualResource {
  async main(vm: VMRef): Promise<void> {
    const initiator = this.parent;
    if (initiator === undefined) throw new Error('the trickle:rai VR must be deployed by an initiator');
    const replies = new MessageBatcher((body) => sendEncoded(this, initiator, body), raiBodyHeader);
    // Graceful removal: requests received and not yet answered, and where the drain stands.
    let unanswered = 0;
    const drain = { phase: 'none' as 'none' | 'told' | 'acknowledged' };
    const drained = new AbortController();
    const settle = () => {
      if (drain.phase === 'acknowledged' && unanswered <= 0) drained.abort();
    };
    // forkWork `reduce`: accumulators go session to session, as this session's initiator directs.
    const peers = new RiverPeerExchange(this);
    const server = new RaiServer({
      vm,
      peers,
      maxReplyBytes: RAI_MAX_MESSAGE_BYTES,
      // Read at each request, also while a long call held this thread when the VM began to stop:
      // requests not started by then are refused (VM_STOPPING) and go to other VMs.
      stopping: () => this.stopping,
      answered: (kind, failure, chunk) => {
        countMetric(this, TRICKLE_METRICS.requests, [kind]);
        if (failure !== undefined) countMetric(this, TRICKLE_METRICS.failures, [kind, failure]);
        if (chunk) countMetric(this, TRICKLE_METRICS.chunks);
      },
      send: (bytes) => {
        unanswered--;
        replies.push(bytes);
        settle();
      },
    });
    // The VM is stopping: tell the initiator (after the replies so far), answer what it sent
    // before its acknowledgement — the calls already running finish, the others are refused —
    // then end. River's stop grace bounds all of this.
    const onStop = () => {
      if (drain.phase !== 'none') return;
      drain.phase = 'told';
      replies.flush();
      this.send(initiator, { tag: RAI_DRAIN_TAG });
    };
    this.signal.addEventListener('abort', onStop, { once: true });
    const receive = (bytes: Uint8Array) => {
      unanswered++;
      // Stopping, but this thread was busy when the stop message came: say so now.
      if (drain.phase === 'none' && this.stopping) onStop();
      server.receive(bytes);
    };
    // Request batches are handled as they arrive, before River would decode them into the
    // mailbox (see river-link.ts), so they are counted before a later drain acknowledgement is
    // read; everything else from the initiator still goes to the mailbox. River calls main
    // before it reads any port message, so no batch can arrive before this tap.
    const untap = interceptFrom(this, initiator, (body) => {
      const batch = readRaiBody(body);
      if (batch === undefined) return false;
      unbatch(batch, receive);
      return true;
    });
    // Only the initiator speaks to a session, and the sessions it told this one to expect an
    // accumulator from (peer-exchange.ts): anything else from another VR is refused or dropped,
    // so strays cannot pile up in the mailbox (the loop below only takes the initiator's messages).
    void (async () => {
      for (;;) peers.stray(await this.recv((msg) => msg.src !== initiator && !peers.awaits(msg)));
    })().catch(() => undefined);
    try {
      for (;;) {
        let msg: { tag: string };
        try {
          // Rejects when the initiator is gone; River then ends this VR anyway. While draining it
          // also stops waiting once the last request is answered (no signal otherwise).
          msg = await this.recv<{ tag: string }>({ src: initiator }, drain.phase === 'none' ? undefined : { signal: drained.signal });
        } catch (error) {
          if (drained.signal.aborted) return;
          throw error;
        }
        if (msg.tag === RAI_END_TAG) return;
        if (msg.tag === RAI_DRAIN_TAG && drain.phase === 'told') {
          drain.phase = 'acknowledged';
          settle();
        }
      }
    } finally {
      untap();
      this.signal.removeEventListener('abort', onStop);
      replies.flush();
      server.close();
    }
  }
}
