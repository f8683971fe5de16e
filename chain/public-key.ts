/**
 * Which public keys may own an account or a validator seat. The signature rule (signature.ts,
 * ZIP-215) accepts any encoding that decodes, small-order points included, because batch and
 * single verification must agree on every signature. Keys are another matter: under the cofactored
 * equation anyone can forge a signature for a small-order key, and a non-canonical encoding is a
 * second address for the same point. So a key must be the canonical encoding (y < p, no sign bit
 * on x = 0) of a point that is not of small order; everything else is refused where keys enter the
 * chain (genesis validators, transaction senders).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { byteKey } from './bytes.ts';
import { PUBLIC_KEY_LENGTH } from './keys.ts';
import { Lru } from './lru.ts';

/** Decoding costs a square root (~tens of µs); senders repeat, so answers are kept (bounded LRU). */
const CACHE_SIZE = 8192;
const cache = new Lru<string, string | null>(CACHE_SIZE);

/** Why `key` cannot own an account, or null when it can. */
export function publicKeyProblem(key: Uint8Array): string | null {
  if (!(key instanceof Uint8Array)) throw new TypeError('publicKey must be a Uint8Array');
  if (key.length !== PUBLIC_KEY_LENGTH) return `a public key is ${PUBLIC_KEY_LENGTH} bytes, got ${key.length}`;
  const id = byteKey(key);
  const hit = cache.get(id);
  if (hit !== undefined) return hit;
  const answer = decodeProblem(key);
  cache.set(id, answer);
  return answer;
}

function decodeProblem(key: Uint8Array): string | null {
  let point;
  try {
    point = ed25519.Point.fromBytes(key, false);
  } catch {
    return 'not the canonical encoding of an Ed25519 curve point';
  }
  return point.isSmallOrder() ? 'a small-order Ed25519 point, for which anyone can forge signatures' : null;
}
