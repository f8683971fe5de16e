/**
 * Staged writes over one committed version of the state. The executor reads and writes through an
 * overlay while it applies a block; nothing reaches the tree until the block commits, when
 * `writes()` goes into the tree's `prepare` in the same LevelDB batch as the block.
 *
 * `checkpoint()`/`revert()` let a transaction's payload be undone while its fee stays paid.
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
    this.#journal.push({ id, before: this.#staged.get(id) });
    this.#staged.set(id, { key: key.slice(), value: value === null ? null : value.slice() });
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
      else this.#staged.delete(id);
    }
  }

  /** The staged writes in a fixed order (by key), null meaning delete. */
  writes(): [Uint8Array, Uint8Array | null][] {
    return [...this.#staged.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, s]) => [s.key, s.value]);
  }

  /** The staged writes whose key starts with `prefix`, in key order, null meaning delete. */
  staged(prefix: Uint8Array): [Uint8Array, Uint8Array | null][] {
    const p = toHex(prefix);
    return [...this.#staged.entries()]
      .filter(([id]) => id.startsWith(p))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, s]) => [s.key, s.value]);
  }

  get size(): number {
    return this.#staged.size;
  }
}
