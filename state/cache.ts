/**
 * A bounded cache with approximate least-recently-used eviction, O(1) per operation: entries live
 * in a young and an old generation; a hit in the old one moves the entry to the young one; when the
 * young generation fills half the capacity, the old one is dropped wholesale and the young one
 * becomes old. (Evicting one entry at a time from the front of a Map degrades badly in V8: the
 * deleted slots at the front are rescanned by every eviction until the table is rehashed.)
 */
export class LruCache<K, V> {
  readonly capacity: number;
  readonly #half: number;
  #young = new Map<K, V>();
  #old = new Map<K, V>();

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#half = Math.max(1, Math.floor(capacity / 2));
  }

  /** Entries held (at most the capacity; an entry replaced since the last rotation may count twice). */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  get(key: K): V | undefined {
    const v = this.#young.get(key);
    if (v !== undefined) return v;
    const o = this.#old.get(key);
    if (o !== undefined) {
      this.#old.delete(key);
      this.#insert(key, o);
    }
    return o;
  }

  /** Adds or replaces an entry (a replaced entry of the old generation lingers until it is dropped, unseen). */
  set(key: K, value: V): void {
    if (this.capacity <= 0) return;
    this.#insert(key, value);
  }

  delete(key: K): void {
    this.#young.delete(key);
    this.#old.delete(key);
  }

  clear(): void {
    this.#young.clear();
    this.#old.clear();
  }

  #insert(key: K, value: V): void {
    if (this.#young.size >= this.#half) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }
}
