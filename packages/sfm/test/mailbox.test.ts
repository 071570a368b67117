import { ANY, Mailbox, MailboxClosedError, TimeoutError, type Message } from '../src';

/** Settles pending promise callbacks. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Mailbox: selective receive', () => {
  test('recv takes the oldest matching message and leaves the others in arrival order', async () => {
    const mb = new Mailbox();
    mb.put({ tag: 'a', n: 1 });
    mb.put({ tag: 'b', n: 2 });
    mb.put({ tag: 'a', n: 3 });
    mb.put({ tag: 'b', n: 4 });
    await expect(mb.recv({ tag: 'b' })).resolves.toEqual({ tag: 'b', n: 2 });
    expect(mb.size).toBe(3);
    expect(mb.tryRecv()).toEqual({ tag: 'a', n: 1 });
    expect(mb.tryRecv()).toEqual({ tag: 'a', n: 3 });
    expect(mb.tryRecv()).toEqual({ tag: 'b', n: 4 });
    expect(mb.tryRecv()).toBeUndefined();
  });

  test('recv hands back the very object that was put', async () => {
    const mb = new Mailbox();
    const msg = { tag: 'x' };
    mb.put(msg);
    expect(await mb.recv()).toBe(msg);
  });

  test('a waiting receiver gets the first message that matches, later ones stay queued', async () => {
    const mb = new Mailbox();
    const got = mb.recv<{ tag: 'pong'; id: number }>({ tag: 'pong', id: 2 });
    mb.put({ tag: 'pong', id: 1 });
    mb.put({ tag: 'pong', id: 2 });
    mb.put({ tag: 'pong', id: 2, second: true });
    expect(await got).toEqual({ tag: 'pong', id: 2 });
    expect(mb.waiting).toBe(0);
    expect(mb.size).toBe(2);
    expect(mb.peek()).toEqual({ tag: 'pong', id: 1 });
  });

  test('concurrent receivers: each message goes to the earliest-waiting receiver that matches', async () => {
    const mb = new Mailbox();
    const order: string[] = [];
    const first = mb.recv({ tag: 'job' }).then((m) => order.push(`first:${String(m.n)}`));
    const other = mb.recv({ tag: 'other' }).then((m) => order.push(`other:${String(m.n)}`));
    const second = mb.recv({ tag: 'job' }).then((m) => order.push(`second:${String(m.n)}`));
    const any = mb.recv().then((m) => order.push(`any:${String(m.n)}`));
    mb.put({ tag: 'job', n: 1 });
    mb.put({ tag: 'job', n: 2 });
    mb.put({ tag: 'job', n: 3 });
    mb.put({ tag: 'other', n: 4 });
    await Promise.all([first, other, second, any]);
    expect(order.sort()).toEqual(['any:3', 'first:1', 'other:4', 'second:2']);
    expect(mb.size).toBe(0);
  });

  test('one message satisfies only one of two identical receivers', async () => {
    const mb = new Mailbox();
    const results: Message[] = [];
    void mb.recv({ tag: 'x' }).then((m) => results.push(m));
    void mb.recv({ tag: 'x' }).then((m) => results.push(m));
    mb.put({ tag: 'x', n: 1 });
    await flush();
    expect(results).toEqual([{ tag: 'x', n: 1 }]);
    expect(mb.waiting).toBe(1);
  });

  test('guard and predicate selectors', async () => {
    const mb = new Mailbox();
    const isBig = (m: Message): m is { n: number } => typeof m.n === 'number' && m.n > 10;
    mb.put({ n: 5 });
    mb.put({ n: 50 });
    const big = await mb.recv(isBig);
    expect(big.n).toBe(50);
    expect(mb.tryRecv((m) => m.n === 5)).toEqual({ n: 5 });
  });

  test('ANY requires the attribute to be present, even when undefined', () => {
    const mb = new Mailbox();
    mb.put({ tag: 'a' });
    mb.put({ tag: 'b', reply: undefined });
    expect(mb.peek({ reply: ANY })).toEqual({ tag: 'b', reply: undefined });
  });

  test('tryRecv removes, peek does not', () => {
    const mb = new Mailbox();
    mb.put({ tag: 'a' });
    mb.put({ tag: 'b' });
    expect(mb.peek({ tag: 'b' })).toEqual({ tag: 'b' });
    expect(mb.size).toBe(2);
    expect(mb.tryRecv({ tag: 'b' })).toEqual({ tag: 'b' });
    expect(mb.size).toBe(1);
    expect(mb.tryRecv({ tag: 'b' })).toBeUndefined();
    expect(mb.peek({ tag: 'b' })).toBeUndefined();
    // Taking the tail must keep appends working.
    mb.put({ tag: 'c' });
    expect(mb.tryRecv({ tag: 'c' })).toEqual({ tag: 'c' });
    mb.put({ tag: 'd' });
    expect([mb.tryRecv(), mb.tryRecv(), mb.tryRecv()]).toEqual([{ tag: 'a' }, { tag: 'd' }, undefined]);
  });
});

describe('Mailbox: timeouts and aborts', () => {
  test('timeout rejects with TimeoutError and the receiver leaves the queue', async () => {
    const mb = new Mailbox();
    const started = Date.now();
    const error: unknown = await mb.recv({ tag: 'never' }, { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(TimeoutError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_TIMEOUT', timeoutMs: 30, name: 'TimeoutError' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(mb.waiting).toBe(0);
    // A message arriving later is queued, not given to the timed-out receiver.
    mb.put({ tag: 'never' });
    expect(mb.size).toBe(1);
  });

  test('a queued match resolves at once even with timeoutMs 0', async () => {
    const mb = new Mailbox();
    mb.put({ tag: 'here' });
    await expect(mb.recv({ tag: 'here' }, { timeoutMs: 0 })).resolves.toEqual({ tag: 'here' });
  });

  test('a match arriving before the timeout wins, and the timer is cleared', async () => {
    jest.useFakeTimers();
    try {
      const mb = new Mailbox();
      const got = mb.recv({ tag: 'x' }, { timeoutMs: 1000 });
      jest.advanceTimersByTime(500);
      mb.put({ tag: 'x' });
      await expect(got).resolves.toEqual({ tag: 'x' });
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  test('a timeout too long for a Node timer means no timeout, not an immediate one', async () => {
    const mb = new Mailbox();
    const settled = jest.fn();
    const waiting = mb.recv({}, { timeoutMs: 2 ** 40 }).then(settled, settled);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).not.toHaveBeenCalled();
    mb.put({ late: true });
    await waiting;
    expect(settled).toHaveBeenCalledWith({ late: true });
  });

  test('invalid timeoutMs rejects with RangeError', async () => {
    await expect(new Mailbox().recv({}, { timeoutMs: -1 })).rejects.toThrow(RangeError);
    await expect(new Mailbox().recv({}, { timeoutMs: Number.NaN })).rejects.toThrow(RangeError);
  });

  test('abort rejects with the signal reason and removes the receiver', async () => {
    const mb = new Mailbox();
    const controller = new AbortController();
    const reason = new Error('stop waiting');
    const got = mb.recv({ tag: 'x' }, { signal: controller.signal });
    expect(mb.waiting).toBe(1);
    controller.abort(reason);
    await expect(got).rejects.toBe(reason);
    expect(mb.waiting).toBe(0);
    mb.put({ tag: 'x' });
    expect(mb.size).toBe(1);
  });

  test('an already aborted signal rejects at once and takes nothing', async () => {
    const mb = new Mailbox();
    mb.put({ tag: 'x' });
    const reason = new Error('too late');
    await expect(mb.recv({ tag: 'x' }, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(mb.size).toBe(1);
  });

  test('the abort listener is removed once the receiver is served', async () => {
    const mb = new Mailbox();
    const controller = new AbortController();
    const removed = jest.spyOn(controller.signal, 'removeEventListener');
    const got = mb.recv({}, { signal: controller.signal });
    mb.put({ n: 1 });
    await got;
    expect(removed).toHaveBeenCalledWith('abort', expect.any(Function));
  });

  test('a receiver removed by timeout does not disturb its neighbours', async () => {
    const mb = new Mailbox();
    const a = mb.recv({ tag: 'a' });
    const b = mb.recv({ tag: 'b' }, { timeoutMs: 5 });
    const c = mb.recv({ tag: 'c' });
    await expect(b).rejects.toThrow(TimeoutError);
    mb.put({ tag: 'c' });
    mb.put({ tag: 'a' });
    await expect(Promise.all([a, c])).resolves.toEqual([{ tag: 'a' }, { tag: 'c' }]);
  });
});

describe('Mailbox: predicates that throw', () => {
  test('in recv over the queue: that recv rejects', async () => {
    const mb = new Mailbox();
    mb.put({ n: 1 });
    const boom = new Error('boom');
    await expect(
      mb.recv({
        n: () => {
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expect(mb.size).toBe(1);
  });

  test('in a waiting receiver: that receiver rejects, the message goes on to the next', async () => {
    const mb = new Mailbox();
    const boom = new Error('boom');
    const bad = mb.recv(() => {
      throw boom;
    });
    const good = mb.recv({ n: 1 });
    mb.put({ n: 1 });
    await expect(bad).rejects.toBe(boom);
    await expect(good).resolves.toEqual({ n: 1 });
  });
});

describe('Mailbox: close and rejectReceivers', () => {
  test('close rejects waiting and later receivers, returns queued messages, drops later puts', async () => {
    const mb = new Mailbox();
    mb.put({ tag: 'left', n: 1 });
    mb.put({ tag: 'left', n: 2 });
    const waiting = mb.recv({ tag: 'never' });
    const reason = new Error('VR exited');
    expect(mb.close(reason)).toEqual([
      { tag: 'left', n: 1 },
      { tag: 'left', n: 2 },
    ]);
    await expect(waiting).rejects.toBe(reason);
    await expect(mb.recv()).rejects.toBe(reason);
    expect(mb.closed).toBe(true);
    expect(mb.put({ tag: 'late' })).toBe(false);
    expect(mb.size).toBe(0);
    expect(mb.close(new Error('again'))).toEqual([]);
    await expect(mb.recv()).rejects.toBe(reason);
  });

  test('close without a reason uses MailboxClosedError', async () => {
    const mb = new Mailbox();
    const waiting = mb.recv();
    mb.close();
    const error: unknown = await waiting.catch((e: unknown) => e);
    expect(MailboxClosedError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_MAILBOX_CLOSED' });
  });

  test('close clears the timers of waiting receivers', async () => {
    jest.useFakeTimers();
    try {
      const mb = new Mailbox();
      const waiting = mb.recv({}, { timeoutMs: 1000 });
      mb.close();
      await expect(waiting).rejects.toThrow(MailboxClosedError);
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  test('rejectReceivers fails only the receivers it picks', async () => {
    const mb = new Mailbox();
    const fromA = mb.recv({ src: 'A', tag: 'result' });
    const fromB = mb.recv({ src: 'B' });
    const any = mb.recv();
    const gone = new Error('A is gone');
    const count = mb.rejectReceivers((s) => typeof s === 'object' && s.src === 'A', gone);
    expect(count).toBe(1);
    await expect(fromA).rejects.toBe(gone);
    mb.put({ src: 'B' });
    mb.put({ src: 'C' });
    await expect(Promise.all([fromB, any])).resolves.toEqual([{ src: 'B' }, { src: 'C' }]);
  });
});

describe('Mailbox: scale', () => {
  test('a match behind 10,000 non-matching messages, repeatedly, keeps order and size right', async () => {
    const mb = new Mailbox();
    for (let i = 0; i < 10_000; i++) mb.put({ tag: 'noise', i });
    for (let i = 0; i < 200; i++) {
      mb.put({ tag: 'hit', i });
      expect((await mb.recv({ tag: 'hit' })).i).toBe(i);
    }
    expect(mb.size).toBe(10_000);
    expect(mb.tryRecv()).toEqual({ tag: 'noise', i: 0 });
  });
});
