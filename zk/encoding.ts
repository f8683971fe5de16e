/**
 * The binary forms of Groth16 keys, proofs and public signals: what transactions carry, what the
 * state stores and what a contract hands `groth16_verify`. Every binary form maps to one snarkjs
 * JSON form and is read through it, so the one validity rule (zk/parse.ts) decides what is valid
 * whichever form arrived. Numbers are 32-byte big-endian.
 *
 *   G1 point (64 bytes):  x || y; the point at infinity is 64 zero bytes (never on the curve
 *                         otherwise: (0, 0) does not satisfy y² = x³ + 3).
 *   G2 point (128 bytes): x.c0 || x.c1 || y.c0 || y.c1 (x = c0 + c1·u, snarkjs's order; note that
 *                         Ethereum's precompiles put c1 first); infinity is 128 zero bytes.
 *   proof (256 bytes):    A (G1) || B (G2) || C (G1).
 *   public signals:       n × 32 bytes, each one scalar.
 *   key:                  nPublic (4 bytes, big-endian) || alpha (G1) || beta, gamma, delta (G2)
 *                         || IC[0..nPublic] (G1); its hash (`keyHash`) is the SHA-256 of these bytes.
 *
 * A value that a 32-byte field cannot hold is refused while encoding (with the code the rule gives
 * an out-of-range value); a value that fits but is ≥ q or ≥ r is written as given and refused by
 * the rule when read.
 */
import { hash } from 'node:crypto';
import type { Curve } from './curve.ts';
import { ZkError, type ZkErrorCode } from './errors.ts';
import { MAX_PUBLIC, parseKey, type VerifyingKey } from './parse.ts';

export const G1_BYTES = 64;
export const G2_BYTES = 128;
export const PROOF_BYTES = 256;
export const SIGNAL_BYTES = 32;
const N = 32;
const CANONICAL = /^(0|[1-9][0-9]*)$/;
const LIMIT = 1n << 256n;

type G1Json = [string, string, string];
type G2Json = [[string, string], [string, string], [string, string]];

