/** A set of strings that forgets its oldest entries past `max` (insertion order is age). */
export class RecentSet {
  readonly #max: number;
  readonly #set = new Set<string>();

  constructor(max: number) {
    this.#max = max;
  }

  has(key: string): boolean {
    return this.#set.has(key);
  }

  add(key: string): void {
    if (this.#set.has(key)) return;
    this.#set.add(key);
    if (this.#set.size > this.#max) this.#set.delete(this.#set.values().next().value!);
  }
}
