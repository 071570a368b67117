// @river/engine/internal — for sibling packages (@trickle/core) that carry payloads they encode
// themselves between VRs and want them without a second encode, decode and mailbox round per
// message. Not part of the user-facing API; may change with it.
import type { UUID } from './protocol';
import type { BodyTap } from './vr/link';
import { engineLinkOf, type VirtualResource } from './vr/virtual-resource';

export type { BodyTap } from './vr/link';

function linkOf(vr: VirtualResource, what: string) {
  const link = engineLinkOf(vr);
  if (!link) throw new TypeError(`${what}: not a VR of this copy of @river/engine`);
  return link;
}

/**
 * Sends a message body that is already SFM-encoded (a CBOR map, as `send` would write it),
 * skipping `encode`. The receiver sees an ordinary message. The bytes must not be changed after.
 */
export function sendEncoded(vr: VirtualResource, dest: UUID, body: Uint8Array): void {
  if (typeof dest !== 'string' || dest === '') throw new TypeError('sendEncoded: dest must be a VR UUID');
  if (!(body instanceof Uint8Array)) throw new TypeError('sendEncoded: body must be a Uint8Array');
  linkOf(vr, 'sendEncoded').send(dest, body);
}

/**
 * Offers every message body from `src` to `take` as bytes, in arrival order, before `vr` decodes
 * it; a body `take` takes (returns true for) never reaches the mailbox, others are delivered as
 * usual. `take` runs synchronously while the engine's port message is read: keep it short and
 * never let it throw. One tap per sender; returns the function that removes it. Watching `src`
 * (a `recv({ src })`) still works: its exit or loss is reported there as usual.
 */
export function interceptFrom(vr: VirtualResource, src: UUID, take: BodyTap): () => void {
  return linkOf(vr, 'interceptFrom').intercept(src, take);
}

/**
 * Adds `n` (default 1) to a counter that an extension declared on its VM (`metrics` of `runVmCli`
 * / `RiverVM`), with these label values in the declared order. Counts travel to the engine once a
 * second with the worker's heap; a VM without metrics, or a name it did not declare, ignores them.
 */
export function countMetric(vr: VirtualResource, name: string, labels: string[] = [], n = 1): void {
  linkOf(vr, 'countMetric').count(name, labels, n);
}
