/**
 * The protocol version: one number for every rule two validators must share to reach the same
 * state root from the same blocks (block validity, transaction execution, the VM's instrumentation
 * and cost table). Genesis names it and every header carries it; a node refuses blocks of a version
 * it does not run and a data directory written under another, so two binaries can never disagree
 * on a state root without saying so. A rule change is a new version, never an edit in place.
 */

/**
 * The version new chains run (devnet and testnet genesis). Version 1 is the chain without the model
 * registry; version 2 adds it (transactions of payload kind 3, chain/model-op.ts), and is otherwise
 * version 1: a version-1 chain computes the same roots it always did, and refuses model transactions.
 */
export const PROTOCOL_VERSION = 2;

/** Versions this binary can run; genesis must name one of them. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = Object.freeze([1, 2]);

/** The first version with the model registry. */
export const MODEL_REGISTRY_SINCE = 2;

/** Whether transactions of `kind` are part of `version`; what a block or the mempool refuses otherwise. */
export function payloadProblem(kind: string, version: number): string | null {
  return kind === 'model' && version < MODEL_REGISTRY_SINCE
    ? `model registry transactions need protocol version ${MODEL_REGISTRY_SINCE}; this chain runs version ${version}`
    : null;
}

export function isSupportedProtocol(version: number): boolean {
  return SUPPORTED_PROTOCOL_VERSIONS.includes(version);
}
