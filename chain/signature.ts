/**
 * THE signature rule. Every Ed25519 signature in Hallmark (transactions, votes, commits, evidence)
 * is judged by `verifySignature`, `verifyBatch` or `firstInvalid` below, and by nothing else (the
 * worker threads of chain/signature-pool.ts run these same functions).
 *
 * The rule is ZIP-215, as Zcash and CometBFT (via curve25519-voi) use it. Given public key bytes
 * A_bytes (32), message M and signature R_bytes || S_bytes (32 + 32):
 *   1. S = S_bytes as a little-endian integer must be canonical, S < L; otherwise invalid.
 *   2. A_bytes and R_bytes must each decode to a curve point, and any encoding that decodes is
 *      allowed: non-canonical y >= p, the x sign bit set on x = 0, small-order points, points of
 *      mixed order. Bytes whose y gives no square root for x are invalid.
 *   3. k = SHA-512(R_bytes || A_bytes || M) mod L, hashing the bytes exactly as given.
 *   4. Valid iff the cofactored equation holds: [8][S]B = [8]R + [8][k]A.
 *
 * Why this rule: cofactored verification is the only rule under which batch verification (one
 * random linear combination of many equations) gives the same answer as checking each signature
 * alone. With the cofactorless equation a signature whose R or A carries a small-order component
 * is rejected alone but accepted by a batch with probability 1/8 or so, so validators batching
 * differently would disagree. Fixing the rule now lets a fast batch verifier be added later without
 * changing consensus. See Henry de Valence, "It's 255:19AM. Do you know what your validation
 * criteria are?" (2020), and ZIP-215.
 *
 * How it is computed, fast: Node's crypto (OpenSSL) verifies ~12x faster than noble's pure JS
 * (7,850/s against 640/s on one core when first measured; bench/signature.bench.ts re-measures).
 * OpenSSL is stricter than ZIP-215: it checks S < L, decodes A (and OpenSSL 3.5 also refuses every
 * small-order A), computes R' = [S]B - [k]A (the cofactorless equation) and compares the canonical
 * encoding of R' with R_bytes. So whatever it accepts, ZIP-215 accepts too: its S check is ours,
 * the cofactorless equation implies the cofactored one, a canonical R decodes, and it hashes the
 * bytes as given (test/signature.test.ts checks "never accepts more" on its edge vectors). On the 914 edge-case vectors of C2SP/CCTV ed25519vectors.json every
 * signature Node accepted was also accepted by noble's ZIP-215 verify (783 more were accepted only
 * by ZIP-215; none the other way). Hence:
 *   - OpenSSL says true  -> valid (the normal case costs one OpenSSL verify);
 *   - OpenSSL says false, or throws, or refuses the key -> noble decides with
 *     `ed25519.verify(sig, msg, pub, { zip215: true })`, which decodes with the ZIP-215 rules,
 *     rejects S >= L (via multiplyUnsafe's 0 <= s < L check), hashes the given bytes and checks
 *     the cofactored equation. Only invalid or exotic signatures pay for noble.
 *
 * Importing a raw key into OpenSSL costs ~20 us (a quarter of a verify), so KeyObjects are cached
 * per public key in a bounded LRU.
 */
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { byteKey } from './bytes.ts';
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from './keys.ts';
import { Lru } from './lru.ts';

/** How many public keys keep an OpenSSL KeyObject ready; a validator set plus active senders. */
export const KEY_CACHE_SIZE = 4096;

export interface SignedItem {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

/**
 * True iff `signature` is valid for `message` under `publicKey` by the rule above. Inputs come
 * from the network, so wrong lengths are simply invalid (false); arguments that are not
 * Uint8Arrays are a programming error and throw TypeError.
 */
export function verifySignature(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  checkBytes(publicKey, 'publicKey');
  checkBytes(message, 'message');
  checkBytes(signature, 'signature');
  return verifyChecked(publicKey, message, signature);
}

/**
 * Verifies many signatures; answer i is exactly `verifySignature(items[i]...)`, whatever else is
 * in the batch. That contract is the point: a faster implementation (worker threads, a cofactored
 * random-linear-combination batch equation with per-item retry on failure) may replace the body,
 * never the answers. It loops over the single-check fast path, checking identical items (same key,
 * signature and message) within the batch only once; chain/signature-pool.ts spreads a large batch
 * over worker threads that each run it on a part.
 */
export function verifyBatch(items: readonly SignedItem[]): boolean[] {
  checkItems(items);
  const answers = new Array<boolean>(items.length);
  // Items keyed by publicKey || signature; message equality is checked on a key collision.
  const seen = new Map<string, { message: Uint8Array; answer: boolean }[]>();
  for (let i = 0; i < items.length; i++) {
    const { publicKey, message, signature } = items[i]!;
    const id = byteKey(publicKey) + byteKey(signature);
    let same = seen.get(id);
    const prior = same?.find((s) => equalMessages(s.message, message));
    if (prior !== undefined) {
      answers[i] = prior.answer;
      continue;
    }
    const answer = verifyChecked(publicKey, message, signature);
    if (same === undefined) seen.set(id, (same = []));
    same.push({ message, answer });
    answers[i] = answer;
  }
  return answers;
}

/** Throws TypeError, naming the item, unless `items` is an array of SignedItems (verifyBatch's check). */
export function checkItems(items: readonly SignedItem[]): void {
  if (!Array.isArray(items)) throw new TypeError('items must be an array of SignedItem');
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item === null || typeof item !== 'object') throw new TypeError(`items[${i}] is not a SignedItem`);
    checkBytes(item.publicKey, `items[${i}].publicKey`);
    checkBytes(item.message, `items[${i}].message`);
    checkBytes(item.signature, `items[${i}].signature`);
  }
}

/**
 * Verifies items in order and stops at the first invalid one: its index, or -1 when all are
 * valid. Each answer is `verifySignature`'s; what a block check needs when any invalid signature
 * refuses the block (the items after it are not worth a possible fallback check each).
 */
export function firstInvalid(items: readonly SignedItem[]): number {
  checkItems(items);
  for (let i = 0; i < items.length; i++) {
    const { publicKey, message, signature } = items[i]!;
    if (!verifyChecked(publicKey, message, signature)) return i;
  }
  return -1;
}

function verifyChecked(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false;
  const key = keyObjectFor(publicKey);
  if (key !== null) {
    try {
      if (nodeVerify(null, message, key, signature)) return true;
    } catch {
      // OpenSSL refused the inputs; the ZIP-215 check below decides.
    }
  }
  return ed25519.verify(signature, message, publicKey, { zip215: true });
}

// `null` records a key OpenSSL would not import, so we go straight to noble for it.
const keyCache = new Lru<string, KeyObject | null>(KEY_CACHE_SIZE);

function keyObjectFor(publicKey: Uint8Array): KeyObject | null {
  const id = byteKey(publicKey);
  const hit = keyCache.get(id);
  if (hit !== undefined) return hit;
  let key: KeyObject | null;
  try {
    // JWK import measured ~15% faster than SPKI DER (302a300506032b6570032100 || key) here.
    const x = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('base64url');
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
  } catch {
    key = null;
  }
  keyCache.set(id, key);
  return key;
}

/** For tests and metrics: how many public keys currently have a cached KeyObject (or refusal). */
export function keyCacheSize(): number {
  return keyCache.size;
}

function checkBytes(value: unknown, name: string): void {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
}

function equalMessages(a: Uint8Array, b: Uint8Array): boolean {
  return a === b || (a.length === b.length && Buffer.compare(a, b) === 0);
}
