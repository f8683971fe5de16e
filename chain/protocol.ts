/**
 * The protocol version: one number for every rule two validators must share to reach the same
 * state root from the same blocks (block validity, transaction execution, the VM's instrumentation
 * and cost table). Genesis names it and every header carries it; a node refuses blocks of a version
 * it does not run and a data directory written under another, so two binaries can never disagree
 * on a state root without saying so. A rule change is a new version, never an edit in place.
 */

/** The version this binary runs. */
export const PROTOCOL_VERSION = 1;

/** Versions this binary can run; genesis must name one of them. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = Object.freeze([PROTOCOL_VERSION]);

export function isSupportedProtocol(version: number): boolean {
  return SUPPORTED_PROTOCOL_VERSIONS.includes(version);
}
