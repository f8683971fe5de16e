/**
 * Why a Groth16 verification key, proof or public-signal list is invalid. zk/ imports nothing of
 * ours, so it has its own coded error in the style of chain/errors.ts: a stable `code` that callers
 * switch on (a transaction's receipt, RPC, tests) and a message for people.
 */
export type ZkErrorCode =
  /** The verification key is not a groth16/bn128 key of the documented shape. */
  | 'malformed_key'
  /** The proof is not { pi_a, pi_b, pi_c } of the documented shape, or names another protocol or curve. */
  | 'malformed_proof'
  /** The public signals are not an array of canonical decimal strings. */
  | 'malformed_signals'
  /** The number of public signals is not the key's nPublic. */
  | 'wrong_signal_count'
  /** A public signal is ≥ r, the scalar field's modulus. */
  | 'signal_out_of_range'
  /** A coordinate is ≥ q, or a point is not on its curve. */
  | 'not_on_curve'
  /** A G2 point is on the twist curve but outside the prime-order subgroup. */
  | 'not_in_subgroup'
  /** A proof point (or a key point that may not be) is the point at infinity. */
  | 'point_at_infinity';

export class ZkError extends Error {
  readonly code: ZkErrorCode;

  constructor(code: ZkErrorCode, message: string) {
    super(message);
    this.name = 'ZkError';
    this.code = code;
  }
}
