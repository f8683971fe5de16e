/**
 * zk_*: Groth16 verification keys registered on chain, and a read-only check of a proof against
 * one (docs/zk.md). zk_verify costs the node a verification (~3–9 ms of a verifier thread), so the
 * node runs only a few at once and answers server_busy beyond that (NodeQuery.verifyProof): RPC
 * can never fill the verifier queue that blocks wait on.
 */
import { z } from 'zod';
import { formatAddress } from '../../chain/address.ts';
import { toHex } from '../../chain/bytes.ts';
import { decodeZkKeyRecord, zkKeyKey } from '../../execution/zk.ts';
import { decodeKey, encodeProof, encodeSignals, MAX_PUBLIC, ZkError } from '../../zk/groth16.ts';
import { RpcError } from '../errors.ts';
import { AddressOut, Hash32, hex, hexOut, Uint } from '../json.ts';
import { defineRpcMethod, hexIn, latestHeight, readState } from '../method.ts';
import type { NodeQuery } from '../query.ts';

const KeyHashIn = hexIn('verification key hash', { bytes: 32 });

async function requireKey(node: NodeQuery, hash: Uint8Array, height: number) {
  const raw = await readState(() => node.stateValue(zkKeyKey(hash), height), height);
  if (raw === undefined) throw RpcError.notFound(`no verification key ${toHex(hash)} is registered`, { key_hash: toHex(hash) });
  return decodeZkKeyRecord(raw);
}

export const zkGetVerifyingKey = defineRpcMethod({
  name: 'zk_getVerifyingKey',
  summary: 'A registered Groth16 verification key, as snarkjs JSON, with who registered it and when.',
  params: z.strictObject({ key_hash: KeyHashIn }),
  result: z.object({
    height: Uint.describe('the state version read'),
    key_hash: Hash32.describe("SHA-256 of the key's canonical bytes (docs/zk.md)"),
    n_public: Uint,
    registrant: AddressOut,
    registered_at: Uint.describe('height of the block that registered it'),
    state_key: hexOut('the state key it is stored under (prove it with state_getProof)'),
    key: z.record(z.string(), z.unknown()).describe('the key in snarkjs verification_key.json form'),
  }),
  errors: ['not_found'],
  async handler(node, p) {
    const height = latestHeight(node);
    const r = await requireKey(node, p.key_hash, height);
    const key = decodeKey(r.key);
    return {
      height, key_hash: hex(p.key_hash), n_public: key.nPublic as number, registrant: formatAddress(r.registrant),
      registered_at: r.height, state_key: hex(zkKeyKey(p.key_hash)), key,
    };
  },
});

export const zkVerify = defineRpcMethod({
  name: 'zk_verify',
  summary: 'Checks a proof and its public signals against a registered key, by the rule the chain uses; changes nothing.',
  description: 'proof is snarkjs proof.json, public_signals snarkjs public.json (an array of decimal strings). The answer ' +
    "is the chain's: valid, or the rule's code (malformed_proof, not_on_curve, not_in_subgroup, point_at_infinity, " +
    'malformed_signals, wrong_signal_count, signal_out_of_range, invalid_proof) with a message.',
  params: z.strictObject({
    key_hash: KeyHashIn,
    proof: z.record(z.string(), z.unknown()).describe('snarkjs proof.json: {pi_a, pi_b, pi_c, ...}'),
    public_signals: z.array(z.unknown()).max(MAX_PUBLIC).describe('snarkjs public.json: an array of decimal strings'),
  }),
  result: z.object({
    height: Uint.describe('the state version the key was read at'),
    key_hash: Hash32,
    valid: z.boolean(),
    code: z.string().nullable().describe("why not: the validity rule's code (docs/zk.md); null when valid"),
    message: z.string().nullable(),
  }),
  errors: ['not_found', 'server_busy'],
  async handler(node, p) {
    const height = latestHeight(node);
    const base = { height, key_hash: hex(p.key_hash) };
    let proof: Uint8Array;
    let signals: Uint8Array;
    try {
      proof = encodeProof(p.proof);
      signals = encodeSignals(p.public_signals);
    } catch (e) {
      if (e instanceof ZkError) return { ...base, valid: false, code: e.code, message: e.message };
      throw e;
    }
    const r = await requireKey(node, p.key_hash, height);
    const answer = await node.verifyProof({ keyHash: p.key_hash, key: r.key, proof, signals });
    return answer.ok ? { ...base, valid: true, code: null, message: null } : { ...base, valid: false, code: answer.code, message: answer.message };
  },
});

export const ZK_METHODS = [zkGetVerifyingKey, zkVerify] as const;
