/**
 * Reading Groth16 (BN254) verification keys, proofs and public signals in snarkjs's JSON formats,
 * by one validity rule. Single and batch verification (zk/verify.ts) both start from what this file
 * accepts, so they cannot disagree about what a proof is; they differ only in how the pairing
 * equation is checked.
 *
 * THE VALIDITY RULE. A proof with its public signals is valid for a verification key when all of
 * the following hold, checked in this order (the first failure is the reason given):
 *
 * Numbers. A base-field coordinate and a public signal are written as canonical decimal strings:
 * ASCII digits, no sign, no leading zero (except "0" itself), no hex, nothing else.
 *
 * Points (snarkjs's projective JSON form, limited to the two forms snarkjs writes):
 *   G1: [x, y, "1"] (the affine point (x, y)) or ["0", "1", "0"] (the point at infinity);
 *   G2: [[x0, x1], [y0, y1], ["1", "0"]] with x = x0 + x1·u, or [["0","0"], ["1","0"], ["0","0"]].
 *   Any other shape or z is malformed. Every coordinate must be < q (the base field's modulus), and
 *   a finite point must be on its curve (G1: y² = x³ + 3; G2: y² = x³ + 3/(9+u)). G1 has cofactor
 *   1, so on the curve means in the order-r group; a G2 point must also be in the order-r subgroup,
 *   checked as [r]P = O (snarkjs does not check this).
 *
 * 1. The key: an object with protocol "groth16", curve "bn128", nPublic an integer in
 *    [0, MAX_PUBLIC], vk_alpha_1 (G1), vk_beta_2, vk_gamma_2, vk_delta_2 (G2) and IC, an array of
 *    exactly nPublic + 1 G1 points; all points valid as above; alpha, beta, gamma and delta not the
 *    point at infinity (IC points may be). Other fields (vk_alphabeta_12, ...) are ignored. Any
 *    failure: 'malformed_key' (the key is refused when it is read, before any proof).
 * 2. The proof: an object with pi_a (G1), pi_b (G2) and pi_c (G1); a `protocol` field, if present,
 *    is "groth16" and a `curve` field, if present, is "bn128"; other fields are ignored. Shape:
 *    'malformed_proof'. Then pi_a, pi_b, pi_c in turn: a coordinate ≥ q or a point off its curve:
 *    'not_on_curve'; the point at infinity: 'point_at_infinity'; pi_b outside the subgroup:
 *    'not_in_subgroup'.
 * 3. The public signals: an array ('malformed_signals') of exactly nPublic entries
 *    ('wrong_signal_count'; snarkjs does not check the count), each a canonical decimal string
 *    ('malformed_signals') whose value is < r, the scalar field's modulus ('signal_out_of_range').
 * 4. The pairing equation e(A, B) = e(alpha, beta) · e(L, gamma) · e(C, delta), where
 *    L = IC[0] + Σ s_j·IC[j+1] (zk/verify.ts).
 *
 * Proofs are malleable (anyone can re-randomize a valid proof into another valid one), so a
 * proof's bytes must never serve as a unique key.
 */
import { inG2Subgroup, type Curve } from './curve.ts';
import { ZkError, type ZkErrorCode } from './errors.ts';

/** The most public signals a key may have (bounds the work a key makes every proof cost). */
export const MAX_PUBLIC = 1024;

/** A key read by the rule: points as ffjavascript affine buffers (Montgomery form). */
export interface VerifyingKey {
  readonly nPublic: number;
  readonly alpha: Uint8Array;
  readonly beta: Uint8Array;
  readonly gamma: Uint8Array;
  readonly delta: Uint8Array;
  readonly ic: readonly Uint8Array[];
}

/** A proof read by the rule: A and C in G1, B in G2, none at infinity. */
export interface Proof {
  readonly a: Uint8Array;
  readonly b: Uint8Array;
  readonly c: Uint8Array;
}

const CANONICAL = /^(0|[1-9][0-9]*)$/;
/** Longer than any decimal below q or r (both have 77 digits): such a number is out of range. */
const MAX_DIGITS = 78;

