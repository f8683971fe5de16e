/**
 * The protocol version: one number for every rule two validators must share to reach the same
 * state root from the same blocks (block validity, transaction execution, the VM's instrumentation
 * and cost table). Genesis names it and every header carries it; a node refuses blocks of a version
 * it does not run and a data directory written under another, so two binaries can never disagree
 * on a state root without saying so. A rule change is a new version, never an edit in place.
 */

/**
 * The version new chains run (devnet and testnet genesis). Version 1 is the chain without the model
 * registry; version 2 adds it (transactions of payload kind 3, chain/model-op.ts); version 3 adds
 * Groth16 proofs (verification keys, payload kind 4; calls carrying proofs, kind 5; the
 * groth16_verify host function). Each is otherwise the version before it: an older chain computes
 * the same roots it always did, and refuses what it does not have.
 */
export const PROTOCOL_VERSION = 3;

/** Versions this binary can run; genesis must name one of them. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = Object.freeze([1, 2, 3]);

/** The first version with the model registry. */
export const MODEL_REGISTRY_SINCE = 2;
/** The first version with Groth16 proofs. */
export const ZK_PROOFS_SINCE = 3;

/** Whether a payload is part of `version`; what a block or the mempool refuses otherwise. */
export function payloadProblem(payload: { kind: string; proofs?: readonly unknown[] }, version: number): string | null {
  if (payload.kind === 'model' && version < MODEL_REGISTRY_SINCE) {
    return `model registry transactions need protocol version ${MODEL_REGISTRY_SINCE}; this chain runs version ${version}`;
  }
  const zk = payload.kind === 'zk_key' || (payload.kind === 'call' && (payload.proofs?.length ?? 0) > 0);
  if (zk && version < ZK_PROOFS_SINCE) {
    return `verification keys and calls carrying proofs need protocol version ${ZK_PROOFS_SINCE}; this chain runs version ${version}`;
  }
  return null;
}

export function isSupportedProtocol(version: number): boolean {
  return SUPPORTED_PROTOCOL_VERSIONS.includes(version);
}
