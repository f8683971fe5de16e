/**
 * What the chain asks of Groth16 verification, in the binary forms of zk/encoding.ts: the
 * `Verifier` interface, the answers both of its implementations give, and the inline one (on the
 * calling thread: tests, tools, and a node configured with no verifier threads). The pool of
 * worker threads (zk/pool.ts) gives the same answers without blocking the caller's event loop.
 *
 * Items name their key by hash and carry its bytes; an implementation keeps prepared keys (an LRU
 * by hash) so a key is read by the rule and prepared once, not per proof. An item's answer depends
 * only on the key bytes, proof and signals, never on which other items share its call.
 */
import { decodeKey, decodeProof, decodeSignals } from './encoding.ts';
import { ZkError, type ZkErrorCode } from './errors.ts';
import { parseProof, parseSignals } from './parse.ts';
import { findInvalid, prepareKey, verifyBatch, verifyOne, type BatchItem, type PreparedKey } from './verify.ts';
import type { Curve } from './curve.ts';

/** Why a proof was refused: a code of the validity rule, or 'invalid_proof' (the equation fails). */
export type RefusalCode = ZkErrorCode | 'invalid_proof';

export interface VerifyItem {
  /** SHA-256 of `key` (zk/encoding.ts keyHash); the caller computed it, the verifier trusts it. */
  readonly keyHash: Uint8Array;
  /** The key's canonical bytes. */
  readonly key: Uint8Array;
  /** 256 bytes. */
  readonly proof: Uint8Array;
  /** n × 32 bytes. */
  readonly signals: Uint8Array;
}

export type Answer = { readonly ok: true } | { readonly ok: false; readonly code: RefusalCode; readonly message: string };
/** verifyAll's answer: all valid, or the first invalid item's index and why. */
export type AllAnswer = { readonly ok: true } | { readonly ok: false; readonly index: number; readonly code: RefusalCode; readonly message: string };

export interface Verifier {
  /** An answer for every item, in order. */
  verifyEach(items: readonly VerifyItem[]): Promise<Answer[]>;
  /** Whether all items are valid; if not, the lowest index of an invalid one (work left for the request is dropped). */
  verifyAll(items: readonly VerifyItem[]): Promise<AllAnswer>;
  /** Stops the verifier; calls after it are refused. */
  close(): Promise<void>;
}

export const VALID: Answer = Object.freeze({ ok: true });
export const EQUATION = 'proof: the pairing equation does not hold';

/** One item read from its binary forms by the rule (rules 2 and 3), or why not. */
export function readBinary(pk: PreparedKey, proof: Uint8Array, signals: Uint8Array): BatchItem | ZkError {
  try {
    return { proof: parseProof(pk.curve, decodeProof(proof)), signals: parseSignals(pk.curve, pk.nPublic, decodeSignals(signals)) };
  } catch (e) {
    if (e instanceof ZkError) return e;
    throw e;
  }
}

type Pair = { readonly proof: Uint8Array; readonly signals: Uint8Array };

/** Every item of one key answered by the batch path (read all, batch, halve a failed batch). */
export function answerGroup(pk: PreparedKey, items: readonly Pair[]): Answer[] {
  return answerRead(pk, items.map((it) => readBinary(pk, it.proof, it.signals)));
}

/** Items already read by the rule (or refused by it), answered by the batch path. */
export function answerRead(pk: PreparedKey, reads: readonly (BatchItem | ZkError)[]): Answer[] {
  const answers: Answer[] = new Array(reads.length);
  const readable: BatchItem[] = [];
  const at: number[] = [];
  reads.forEach((read, i) => {
    if (read instanceof ZkError) answers[i] = { ok: false, code: read.code, message: read.message };
    else {
      answers[i] = VALID;
      readable.push(read);
      at.push(i);
    }
  });
  for (const j of findInvalid(pk, readable)) answers[at[j]!] = { ok: false, code: 'invalid_proof', message: EQUATION };
  return answers;
}

/**
 * The first invalid item of one key (its index in `items`), or -1: items are read in order and the
 * first one the rule refuses ends the search; then the readable ones before it are batch-checked,
 * and a failed range is halved left half first, so the work stops at the first invalid proof.
 */
