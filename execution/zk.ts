/**
 * Groth16 proofs on chain (protocol 3): verification keys in the state, the proofs a call carries,
 * what the groth16_verify host function asks, and a cache of answers.
 *
 * State key (in the authenticated tree):
 *   0x20 || keyHash -> [key bytes (zk/encoding.ts), registrant address, height]
 *
 * Verification never runs on the state: an answer is a function of (key bytes, proof, signals)
 * alone, so it may be computed anywhere (the verifier pool's threads, the mempool at admission,
 * before a block's sequential execution) and kept in the cache keyed by SHA-256(keyHash || proof ||
 * signals). What depends on the state, whether a key is registered, is read by the transaction
 * when it runs. Gas depends only on the transaction and the contract's arguments, never on where
 * or whether an answer was cached.
 */
import type { Address } from '../chain/address.ts';
import { concatBytes, equalBytes, toHex } from '../chain/bytes.ts';
import { bytes, decodeCanonical, encodeCanonical, tuple, uint } from '../chain/codec.ts';
import { CodedError } from '../chain/errors.ts';
import { sha256 } from '../chain/hash.ts';
import { Lru } from '../chain/lru.ts';
import type { Event } from '../chain/receipt.ts';
import { MAX_ZK_KEY_BYTES, type AttachedProof, type SignedTransaction } from '../chain/tx.ts';
import type { StateOverlay } from '../state/overlay.ts';
import { GAS as VM_GAS } from '../vm/limits.ts';
import { bn254, decodeKey, keyHash, parseKey, ZkError, type AllAnswer, type Answer, type RefusalCode, type Verifier, type VerifyItem } from '../zk/groth16.ts';

const ZK_KEY = 0x20;
export const zkKeyKey = (hash: Uint8Array): Uint8Array => concatBytes(Uint8Array.of(ZK_KEY), hash);

/**
 * Gas, priced by time as vm/limits.ts is (~0.65 ns a gas), each for its worst case on one
 * verifier thread (bench/gas-zk.ts measures them). A proof (the host function's price,
 * vm/limits.ts): ~12 ms in a block of invalid ones (two failed batch passes, then alone; a valid
 * one costs ~2.9 ms in a batch of 16, ~6.6 ms alone). A key: read by the rule, ~2.6 ms for the
 * three G2 subgroup checks, then ~0.5 us a byte (each 64-byte IC point decoded and checked on
 * the curve).
 */
export const ZK_GAS = Object.freeze({ keyBase: 6_000_000, keyByte: 800, proof: VM_GAS.host.groth16, signal: VM_GAS.host.groth16Signal });

export function zkKeyGas(keyBytes: number): number {
  return ZK_GAS.keyBase + ZK_GAS.keyByte * keyBytes;
}

/** Gas of proofs carried by a call or passed to groth16_verify: per proof and per public signal. */
export function proofGas(proofs: readonly { signals: Uint8Array }[]): number {
  return proofs.reduce((sum, p) => sum + ZK_GAS.proof + ZK_GAS.signal * (p.signals.length / 32), 0);
}

export type ZkRefusalCode = RefusalCode | 'key_registered' | 'unknown_key';

/** A key registration or a carried proof the chain refuses: receipt status zk_refused, `code: message`. */
export class ZkRefusal extends CodedError<ZkRefusalCode> {}

export interface ZkKeyRecord {
  key: Uint8Array;
  registrant: Address;
  height: number;
}

/** A key record as stored under zkKeyKey. */
export function decodeZkKeyRecord(raw: Uint8Array): ZkKeyRecord {
  const [key, registrant, height] = tuple(decodeCanonical(raw, 'zk key record', MAX_ZK_KEY_BYTES + 64), 3, 'zk key record');
  return { key: bytes(key, 'zk key', { max: MAX_ZK_KEY_BYTES }), registrant: bytes(registrant, 'zk key registrant', 20), height: uint(height, 'zk key height') };
}

