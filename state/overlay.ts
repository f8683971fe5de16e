/**
 * Staged writes over one committed version of the state. The executor reads and writes through an
 * overlay while it applies a block; nothing reaches the tree until the block commits, when
 * `writes()` goes into the tree's `prepare` in the same LevelDB batch as the block.
 *
 * `checkpoint()`/`revert()` let a transaction's payload be undone while its fee stays paid.
 * `nextStaged()` walks the staged keys in order (contract storage iteration): the order is built
 * once, when first asked for, and kept as keys are staged and reverted, so a step costs a binary
 * search rather than a sort of everything the block staged.
 */
import { toHex } from '../chain/bytes.ts';

/** What the overlay needs from the committed state. */
export interface StateReader {
  get(key: Uint8Array, version?: number): Promise<Uint8Array | undefined>;
}

interface Staged {
  key: Uint8Array;
  value: Uint8Array | null;
}

export class StateOverlay {
  readonly #base: StateReader;
  readonly #version: number | undefined;
  readonly #staged = new Map<string, Staged>();
  /** Undo log: the staged entry each write replaced (undefined = there was none). */
  #journal: { id: string; before: Staged | undefined }[] = [];
  /** The staged ids (hex, which sorts as the bytes do) in order, once nextStaged needs them. */
  #order: string[] | undefined;

  /** `version` undefined reads the base's latest committed version. */
  constructor(base: StateReader, version?: number) {
    this.#base = base;
    this.#version = version;
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const s = this.#staged.get(toHex(key));
    if (s) return s.value ?? undefined;
    return this.#base.get(key, this.#version);
  }

  set(key: Uint8Array, value: Uint8Array): void {
    this.#write(key, value);
  }

  delete(key: Uint8Array): void {
    this.#write(key, null);
  }

  #write(key: Uint8Array, value: Uint8Array | null): void {
    const id = toHex(key);
    const before = this.#staged.get(id);
    this.#journal.push({ id, before });
    this.#staged.set(id, { key: key.slice(), value: value === null ? null : value.slice() });
    if (before === undefined && this.#order !== undefined) this.#order.splice(lowerBound(this.#order, id), 0, id);
  }

  /** A mark to revert to; marks are positions in the undo log. */
  checkpoint(): number {
    return this.#journal.length;
  }

  revert(mark: number): void {
    if (!Number.isInteger(mark) || mark < 0 || mark > this.#journal.length) throw new RangeError(`no checkpoint ${mark}`);
    while (this.#journal.length > mark) {
      const { id, before } = this.#journal.pop()!;
      if (before) this.#staged.set(id, before);
      else {
        this.#staged.delete(id);
        if (this.#order !== undefined) this.#order.splice(lowerBound(this.#order, id), 1);
      }
    }
  }

  /** The staged writes in a fixed order (by key), null meaning delete. */
  writes(): [Uint8Array, Uint8Array | null][] {
    return [...this.#staged.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, s]) => [s.key, s.value]);
  }

  /**
   * The smallest key staged with a value (not deleted) that starts with `prefix` and is greater
   * than `after` (any key with the prefix when undefined).
   */
  nextStaged(prefix: Uint8Array, after: Uint8Array | undefined): Uint8Array | undefined {
    const order = (this.#order ??= [...this.#staged.keys()].sort());
    const p = toHex(prefix);
    const a = after === undefined ? undefined : toHex(after);
    let i = lowerBound(order, a !== undefined && a > p ? a : p);
    if (order[i] === a) i++;
    for (; i < order.length && order[i]!.startsWith(p); i++) {
      const s = this.#staged.get(order[i]!)!;
      if (s.value !== null) return s.key.slice();
    }
    return undefined;
  }

  /** Whether `key` is staged as deleted. */
  deletes(key: Uint8Array): boolean {
    return this.#staged.get(toHex(key))?.value === null;
  }

  get size(): number {
    return this.#staged.size;
  }
}

/** The first index of sorted `xs` whose element is not below `x`. */
function lowerBound(xs: readonly string[], x: string): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
