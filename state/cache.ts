/**
 * A bounded cache with approximate least-recently-used eviction, O(1) per operation: entries live
 * in a young and an old generation; a hit in the old one moves the entry to the young one; when the
 * young generation fills half the capacity, the old one is dropped wholesale and the young one
 * becomes old. (Evicting one entry at a time from the front of a Map degrades badly in V8: the
 * deleted slots at the front are rescanned by every eviction until the table is rehashed.)
 *
 * The capacity is in the units of `weigh` (default: each entry weighs 1, so it counts entries;
 * weighing entries by their bytes bounds the cache's memory instead). `maxEntries`, if given,
 * bounds the count as well.
 */
export class LruCache<K, V> {
  readonly capacity: number;
  readonly #half: number;
  readonly #maxEntries: number;
  readonly #halfEntries: number;
  readonly #weigh: (v: V) => number;
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  #youngWeight = 0;
  #oldWeight = 0;

  constructor(capacity: number, weigh: (v: V) => number = () => 1, maxEntries = Infinity) {
    this.capacity = capacity;
    this.#half = Math.max(1, Math.floor(capacity / 2));
    this.#maxEntries = maxEntries;
    this.#halfEntries = Math.max(1, Math.floor(maxEntries / 2));
    this.#weigh = weigh;
  }

  /** Entries held (an entry replaced since the last rotation may count twice). */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  /** The weight of the entries held (at most about the capacity). */
  get weight(): number {
    return this.#youngWeight + this.#oldWeight;
  }

  get(key: K): V | undefined {
    const v = this.#young.get(key);
    if (v !== undefined) return v;
    const o = this.#old.get(key);
    if (o !== undefined) {
      this.#old.delete(key);
      this.#oldWeight -= this.#weigh(o);
      this.#insert(key, o);
    }
    return o;
  }

  /** Adds or replaces an entry (a replaced entry of the old generation lingers until it is dropped, unseen). */
  set(key: K, value: V): void {
    if (this.capacity <= 0 || this.#maxEntries <= 0) return;
    const had = this.#young.get(key);
    if (had !== undefined) {
      this.#young.delete(key);
      this.#youngWeight -= this.#weigh(had);
    }
    this.#insert(key, value);
  }

  delete(key: K): void {
    const y = this.#young.get(key);
    if (y !== undefined) {
      this.#young.delete(key);
      this.#youngWeight -= this.#weigh(y);
    }
    const o = this.#old.get(key);
    if (o !== undefined) {
      this.#old.delete(key);
      this.#oldWeight -= this.#weigh(o);
    }
  }

  clear(): void {
    this.#young.clear();
    this.#old.clear();
    this.#youngWeight = 0;
    this.#oldWeight = 0;
  }

  #insert(key: K, value: V): void {
    const w = this.#weigh(value);
    if (this.#youngWeight + w > this.#half || this.#young.size >= this.#halfEntries) {
      this.#old = this.#young;
      this.#oldWeight = this.#youngWeight;
      this.#young = new Map();
      this.#youngWeight = 0;
    }
    this.#young.set(key, value);
    this.#youngWeight += w;
  }
}