export async function readZkKey(overlay: StateOverlay, hash: Uint8Array): Promise<ZkKeyRecord | undefined> {
  const raw = await overlay.get(zkKeyKey(hash));
  return raw === undefined ? undefined : decodeZkKeyRecord(raw);
}

function itemOf(key: Uint8Array, hash: Uint8Array, p: AttachedProof | { proof: Uint8Array; signals: Uint8Array }): VerifyItem {
  return { keyHash: hash, key, proof: p.proof, signals: p.signals };
}

function cacheKey(it: VerifyItem): string {
  return toHex(sha256(concatBytes(it.keyHash, it.proof, it.signals)));
}

/** Answers to the proofs of each transaction of a block (undefined: none carried, or a key not found). */
export type BlockAnswers = readonly (readonly (Answer | undefined)[] | undefined)[];

export class Zk {
  readonly verifier: Verifier;
  readonly #answers: Lru<string, Answer>;

  constructor(verifier: Verifier, cacheSize = 16_384) {
    this.verifier = verifier;
    this.#answers = new Lru(cacheSize);
  }

  /** Registers `key` (refused: not valid by the rule, or registered already). */
  async register(overlay: StateOverlay, key: Uint8Array, registrant: Address, height: number): Promise<Event[]> {
    try {
      parseKey(await bn254(), decodeKey(key));
    } catch (e) {
      if (e instanceof ZkError) throw new ZkRefusal(e.code, e.message);
      throw e;
    }
    const hash = keyHash(key);
    if ((await overlay.get(zkKeyKey(hash))) !== undefined) throw new ZkRefusal('key_registered', `verification key ${toHex(hash)} is registered already`);
    overlay.set(zkKeyKey(hash), encodeCanonical([key, registrant, height]));
    return [{ type: 'zk_key', attributes: [['hash', toHex(hash)], ['n_public', String(new DataView(key.buffer, key.byteOffset).getUint32(0))]] }];
  }

