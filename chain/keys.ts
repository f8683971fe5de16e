/**
 * Ed25519 keys and signing (RFC 8032, "pure" Ed25519: no context, no pre-hash).
 *
 * A secret key is the RFC 8032 32-byte seed; the public key is the 32-byte encoding of [a]B.
 * Signing is deterministic, so the same (secret, message) always gives the same 64 bytes. We sign
 * with Node's crypto (OpenSSL): it gives byte-identical signatures to noble's pure-JS `sign`
 * (test/signature.test.ts checks this) and measured ~6x faster here, key import included.
 *
 * Verification lives in chain/signature.ts: there is one rule for every signature in the chain.
 */
import { createPrivateKey, randomBytes, sign as nodeSign, type KeyObject } from 'node:crypto';
import { sha256 } from './hash.ts';
import { concatBytes, utf8 } from './bytes.ts';

export const SECRET_KEY_LENGTH = 32;
export const PUBLIC_KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;

export interface KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

/** A source of random bytes, passed in so tests and the simulator can supply a seeded one. */
export type RandomSource = (length: number) => Uint8Array;

const systemRandom: RandomSource = (n) => new Uint8Array(randomBytes(n));

// PKCS#8 DER for an Ed25519 private key is this fixed 16-byte header followed by the 32-byte seed.
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

export function generateSecretKey(random: RandomSource = systemRandom): Uint8Array {
  const key = random(SECRET_KEY_LENGTH);
  if (!(key instanceof Uint8Array) || key.length !== SECRET_KEY_LENGTH) {
    throw new TypeError(`random source must return a Uint8Array of ${SECRET_KEY_LENGTH} bytes`);
  }
  return Uint8Array.from(key);
}

export function generateKeyPair(random: RandomSource = systemRandom): KeyPair {
  return keyPairFromSecret(generateSecretKey(random));
}

export function keyPairFromSecret(secretKey: Uint8Array): KeyPair {
  return { secretKey: Uint8Array.from(checkSecretKey(secretKey)), publicKey: publicKeyOf(secretKey) };
}

/**
 * A deterministic secret key derived from a label, for tests, fixtures and throwaway devnets. Anyone
 * who knows the label knows the key: never use it for a key that guards value.
 */
export function secretKeyFromSeed(seed: string | Uint8Array): Uint8Array {
  const bytes = typeof seed === 'string' ? utf8(seed) : seed;
  if (!(bytes instanceof Uint8Array)) throw new TypeError('seed must be a string or a Uint8Array');
  return sha256(concatBytes(utf8('hallmark/ed25519-seed/v1:'), bytes));
}

export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  // JWK export measured faster than noble's getPublicKey (~5x) and than SPKI DER export here.
  const jwk = privateKeyObject(checkSecretKey(secretKey)).export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('ed25519: OpenSSL returned no public key');
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
}

/** The 64-byte RFC 8032 signature R || S of `message` under `secretKey`. */
export function sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  checkSecretKey(secretKey);
  if (!(message instanceof Uint8Array)) throw new TypeError('message must be a Uint8Array');
  const sig = nodeSign(null, message, privateKeyObject(secretKey));
  return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
}

function checkSecretKey(secretKey: Uint8Array): Uint8Array {
  if (!(secretKey instanceof Uint8Array)) throw new TypeError('secretKey must be a Uint8Array');
  if (secretKey.length !== SECRET_KEY_LENGTH) {
    throw new TypeError(`secretKey must be ${SECRET_KEY_LENGTH} bytes, got ${secretKey.length}`);
  }
  return secretKey;
}

// Not cached on purpose: a cache would keep secret keys alive in strings we cannot wipe, and
// signing is not on a hot path the way verification is.
function privateKeyObject(secretKey: Uint8Array): KeyObject {
  const der = Buffer.alloc(PKCS8_PREFIX.length + SECRET_KEY_LENGTH);
  der.set(PKCS8_PREFIX, 0);
  der.set(secretKey, PKCS8_PREFIX.length);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}
