/**
 * What each protocol version (chain/protocol.ts) means for execution. The VM's cost table and
 * instrumented code form are derived from the chain's version, never chosen by the binary: a node
 * whose VM does not produce the form its protocol names refuses to run rather than compute
 * another state root.
 */
import { SUPPORTED_PROTOCOL_VERSIONS } from '../chain/protocol.ts';
import { CodedError } from '../chain/errors.ts';
import { COST_TABLE_VERSION } from '../vm/limits.ts';

export interface ExecutionRules {
  protocolVersion: number;
  /** The VM cost table and instrumentation (vm/limits.ts) contracts are deployed and charged by. */
  costTableVersion: number;
}

const RULES: ReadonlyMap<number, ExecutionRules> = new Map([
  [1, { protocolVersion: 1, costTableVersion: 3 }],
  // 2: version 1 and the model registry (chain/protocol.ts).
  [2, { protocolVersion: 2, costTableVersion: 3 }],
  // 3: version 2 and Groth16 proofs: verification keys, calls carrying proofs, groth16_verify.
  [3, { protocolVersion: 3, costTableVersion: 3 }],
]);

export class ProtocolError extends CodedError<'unsupported_protocol'> {
  constructor(message: string) {
    super('unsupported_protocol', message);
  }
}

/** The execution rules of `version`; throws ProtocolError for a version this binary cannot run. */
export function executionRules(version: number): ExecutionRules {
  const rules = RULES.get(version);
  if (rules === undefined || !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
    throw new ProtocolError(`protocol version ${version} is not run by this Hallmark (it runs ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`);
  }
  if (rules.costTableVersion !== COST_TABLE_VERSION) {
    throw new ProtocolError(`protocol version ${version} runs VM cost table ${rules.costTableVersion}, but this build's VM is table ${COST_TABLE_VERSION}`);
  }
  return rules;
}
