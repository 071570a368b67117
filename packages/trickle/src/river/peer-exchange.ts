/**
 * How the sessions of one initiator hand accumulators to each other over River (forkWork
 * `reduce`): a session sends its accumulator straight to another session's RAI VR, which folds
 * it; the initiator only says who gives to whom.
 *
 * Who may deposit: a session accepts a deposit only when its own initiator told it beforehand to
 * expect exactly that deposit (run, deposit number) from exactly that sender (`expect`). Anything
 * else — a session of another initiator, a deposit nobody announced — is refused at once: the
 * sender is told (`refused`) and nothing reaches the accumulator. The run id is a random UUID
 * only the initiator and its sessions know.
 *
 * ```
 * giver A                                     receiver B
 *   │ { tag: 'trickle:deposit', run, deposit, value, chunks } ─────────►  (expected from A?)
 *   │ ◄──────────────────── { tag: 'trickle:deposit-ack', run, deposit [, refused] }
 * ```
 */
import type { Message } from '@river/sfm';
import type { VirtualResource } from '@river/engine';
import { MAX_RUNS } from '../protocol';
import type { Accumulated, PeerExchange } from '../server/accumulators';
import { RaiFailure } from '../server/error-info';

export const DEPOSIT_TAG = 'trickle:deposit';
export const DEPOSIT_ACK_TAG = 'trickle:deposit-ack';
const UNDELIVERABLE = 'river:undeliverable';
/** Deposits a session waits for at once (a run's combining expects at most one per round). */
const MAX_EXPECTED = 4 * MAX_RUNS;

const key = (run: unknown, deposit: unknown) => `${String(run)}\u0000${String(deposit)}`;

/** River's "that VR is gone" errors. */
function isGone(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'RIVER_VR_EXITED' || code === 'RIVER_VR_LOST' || code === 'RIVER_UNKNOWN_VR' || code === 'RIVER_PEER_LOST';
}

function isChunkList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((n) => Number.isSafeInteger(n));
}

export class RiverPeerExchange implements PeerExchange {
  readonly address: string;
  /** Deposits announced by the initiator: key → the sender it must come from. */
  private readonly expected = new Map<string, string>();
  /** Deposits sent and not yet acknowledged: key → the receiver. */
  private readonly sending = new Map<string, string>();

  constructor(private readonly vr: VirtualResource) {
    this.address = vr.uuid;
  }

  expect(run: string, from: string, deposit: number): void {
    if (this.expected.size >= MAX_EXPECTED) throw new RaiFailure('BAD_REQUEST', `too many deposits expected at once (at most ${MAX_EXPECTED})`, { name: 'RangeError' });
    this.expected.set(key(run, deposit), from);
  }

  /** Whether a message from another VR is one this session waits for (left in the mailbox for it). */
  awaits(msg: Message): boolean {
    if (msg.tag === DEPOSIT_TAG) return this.expected.get(key(msg.run, msg.deposit)) === msg.src;
    if (msg.tag === DEPOSIT_ACK_TAG) return this.sending.get(key(msg.run, msg.deposit)) === msg.src;
    if (msg.tag === UNDELIVERABLE) {
      const bounced = msg.message as Message | undefined;
      return bounced?.tag === DEPOSIT_TAG && this.sending.get(key(bounced.run, bounced.deposit)) === msg.src;
    }
    return false;
  }

  /** A message from another VR that nothing waits for: a deposit is refused (the sender is told); the rest is dropped. */
  stray(msg: Message): void {
    if (msg.tag !== DEPOSIT_TAG || typeof msg.src !== 'string') return;
    try {
      this.vr.send(msg.src, { tag: DEPOSIT_ACK_TAG, run: String(msg.run), deposit: Number(msg.deposit), refused: 'this session was not told to expect that deposit from you (only sessions of its own initiator, as it directs, may send it accumulators)' });
    } catch {
      // The refusal could not be encoded or sent: the sender's wait ends when its run does.
    }
  }

  async receive(run: string, from: string, deposit: number, signal: AbortSignal): Promise<Accumulated> {
    const k = key(run, deposit);
    if (this.expected.get(k) !== from) throw new RaiFailure('BAD_REQUEST', `deposit ${deposit} from ${from} was not announced (expect it first)`);
    try {
      const msg = await this.vr.recv<Message>({ src: from, tag: DEPOSIT_TAG, run, deposit }, { signal });
      this.vr.send(from, { tag: DEPOSIT_ACK_TAG, run, deposit });
      if (!isChunkList(msg.chunks)) throw new RaiFailure('BAD_REQUEST', `deposit ${deposit} from ${from} is malformed (no chunk list)`);
      return { value: msg.value, chunks: msg.chunks };
    } catch (error) {
      if (isGone(error)) throw new RaiFailure('PEER_LOST', `the session that was to send its accumulator (${from}) is gone`, { cause: error });
      throw error;
    } finally {
      this.expected.delete(k);
    }
  }

  async send(run: string, to: string, deposit: number, acc: Accumulated, signal: AbortSignal): Promise<void> {
    const k = key(run, deposit);
    this.sending.set(k, to);
    try {
      try {
        this.vr.send(to, { tag: DEPOSIT_TAG, run, deposit, value: acc.value, chunks: acc.chunks });
      } catch (error) {
        throw new RaiFailure('UNSERIALIZABLE', `cannot send the accumulator: ${error instanceof Error ? error.message : String(error)}`, { name: 'TypeError', cause: error });
      }
      const reply = await this.vr.recv<Message>(
        {
          src: to,
          tag: (tag: unknown) => tag === DEPOSIT_ACK_TAG || tag === UNDELIVERABLE,
          run: (r: unknown) => r === run || r === undefined,
          deposit: (d: unknown) => d === deposit || d === undefined,
          message: (m: unknown) => m === undefined || ((m as Message).run === run && (m as Message).deposit === deposit),
        },
        { signal },
      );
      if (reply.tag === UNDELIVERABLE) {
        const error = reply.error as { code?: unknown; message?: unknown } | undefined;
        if (error?.code === 'RIVER_MESSAGE_TOO_LARGE') {
          throw new RaiFailure('UNSERIALIZABLE', `the accumulator is too large for one message: ${String(error.message)}`, { name: 'RangeError', cause: error });
        }
        throw new RaiFailure('PEER_LOST', `the session to receive the accumulator (${to}) is gone`, { cause: error });
      }
      if (typeof reply.refused === 'string') throw new RaiFailure('REFUSED', `the session ${to} refused the accumulator: ${reply.refused}`);
    } catch (error) {
      if (isGone(error)) throw new RaiFailure('PEER_LOST', `the session to receive the accumulator (${to}) is gone`, { cause: error });
      throw error;
    } finally {
      this.sending.delete(k);
    }
  }

  forget(run: string): void {
    for (const k of [...this.expected.keys()]) if (k.startsWith(`${run}\u0000`)) this.expected.delete(k);
    // Deposits of the run that arrived and were never taken.
    while (this.vr.tryRecv({ tag: DEPOSIT_TAG, run }) !== undefined);
  }
}