/** A failure in reading one point, mapped to the caller's code. */
class PointProblem extends Error {
  readonly kind: 'shape' | 'range' | 'curve' | 'infinity' | 'subgroup';
  constructor(kind: PointProblem['kind'], message: string) {
    super(message);
    this.kind = kind;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A base-field coordinate: a canonical decimal string < q. */
function coordinate(c: Curve, v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !CANONICAL.test(v)) throw new PointProblem('shape', `${what} is not a canonical decimal string`);
  const n = v.length > MAX_DIGITS ? c.q : BigInt(v);
  if (n >= c.q) throw new PointProblem('range', `${what} is not below the base field's modulus`);
  return n;
}

function isArrayOf(v: unknown, n: number): v is unknown[] {
  return Array.isArray(v) && v.length === n;
}

/** One point by the rule, or null for the point at infinity (which the caller may refuse). */
function point(c: Curve, v: unknown, g2: boolean, what: string): Uint8Array | null {
  const size = g2 ? 2 : 1;
  const coord = (x: unknown, name: string): bigint[] => {
    if (!g2) return [coordinate(c, x, `${what}.${name}`)];
    if (!isArrayOf(x, 2)) throw new PointProblem('shape', `${what}.${name} is not a pair`);
    return [coordinate(c, x[0], `${what}.${name}[0]`), coordinate(c, x[1], `${what}.${name}[1]`)];
  };
  if (!isArrayOf(v, 3)) throw new PointProblem('shape', `${what} is not a point [x, y, z]`);
  const z = coord(v[2], 'z');
  const x = coord(v[0], 'x');
  const y = coord(v[1], 'y');
  const isOne = z[0] === 1n && (size === 1 || z[1] === 0n);
  const isZero = z.every((e) => e === 0n);
  if (isZero) {
    const canonical = x.every((e) => e === 0n) && y[0] === 1n && (size === 1 || y[1] === 0n);
    if (!canonical) throw new PointProblem('shape', `${what} has z = 0 but is not the point at infinity's form`);
    return null;
  }
  if (!isOne) throw new PointProblem('shape', `${what} has z other than 1 or 0`);
  const g = g2 ? c.G2 : c.G1;
  const n8 = c.F1.n8;
  const buf = new Uint8Array(n8 * 2 * size);
  [...x, ...y].forEach((e, i) => buf.set(c.F1.fromObject(e), i * n8));
  if (!g.isValid(buf) || g.isZero(buf)) throw new PointProblem('curve', `${what} is not on the curve`);
  if (g2 && !inG2Subgroup(c, buf)) throw new PointProblem('subgroup', `${what} is not in the order-r subgroup`);
  return buf;
}

const PROOF_CODES: Record<PointProblem['kind'], ZkErrorCode> = {
  shape: 'malformed_proof',
  range: 'not_on_curve',
  curve: 'not_on_curve',
  infinity: 'point_at_infinity',
  subgroup: 'not_in_subgroup',
};

/** A point of a key: every problem is 'malformed_key'. */
function keyPoint(c: Curve, v: unknown, g2: boolean, what: string, infinityAllowed: boolean): Uint8Array {
  try {
    const p = point(c, v, g2, what);
    if (p !== null) return p;
    if (!infinityAllowed) throw new PointProblem('infinity', `${what} is the point at infinity`);
    return (g2 ? c.G2 : c.G1).zero;
  } catch (e) {
    if (e instanceof PointProblem) throw new ZkError('malformed_key', `verification key: ${e.message}`);
    throw e;
  }
}

/** Reads a verification key by rule 1 (throws ZkError 'malformed_key'). */
export function parseKey(c: Curve, json: unknown): VerifyingKey {
  const bad = (why: string) => new ZkError('malformed_key', `verification key: ${why}`);
  if (!isObject(json)) throw bad('not an object');
  if (json.protocol !== 'groth16') throw bad('protocol is not "groth16"');
  if (json.curve !== 'bn128') throw bad('curve is not "bn128"');
  const n = json.nPublic;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_PUBLIC) throw bad(`nPublic is not an integer in [0, ${MAX_PUBLIC}]`);
  if (!isArrayOf(json.IC, n + 1)) throw bad(`IC is not an array of nPublic + 1 = ${n + 1} points`);
  return {
    nPublic: n,
    alpha: keyPoint(c, json.vk_alpha_1, false, 'vk_alpha_1', false),
    beta: keyPoint(c, json.vk_beta_2, true, 'vk_beta_2', false),
    gamma: keyPoint(c, json.vk_gamma_2, true, 'vk_gamma_2', false),
    delta: keyPoint(c, json.vk_delta_2, true, 'vk_delta_2', false),
    ic: json.IC.map((p, i) => keyPoint(c, p, false, `IC[${i}]`, true)),
  };
}

/** Reads a proof by rule 2 (throws ZkError). */
export function parseProof(c: Curve, json: unknown): Proof {
  if (!isObject(json)) throw new ZkError('malformed_proof', 'proof: not an object');
  if (json.protocol !== undefined && json.protocol !== 'groth16') throw new ZkError('malformed_proof', 'proof: protocol is not "groth16"');
  if (json.curve !== undefined && json.curve !== 'bn128') throw new ZkError('malformed_proof', 'proof: curve is not "bn128"');
  const read = (name: 'pi_a' | 'pi_b' | 'pi_c', g2: boolean): Uint8Array => {
    try {
      const p = point(c, json[name], g2, name);
      if (p === null) throw new PointProblem('infinity', `${name} is the point at infinity`);
      return p;
    } catch (e) {
      if (e instanceof PointProblem) throw new ZkError(PROOF_CODES[e.kind], `proof: ${e.message}`);
      throw e;
    }
  };
  return { a: read('pi_a', false), b: read('pi_b', true), c: read('pi_c', false) };
}

/** Reads public signals by rule 3 for a key with `nPublic` signals (throws ZkError). */
export function parseSignals(c: Curve, nPublic: number, json: unknown): bigint[] {
  if (!Array.isArray(json)) throw new ZkError('malformed_signals', 'public signals: not an array');
  if (json.length !== nPublic) {
    throw new ZkError('wrong_signal_count', `public signals: ${json.length} given, the key has ${nPublic}`);
  }
  return json.map((v: unknown, i) => {
    if (typeof v !== 'string' || !CANONICAL.test(v)) throw new ZkError('malformed_signals', `public signal ${i} is not a canonical decimal string`);
    const n = v.length > MAX_DIGITS ? c.r : BigInt(v);
    if (n >= c.r) throw new ZkError('signal_out_of_range', `public signal ${i} is not below the scalar field's modulus`);
    return n;
  });
}