function writeNumber(out: Uint8Array, at: number, v: unknown, code: ZkErrorCode, shapeCode: ZkErrorCode, what: string): void {
  if (typeof v !== 'string' || !CANONICAL.test(v)) throw new ZkError(shapeCode, `${what} is not a canonical decimal string`);
  const n = v.length > 78 ? LIMIT : BigInt(v);
  if (n >= LIMIT) throw new ZkError(code, `${what} does not fit in 32 bytes`);
  out.set(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'), at);
}

function readNumber(b: Uint8Array, at: number): string {
  return BigInt('0x' + Buffer.from(b.buffer, b.byteOffset + at, N).toString('hex')).toString();
}

function isZero(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

/** A point's JSON (snarkjs form: affine with z = 1, or the canonical point at infinity) to bytes. */
function writePoint(out: Uint8Array, at: number, v: unknown, g2: boolean, shape: ZkErrorCode, range: ZkErrorCode, what: string): void {
  const bad = () => new ZkError(shape, `${what} is not a point in snarkjs's form`);
  if (!Array.isArray(v) || v.length !== 3) throw bad();
  const coords = g2 ? v.map((e) => (Array.isArray(e) && e.length === 2 ? e : null)) : v.map((e) => [e]);
  if (coords.some((e) => e === null)) throw bad();
  const [x, y, z] = coords as unknown[][];
  if (!z!.every((e) => typeof e === 'string')) throw bad();
  const zs = z!.join(',');
  if (zs === (g2 ? '0,0' : '0')) {
    if (x!.some((e) => e !== '0') || y![0] !== '1' || (g2 && y![1] !== '0')) throw bad();
    return; // the point at infinity: zero bytes
  }
  if (zs !== (g2 ? '1,0' : '1')) throw bad();
  [...x!, ...y!].forEach((e, i) => writeNumber(out, at + i * N, e, range, shape, `${what} coordinate ${i}`));
}

function readG1(b: Uint8Array, at: number): G1Json {
  if (isZero(b, at, at + G1_BYTES)) return ['0', '1', '0'];
  return [readNumber(b, at), readNumber(b, at + N), '1'];
}

function readG2(b: Uint8Array, at: number): G2Json {
  if (isZero(b, at, at + G2_BYTES)) return [['0', '0'], ['1', '0'], ['0', '0']];
  return [[readNumber(b, at), readNumber(b, at + N)], [readNumber(b, at + 2 * N), readNumber(b, at + 3 * N)], ['1', '0']];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A snarkjs proof.json to its 256 bytes (shape only; validity is the rule's, when read). */
export function encodeProof(json: unknown): Uint8Array {
  if (!isObject(json)) throw new ZkError('malformed_proof', 'proof: not an object');
  const out = new Uint8Array(PROOF_BYTES);
  writePoint(out, 0, json.pi_a, false, 'malformed_proof', 'not_on_curve', 'proof: pi_a');
  writePoint(out, G1_BYTES, json.pi_b, true, 'malformed_proof', 'not_on_curve', 'proof: pi_b');
  writePoint(out, G1_BYTES + G2_BYTES, json.pi_c, false, 'malformed_proof', 'not_on_curve', 'proof: pi_c');
  return out;
}

/** 256 bytes to the snarkjs proof JSON the rule reads. */
export function decodeProof(bytes: Uint8Array): { pi_a: G1Json; pi_b: G2Json; pi_c: G1Json } {
  if (bytes.byteLength !== PROOF_BYTES) throw new ZkError('malformed_proof', `proof: ${bytes.byteLength} bytes, a proof has ${PROOF_BYTES}`);
  return { pi_a: readG1(bytes, 0), pi_b: readG2(bytes, G1_BYTES), pi_c: readG1(bytes, G1_BYTES + G2_BYTES) };
}

/** A snarkjs public.json (an array of decimal strings) to n × 32 bytes. */
export function encodeSignals(json: unknown): Uint8Array {
  if (!Array.isArray(json)) throw new ZkError('malformed_signals', 'public signals: not an array');
  if (json.length > MAX_PUBLIC) throw new ZkError('wrong_signal_count', `public signals: ${json.length} given, a key has at most ${MAX_PUBLIC}`);
  const out = new Uint8Array(json.length * SIGNAL_BYTES);
  json.forEach((v, i) => writeNumber(out, i * SIGNAL_BYTES, v, 'signal_out_of_range', 'malformed_signals', `public signal ${i}`));
  return out;
}

/** n × 32 bytes to the decimal strings the rule reads. */
export function decodeSignals(bytes: Uint8Array): string[] {
  if (bytes.byteLength % SIGNAL_BYTES !== 0) {
    throw new ZkError('malformed_signals', `public signals: ${bytes.byteLength} bytes is not a whole number of ${SIGNAL_BYTES}-byte signals`);
  }
  return Array.from({ length: bytes.byteLength / SIGNAL_BYTES }, (_, i) => readNumber(bytes, i * SIGNAL_BYTES));
}

/** The number of bytes of a key with `nPublic` public signals. */
export function keyBytesLength(nPublic: number): number {
  return 4 + G1_BYTES + 3 * G2_BYTES + (nPublic + 1) * G1_BYTES;
}

/**
 * A snarkjs verification_key.json to its canonical bytes, after reading it by the rule (rule 1:
 * a key that is not valid is refused here, 'malformed_key'). Whitespace, field order and the
 * fields the rule ignores do not change the bytes, so they do not change the key's hash.
 */
export function encodeKey(c: Curve, json: unknown): Uint8Array {
  const key: VerifyingKey = parseKey(c, json);
  const j = json as Record<string, unknown>;
  const out = new Uint8Array(keyBytesLength(key.nPublic));
  new DataView(out.buffer).setUint32(0, key.nPublic);
  let at = 4;
  const put = (v: unknown, g2: boolean, what: string) => {
    writePoint(out, at, v, g2, 'malformed_key', 'malformed_key', `verification key: ${what}`);
    at += g2 ? G2_BYTES : G1_BYTES;
  };
  put(j.vk_alpha_1, false, 'vk_alpha_1');
  put(j.vk_beta_2, true, 'vk_beta_2');
  put(j.vk_gamma_2, true, 'vk_gamma_2');
  put(j.vk_delta_2, true, 'vk_delta_2');
  (j.IC as unknown[]).forEach((p, i) => put(p, false, `IC[${i}]`));
  return out;
}

/** Canonical key bytes to the snarkjs JSON the rule reads (shape only: parseKey judges it). */
export function decodeKey(bytes: Uint8Array): Record<string, unknown> {
  const bad = (why: string) => new ZkError('malformed_key', `verification key: ${why}`);
  if (bytes.byteLength < 4) throw bad('shorter than its 4-byte nPublic');
  const nPublic = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  if (nPublic > MAX_PUBLIC) throw bad(`nPublic ${nPublic} is more than ${MAX_PUBLIC}`);
  if (bytes.byteLength !== keyBytesLength(nPublic)) throw bad(`${bytes.byteLength} bytes, a key with nPublic ${nPublic} has ${keyBytesLength(nPublic)}`);
  let at = 4 + G1_BYTES + 3 * G2_BYTES;
  const ic: G1Json[] = [];
  for (let i = 0; i <= nPublic; i++, at += G1_BYTES) ic.push(readG1(bytes, at));
  return {
    protocol: 'groth16',
    curve: 'bn128',
    nPublic,
    vk_alpha_1: readG1(bytes, 4),
    vk_beta_2: readG2(bytes, 4 + G1_BYTES),
    vk_gamma_2: readG2(bytes, 4 + G1_BYTES + G2_BYTES),
    vk_delta_2: readG2(bytes, 4 + G1_BYTES + 2 * G2_BYTES),
    IC: ic,
  };
}

/** The key's hash: SHA-256 of its canonical bytes. */
export function keyHash(keyBytes: Uint8Array): Uint8Array {
  return new Uint8Array(hash('sha256', keyBytes, 'buffer'));
}
