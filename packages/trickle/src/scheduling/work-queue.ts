/**
 * Where forkWork's chunks come from. The default hands out the work list in order, `chunksize`
 * items at a time; a different queue (priorities, work produced on the fly) plugs in through
 * the `queue` option.
 */

/** One unit handed to a VM: `arg` is what the worker function receives. */
export interface Chunk<W> {
  /** Position in work order (0, 1, 2…): `ordered` results follow it. */
  readonly index: number;
  /** The work items in this chunk (their count feeds onProgress). */
  readonly items: readonly W[];
  /** The argument the function gets: the item itself, or the array of items with `chunksize`. */
  readonly arg: W | readonly W[];
}

export interface WorkQueue<W> {
  /** The next chunk, or undefined when there is no more work. */
  next(): Chunk<W> | undefined;
  /** Total number of work items, when known (for onProgress). */
  readonly total: number | undefined;
}

/** The work list in order, one item per call or `chunksize` items per call. */
export class ChunkQueue<W> implements WorkQueue<W> {
  private position = 0;
  private index = 0;
  readonly total: number;

  constructor(
    private readonly work: readonly W[],
    private readonly chunksize?: number,
  ) {
    if (chunksize !== undefined && (!Number.isInteger(chunksize) || chunksize < 1)) {
      throw new RangeError(`chunksize must be a positive integer, got ${String(chunksize)}`);
    }
    this.total = work.length;
  }

  next(): Chunk<W> | undefined {
    if (this.position >= this.work.length) return undefined;
    if (this.chunksize === undefined) {
      const item = this.work[this.position++]!;
      return { index: this.index++, items: [item], arg: item };
    }
    const items = this.work.slice(this.position, this.position + this.chunksize);
    this.position += items.length;
    return { index: this.index++, items, arg: items };
  }
}

/**
 * Work from an iterable that is not an array (a generator, a stream of lines…), read lazily: an
 * item is taken from it only when its chunk is handed out, so the whole input never has to be in
 * memory, and an endless generator works with forkGen. The total is unknown.
 */
export class IterableChunkQueue<W> implements WorkQueue<W> {
  private readonly iterator: Iterator<W>;
  private index = 0;
  private done = false;
  readonly total = undefined;

  constructor(
    work: Iterable<W>,
    private readonly chunksize?: number,
  ) {
    if (chunksize !== undefined && (!Number.isInteger(chunksize) || chunksize < 1)) {
      throw new RangeError(`chunksize must be a positive integer, got ${String(chunksize)}`);
    }
    this.iterator = work[Symbol.iterator]();
  }

  next(): Chunk<W> | undefined {
    if (this.done) return undefined;
    const items: W[] = [];
    const want = this.chunksize ?? 1;
    while (items.length < want) {
      const step = this.iterator.next();
      if (step.done) {
        this.done = true;
        break;
      }
      items.push(step.value);
    }
    if (items.length === 0) return undefined;
    return { index: this.index++, items, arg: this.chunksize === undefined ? items[0]! : items };
  }
}
