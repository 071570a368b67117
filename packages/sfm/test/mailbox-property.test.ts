import { ANY, Mailbox, matches, type Message, type Pattern } from '../src';
import { Prng } from './prng';

/**
 * Random interleavings of senders and receivers, checked against a reference model (plain
 * arrays, scanned naively) and against the invariants themselves: no message lost or
 * duplicated, every receiver gets a message its pattern matches, per-pattern FIFO.
 */
const TAGS = ['a', 'b', 'c'] as const;

interface Sent extends Message {
  tag: string;
  k: number;
  seq: number;
}

function randomPattern(rng: Prng): Pattern {
  switch (rng.int(6)) {
    case 0:
      return {};
    case 1:
      return { tag: rng.pick(TAGS) };
    case 2:
      return { k: rng.int(3) };
    case 3:
      return { tag: rng.pick(TAGS), k: rng.int(3) };
    case 4: {
      const limit = rng.int(3);
      return { k: (v: unknown) => typeof v === 'number' && v <= limit };
    }
    default:
      return { seq: ANY, tag: rng.pick(TAGS) };
  }
}

interface ModelReceiver {
  id: number;
  pattern: Pattern;
  abort: AbortController;
}

async function runScenario(seed: number): Promise<void> {
  const rng = new Prng(seed);
  const mb = new Mailbox();
  const modelQueue: Sent[] = [];
  const modelWaiting: ModelReceiver[] = [];
  const expected = new Map<number, number>(); // receiver id -> seq it must get
  const actual = new Map<number, number>();
  const patterns = new Map<number, Pattern>();
  const aborted = new Set<number>();
  const taken: number[] = []; // seqs delivered, in delivery order (recv, tryRecv)
  const sent: Sent[] = [];
  let seq = 0;
  let nextReceiver = 0;

  const steps = 300 + rng.int(300);
  for (let step = 0; step < steps; step++) {
    const op = rng.int(100);
    if (op < 45) {
      const msg: Sent = { tag: rng.pick(TAGS), k: rng.int(3), seq: seq++ };
      sent.push(msg);
      const i = modelWaiting.findIndex((r) => matches(r.pattern, msg));
      if (i >= 0) {
        expected.set(modelWaiting[i].id, msg.seq);
        modelWaiting.splice(i, 1);
      } else {
        modelQueue.push(msg);
      }
      mb.put(msg);
    } else if (op < 85) {
      const id = nextReceiver++;
      const pattern = randomPattern(rng);
      const abort = new AbortController();
      patterns.set(id, pattern);
      const i = modelQueue.findIndex((m) => matches(pattern, m));
      if (i >= 0) {
        expected.set(id, modelQueue[i].seq);
        modelQueue.splice(i, 1);
      } else {
        modelWaiting.push({ id, pattern, abort });
      }
      mb.recv(pattern, { signal: abort.signal }).then(
        (m) => {
          actual.set(id, (m as Sent).seq);
          taken.push((m as Sent).seq);
        },
        () => aborted.add(id),
      );
    } else if (op < 92 && modelWaiting.length > 0) {
      // Abort a random waiting receiver.
      const [receiver] = modelWaiting.splice(rng.int(modelWaiting.length), 1);
      receiver.abort.abort(new Error('aborted'));
      expected.set(receiver.id, -1);
    } else if (op < 96) {
      const pattern = randomPattern(rng);
      const i = modelQueue.findIndex((m) => matches(pattern, m));
      const got = mb.tryRecv(pattern) as Sent | undefined;
      expect(got?.seq).toBe(i >= 0 ? modelQueue[i].seq : undefined);
      if (i >= 0) {
        taken.push(modelQueue[i].seq);
        modelQueue.splice(i, 1);
      }
    } else {
      const pattern = randomPattern(rng);
      const found = modelQueue.find((m) => matches(pattern, m));
      expect((mb.peek(pattern) as Sent | undefined)?.seq).toBe(found?.seq);
    }
    if (rng.chance(0.1)) await Promise.resolve();
  }
  await new Promise((resolve) => setImmediate(resolve));

  // The implementation made exactly the model's choices.
  for (const [id, seqWanted] of expected) {
    if (seqWanted === -1) expect(aborted.has(id)).toBe(true);
    else expect(actual.get(id)).toBe(seqWanted);
  }
  expect(mb.size).toBe(modelQueue.length);
  expect(mb.waiting).toBe(modelWaiting.length);

  // Invariants, stated directly.
  const remaining: number[] = [];
  for (let m = mb.tryRecv() as Sent | undefined; m; m = mb.tryRecv() as Sent | undefined) remaining.push(m.seq);
  const all = [...taken, ...remaining].sort((x, y) => x - y);
  expect(all).toEqual(sent.map((m) => m.seq)); // none lost, none duplicated
  const unclaimed = new Set(remaining);
  const violations: string[] = [];
  for (const [id, got] of actual) {
    const pattern = patterns.get(id) as Pattern;
    if (!matches(pattern, sent[got])) violations.push(`receiver ${id} got non-matching #${got}`);
    // Per-pattern FIFO: a receiver served with #got leaves no older match unclaimed for good.
    for (let older = 0; older < got; older++) {
      if (unclaimed.has(older) && matches(pattern, sent[older])) violations.push(`receiver ${id} got #${got} before #${older}`);
    }
  }
  expect(violations).toEqual([]);
  mb.close(); // reject the receivers still waiting
}

test.each(Array.from({ length: 60 }, (_, i) => 1000 + i))('random senders and receivers, seed %i', async (seed) => {
  await runScenario(seed);
});
