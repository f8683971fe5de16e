/**
 * A binary min-heap ordered by `before(a, b)` ("a comes out first"). With `moved`, the heap reports
 * every item's new index as it moves, so an item can later be removed from the middle in O(log n)
 * (`removeAt`); the mempool uses that for its index of evictable transactions.
 */
export class Heap<T> {
  readonly #items: T[];
  readonly #before: (a: T, b: T) => boolean;
  readonly #moved: ((item: T, index: number) => void) | undefined;

  /** `items`, if given, is taken over (not copied) and heapified in O(n). */
  constructor(before: (a: T, b: T) => boolean, moved?: (item: T, index: number) => void, items: T[] = []) {
    this.#before = before;
    this.#moved = moved;
    this.#items = items;
    for (let i = 0; i < items.length; i++) moved?.(items[i]!, i);
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  get size(): number {
    return this.#items.length;
  }

  /** The item at heap index `i` (0 is the first out); children of i are at 2i+1 and 2i+2. */
  at(i: number): T | undefined {
    return this.#items[i];
  }

  push(item: T): void {
    this.#items.push(item);
    this.#up(this.#items.length - 1);
  }

  pop(): T | undefined {
    return this.#items.length === 0 ? undefined : this.removeAt(0);
  }

  removeAt(i: number): T {
    const items = this.#items;
    const item = items[i];
    if (item === undefined) throw new RangeError(`heap index ${i} out of range (size ${items.length})`);
    const last = items.pop()!;
    if (i < items.length) {
      this.#place(i, last);
      this.#down(i);
      this.#up(i);
    }
    return item;
  }

  #place(i: number, item: T): void {
    this.#items[i] = item;
    this.#moved?.(item, i);
  }

  #up(i: number): void {
    const items = this.#items;
    const item = items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!this.#before(item, p)) break;
      this.#place(i, p);
      i = parent;
    }
    this.#place(i, item);
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const item = items[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.#before(items[child + 1]!, items[child]!)) child++;
      const c = items[child]!;
      if (!this.#before(c, item)) break;
      this.#place(i, c);
      i = child;
    }
    this.#place(i, item);
  }
}