export function firstInvalid(pk: PreparedKey, items: readonly Pair[]): { index: number; answer: Answer } {
  const readable: BatchItem[] = [];
  let refused: { index: number; answer: Answer } = { index: -1, answer: VALID };
  for (let i = 0; i < items.length; i++) {
    const read = readBinary(pk, items[i]!.proof, items[i]!.signals);
    if (read instanceof ZkError) {
      refused = { index: i, answer: { ok: false, code: read.code, message: read.message } };
      break;
    }
    readable.push(read);
  }
  const first = (from: number, to: number): number => {
    if (to - from === 1) return verifyOne(pk, readable[from]!.proof, readable[from]!.signals) ? -1 : from;
    if (verifyBatch(pk, readable.slice(from, to))) return -1;
    const mid = (from + to) >> 1;
    const left = first(from, mid);
    return left >= 0 ? left : first(mid, to);
  };
  const bad = readable.length === 0 ? -1 : first(0, readable.length);
  return bad >= 0 ? { index: bad, answer: { ok: false, code: 'invalid_proof', message: EQUATION } } : refused;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Prepared keys by hash, least recently used dropped first; a key that is not valid is kept as its error. */
export class KeyCache {
  readonly #max: number;
  readonly #curve: Curve | undefined;
  readonly #keys = new Map<string, PreparedKey | ZkError>();

  constructor(max = 64, curve?: Curve) {
    this.#max = max;
    this.#curve = curve;
  }

  async get(keyHash: Uint8Array, key: Uint8Array): Promise<PreparedKey | ZkError> {
    const id = hex(keyHash);
    let pk = this.#keys.get(id);
    if (pk !== undefined) {
      this.#keys.delete(id);
    } else {
      try {
        pk = await prepareKey(decodeKey(key), this.#curve);
      } catch (e) {
        if (!(e instanceof ZkError)) throw e;
        pk = e;
      }
    }
    this.#keys.set(id, pk);
    if (this.#keys.size > this.#max) this.#keys.delete(this.#keys.keys().next().value!);
    return pk;
  }

  has(keyHash: Uint8Array): boolean {
    return this.#keys.has(hex(keyHash));
  }
}

/** Items grouped by key hash, in order of first appearance, with their indices. */
export function groupByKey<T extends { keyHash: Uint8Array }>(items: readonly T[]): { keyHash: Uint8Array; indices: number[] }[] {
  const groups = new Map<string, { keyHash: Uint8Array; indices: number[] }>();
  items.forEach((it, i) => {
    const id = hex(it.keyHash);
    let g = groups.get(id);
    if (g === undefined) groups.set(id, (g = { keyHash: it.keyHash, indices: [] }));
    g.indices.push(i);
  });
  return [...groups.values()];
}

function keyRefusal(e: ZkError): Answer {
  return { ok: false, code: e.code, message: e.message };
}

/** Verification on the calling thread (blocks it for the whole call: ~2.5 ms a proof in batches, ~7 ms alone). */
export class InlineVerifier implements Verifier {
  readonly #keys: KeyCache;
  #closed = false;

  constructor(options: { keyCache?: number } = {}) {
    this.#keys = new KeyCache(options.keyCache ?? 64);
  }

  async verifyEach(items: readonly VerifyItem[]): Promise<Answer[]> {
    this.#open();
    const answers: Answer[] = new Array(items.length);
    for (const g of groupByKey(items)) {
      const pk = await this.#keys.get(g.keyHash, items[g.indices[0]!]!.key);
      const got = pk instanceof ZkError ? g.indices.map(() => keyRefusal(pk)) : answerGroup(pk, g.indices.map((i) => items[i]!));
      g.indices.forEach((i, j) => (answers[i] = got[j]!));
    }
    return answers;
  }

  async verifyAll(items: readonly VerifyItem[]): Promise<AllAnswer> {
    this.#open();
    let best: AllAnswer = { ok: true };
    for (const g of groupByKey(items)) {
      // Only items before the best refusal so far can change the answer.
      const limit: number = best.ok ? Infinity : best.index;
      const indices: number[] = g.indices.filter((i) => i < limit);
      if (indices.length === 0) continue;
      const pk = await this.#keys.get(g.keyHash, items[indices[0]!]!.key);
      const found = pk instanceof ZkError ? { index: 0, answer: keyRefusal(pk) } : firstInvalid(pk, indices.map((i) => items[i]!));
      if (found.index >= 0 && !found.answer.ok) best = { ok: false, index: indices[found.index]!, code: found.answer.code, message: found.answer.message };
    }
    return best;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new Error('zk: the verifier is closed');
  }
}

/**
 * A verifier made on first use: a node that never sees a proof never starts a pool's threads
 * (each builds its curve, ~0.3 s). close() closes it if it was made.
 */
export class LazyVerifier implements Verifier {
  readonly #make: () => Verifier;
  #made: Verifier | null = null;
  #closed = false;

  constructor(make: () => Verifier) {
    this.#make = make;
  }

  #get(): Verifier {
    if (this.#closed) throw new Error('zk: the verifier is closed');
    this.#made ??= this.#make();
    return this.#made;
  }

  async verifyEach(items: readonly VerifyItem[]): Promise<Answer[]> {
    return this.#get().verifyEach(items);
  }

  async verifyAll(items: readonly VerifyItem[]): Promise<AllAnswer> {
    return this.#get().verifyAll(items);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#made?.close();
  }
}
