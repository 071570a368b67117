/**
 * The objects a session holds for its initiator, each under an id that is never reused.
 * An object sent twice keeps its id; its count says how many times it was sent and not yet
 * released, so a release that crosses a fresh copy of the reference on the wire leaves it alive.
 */
export class HandleTable {
  private nextId = 1;
  private readonly byId = new Map<number, { object: object; count: number }>();
  private readonly idOf = new Map<object, number>();

  /** Registers one more sending of `object`; returns its id. */
  add(object: object): number {
    let id = this.idOf.get(object);
    if (id === undefined) {
      id = this.nextId++;
      this.idOf.set(object, id);
      this.byId.set(id, { object, count: 1 });
    } else {
      this.byId.get(id)!.count++;
    }
    return id;
  }

  get(id: number): object | undefined {
    return this.byId.get(id)?.object;
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  /** Drops `count` sendings of `id`; forgets the object when none is left. */
  release(id: number, count: number): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    entry.count -= count;
    if (entry.count <= 0) {
      this.byId.delete(id);
      this.idOf.delete(entry.object);
    }
  }

  clear(): void {
    this.byId.clear();
    this.idOf.clear();
  }

  get size(): number {
    return this.byId.size;
  }

  get references(): number {
    let total = 0;
    for (const entry of this.byId.values()) total += entry.count;
    return total;
  }
}
