/**
 * Groth16 (BN254, snarkjs formats) verification: zk/'s entry point. Keys, proofs and public signals
 * are read by the one validity rule in zk/parse.ts; verification is in zk/verify.ts; the binary
 * forms the chain carries in zk/encoding.ts; the Verifier interface and its inline implementation
 * in zk/verifier.ts (the pool of worker threads, zk/pool.ts, is imported on its own). This file adds
 * checks of snarkjs's JSON files as a client holds them, answering with a reason: `checkOne` by
 * the single path, `checkBatch` by the batch path the chain's verifiers use (answerRead). Both
 * read every item by the same rule and settle the pairing equation by verifyOne (directly, or to
 * confirm what findInvalid names), so they give the same answers.
 */
import { ZkError } from './errors.ts';
import { answerRead, EQUATION, type RefusalCode } from './verifier.ts';
import { parseProof, parseSignals } from './parse.ts';
import { verifyOne, type BatchItem, type PreparedKey } from './verify.ts';

export { ZkError, type ZkErrorCode } from './errors.ts';
export { MAX_PUBLIC, parseKey, parseProof, parseSignals, type Proof, type VerifyingKey } from './parse.ts';
export { bn254, type Curve } from './curve.ts';
export * from './encoding.ts';
export * from './verifier.ts';
export { coefficients, findInvalid, prepareKey, verifyBatch, verifyOne, type BatchItem, type PreparedKey } from './verify.ts';


export interface Refusal {
  readonly index: number;
  readonly code: RefusalCode;
  readonly message: string;
}

/** A proof and its public signals as JSON (snarkjs's proof.json and public.json). */
export interface ProofJson {
  readonly proof: unknown;
  readonly publicSignals: unknown;
}

/** Reads one item by the rule (rules 2 and 3), or says why not. */
export function readItem(pk: PreparedKey, item: ProofJson): BatchItem | ZkError {
  try {
    const proof = parseProof(pk.curve, item.proof);
    return { proof, signals: parseSignals(pk.curve, pk.nPublic, item.publicSignals) };
  } catch (e) {
    if (e instanceof ZkError) return e;
    throw e;
  }
}

/** One proof by the single path: null when valid, else the reason. */
export function checkOne(pk: PreparedKey, item: ProofJson): Omit<Refusal, 'index'> | null {
  const read = readItem(pk, item);
  if (read instanceof ZkError) return { code: read.code, message: read.message };
  return verifyOne(pk, read.proof, read.signals) ? null : { code: 'invalid_proof', message: EQUATION };
}

/** Every refused item of a batch (ascending index), by the batch path; [] when all are valid. */
export function checkBatch(pk: PreparedKey, items: readonly ProofJson[]): Refusal[] {
  return answerRead(pk, items.map((item) => readItem(pk, item))).flatMap((a, index) => (a.ok ? [] : [{ index, code: a.code, message: a.message }]));
}
