/** consensus_*: the validator set, where consensus is, and double-sign evidence. */
import { z } from 'zod';
import { formatAddress } from '../../chain/address.ts';
import { AddressOut, EvidenceJson, evidenceJson, hex, hexOut, Uint } from '../json.ts';
import { defineRpcMethod, latestHeight, NoParams } from '../method.ts';

export const consensusValidators = defineRpcMethod({
  name: 'consensus_validators',
  summary: 'The validator set deciding the next height.',
  params: NoParams,
  result: z.object({
    height: Uint.describe('the height this set decides'),
    total_power: Uint,
    validators: z.array(z.object({
      address: AddressOut,
      name: z.string().nullable().describe('display name from genesis'),
      public_key: hexOut('ed25519 public key', 32),
      power: Uint,
      proposer_priority: z.string().optional().describe('decimal; omitted when the node does not expose it'),
    })),
  }),
  errors: [],
  async handler(node) {
    const set = node.validators();
    return {
      height: latestHeight(node) + 1,
      total_power: set.totalPower,
      validators: set.validators.map((v) => ({
        address: formatAddress(v.address),
        name: v.name,
        public_key: hex(v.publicKey),
        power: v.power,
      })),
    };
  },
});

export const consensusState = defineRpcMethod({
  name: 'consensus_state',
  summary: "Where this node's consensus is: height, round, step, locks, and the vote power seen.",
  params: NoParams,
  result: z.object({
    height: Uint,
    round: Uint,
    step: z.string(),
    locked_round: z.int().min(-1).describe('-1 when not locked'),
    valid_round: z.int().min(-1).describe('-1 when no valid value'),
    proposer: AddressOut.describe('proposer of (height, round)'),
    prevote_power: Uint,
    precommit_power: Uint,
    total_power: Uint,
  }),
  errors: [],
  async handler(node) {
    const s = node.consensusState();
    return {
      height: s.height,
      round: s.round,
      step: s.step,
      locked_round: s.lockedRound,
      valid_round: s.validRound,
      proposer: formatAddress(s.proposer),
      prevote_power: s.prevotePower,
      precommit_power: s.precommitPower,
      total_power: s.totalPower,
    };
  },
});

export const consensusEvidence = defineRpcMethod({
  name: 'consensus_evidence',
  summary: 'Double-sign evidence: included in blocks (newest first), and seen but not yet included.',
  params: NoParams,
  result: z.object({
    committed: z.array(z.object({ height: Uint.describe('height of the block that included it'), evidence: EvidenceJson })),
    pending: z.array(EvidenceJson),
  }),
  errors: [],
  async handler(node) {
    const { committed, pending } = await node.evidence();
    return {
      committed: committed.map((c) => ({ height: c.height, evidence: evidenceJson(c.evidence) })),
      pending: pending.map(evidenceJson),
    };
  },
});