  /** Answers through the cache; what it misses goes to the verifier together (grouped by key there). */
  async verifyEach(items: readonly VerifyItem[]): Promise<Answer[]> {
    const ids = items.map(cacheKey);
    const answers = ids.map((id) => this.#answers.get(id));
    const missing = answers.flatMap((a, i) => (a === undefined ? [i] : []));
    if (missing.length > 0) {
      const got = await this.verifier.verifyEach(missing.map((i) => items[i]!));
      missing.forEach((i, j) => {
        answers[i] = got[j]!;
        this.#answers.set(ids[i]!, got[j]!);
      });
    }
    return answers as Answer[];
  }

  /** All valid, or the lowest invalid index (the mempool's question: work stops at the first bad proof). */
  async verifyAll(items: readonly VerifyItem[]): Promise<AllAnswer> {
    const ids = items.map(cacheKey);
    let firstBad = items.findIndex((_, i) => this.#answers.get(ids[i]!)?.ok === false);
    const missing = ids.flatMap((id, i) => (!this.#answers.has(id) && (firstBad < 0 || i < firstBad) ? [i] : []));
    const got = missing.length === 0 ? ({ ok: true } as const) : await this.verifier.verifyAll(missing.map((i) => items[i]!));
    const goodBelow = got.ok ? missing.length : got.index;
    for (let j = 0; j < goodBelow; j++) this.#answers.set(ids[missing[j]!]!, { ok: true });
    if (!got.ok) {
      this.#answers.set(ids[missing[got.index]!]!, { ok: false, code: got.code, message: got.message });
      firstBad = missing[got.index]!;
    }
    if (firstBad < 0) return { ok: true };
    const a = this.#answers.peek(ids[firstBad]!) as Answer & { ok: false };
    return { ok: false, index: firstBad, code: a.code, message: a.message };
  }

  /**
   * Before a block runs: every proof its calls carry, verified together. Keys are those registered
   * at the block's start or carried by the block's own key registrations (whether they succeed is
   * the transaction's business when it runs; the answer does not depend on it).
   */
  async preverify(overlay: StateOverlay, txs: readonly SignedTransaction[]): Promise<BlockAnswers> {
    const inBlock = new Map<string, Uint8Array>();
    const keys = new Map<string, Uint8Array | undefined>();
    const items: VerifyItem[] = [];
    const at: [number, number][] = [];
    for (const [t, stx] of txs.entries()) {
      const p = stx.tx.payload;
      if (p.kind === 'zk_key') inBlock.set(toHex(keyHash(p.key)), p.key);
      if (p.kind !== 'call' || p.proofs === undefined) continue;
      for (const [i, proof] of p.proofs.entries()) {
        const id = toHex(proof.keyHash);
        if (!keys.has(id)) keys.set(id, (await readZkKey(overlay, proof.keyHash))?.key ?? inBlock.get(id));
        const key = keys.get(id) ?? inBlock.get(id);
        if (key === undefined) continue;
        items.push(itemOf(key, proof.keyHash, proof));
        at.push([t, i]);
      }
    }
    const answers: (Answer | undefined)[][] = txs.map(() => []);
    if (items.length === 0) return answers;
    (await this.verifyEach(items)).forEach((a, j) => (answers[at[j]![0]]![at[j]![1]] = a));
    return answers;
  }

  /**
   * The proofs a call carries, in order, as the transaction runs: each key must be registered and
   * each proof valid. `answers` are the block's pre-verified ones (verified now when absent).
   */
  async checkCarried(overlay: StateOverlay, proofs: readonly AttachedProof[], answers: readonly (Answer | undefined)[] | undefined): Promise<void> {
    for (const [i, p] of proofs.entries()) {
      const record = await readZkKey(overlay, p.keyHash);
      if (record === undefined) throw new ZkRefusal('unknown_key', `proof ${i}: no verification key ${toHex(p.keyHash)} is registered`);
      const answer = answers?.[i] ?? (await this.verifyEach([itemOf(record.key, p.keyHash, p)]))[0]!;
      if (!answer.ok) throw new ZkRefusal(answer.code, `proof ${i}: ${answer.message}`);
    }
  }

  /**
   * The mempool's check of the proofs a call carries, on a committed state: every key registered,
   * every proof valid; the first failure (lowest index) is the answer, and work on later proofs stops.
   */
  async admit(overlay: StateOverlay, proofs: readonly AttachedProof[]): Promise<{ code: 'unknown_verifying_key' | 'invalid_proof'; message: string } | null> {
    const items: VerifyItem[] = [];
    let unknown: { code: 'unknown_verifying_key'; message: string } | null = null;
    for (const [i, p] of proofs.entries()) {
      const record = await readZkKey(overlay, p.keyHash);
      if (record === undefined) {
        unknown = { code: 'unknown_verifying_key', message: `proof ${i}: no verification key ${toHex(p.keyHash)} is registered` };
        break;
      }
      items.push(itemOf(record.key, p.keyHash, p));
    }
    const all = await this.verifyAll(items);
    return all.ok ? unknown : { code: 'invalid_proof', message: `proof ${all.index}: ${all.code}: ${all.message}` };
  }

  /** groth16_verify's backend: whether the proof is valid, or 'unknown_key'. */
  async verifyForContract(overlay: StateOverlay, hash: Uint8Array, proof: Uint8Array, signals: Uint8Array): Promise<boolean | 'unknown_key'> {
    const record = await readZkKey(overlay, hash);
    if (record === undefined) return 'unknown_key';
    return (await this.verifyEach([itemOf(record.key, hash, { proof, signals })]))[0]!.ok;
  }
}

/** Whether (keyHash, proof, signals) is one of the proofs `carried` (all verified before the call ran). */
export function isCarried(carried: readonly AttachedProof[] | undefined, hash: Uint8Array, proof: Uint8Array, signals: Uint8Array): boolean {
  return carried?.some((c) => equalBytes(c.keyHash, hash) && equalBytes(c.proof, proof) && equalBytes(c.signals, signals)) ?? false;
}
