/**
 * The messages River itself puts in a VR's mailbox, as types and type guards. Each has a `tag`
 * starting with `river:`; like every received message it also carries `src` and `dest` (see each
 * type for what they name there).
 */
import type { UUID } from '../protocol';

/**
 * `river:exit`: a child VR ended; its parent gets this once. `src` is the child. Sent by the child
 * when `main` settles (`value`, or `error` with what it threw), by the child's engine when its
 * worker died or was ended (`error`: ResourceLimitError, VRExitedError when terminated or its VM
 * stopped, VRLostError when its worker crashed), or by the parent's own engine when the child's
 * process was lost (`error`: VRLostError).
 */
export interface ExitMessage<T = unknown> {
  tag: 'river:exit';
  /** The child that ended (also `src`). */
  uuid: UUID;
  /** What `main` returned; absent when it ended with an error. */
  value?: T;
  /** Why it ended, when it did not return. */
  error?: Error;
}

/**
 * `river:undeliverable`: a message this VR sent could not be delivered. `src` and `dest` both name
 * the VR it was for (not this VR); `error` says why (UnknownVRError, VRExitedError, VRLostError,
 * MessageTooLargeError). Never sent about a message River made itself.
 */
export interface UndeliverableMessage<M = unknown> {
  tag: 'river:undeliverable';
  /** The VR the message was for. */
  dest: UUID;
  error: Error;
  /** The message, decoded again (its bytes, if they do not decode). */
  message: M;
}

/** `river:stop`: this VR's VM is stopping (`vr.signal` aborts too). `src` is the VM's node id. */
export interface StopMessage {
  tag: 'river:stop';
}

/** `river:undecodable`: a message arrived whose body could not be decoded; `src` sent it. */
export interface UndecodableMessage {
  tag: 'river:undecodable';
  error: Error;
}

export type SystemMessage = ExitMessage | UndeliverableMessage | StopMessage | UndecodableMessage;

type Received<M> = M & { src: UUID; dest: UUID };

const tagOf = (msg: unknown): unknown => (msg !== null && typeof msg === 'object' ? (msg as { tag?: unknown }).tag : undefined);

/** `recv(isExitMessage)`: a child's end. */
export function isExitMessage(msg: unknown): msg is Received<ExitMessage> {
  return tagOf(msg) === 'river:exit' && typeof (msg as ExitMessage).uuid === 'string';
}

/** `recv(isUndeliverableMessage)`: a message of ours that came back. */
export function isUndeliverableMessage(msg: unknown): msg is Received<UndeliverableMessage> {
  return tagOf(msg) === 'river:undeliverable' && typeof (msg as UndeliverableMessage).dest === 'string';
}

/** `recv(isStopMessage)`: the VM is stopping. */
export function isStopMessage(msg: unknown): msg is Received<StopMessage> {
  return tagOf(msg) === 'river:stop';
}

/** `recv(isSystemMessage)`: any message River made (`tag` starting with `river:`). */
export function isSystemMessage(msg: unknown): msg is Received<SystemMessage> {
  const tag = tagOf(msg);
  return typeof tag === 'string' && tag.startsWith('river:');
}
