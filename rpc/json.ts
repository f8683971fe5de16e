/**
 * JSON views of chain data for the RPC: bytes as lower-case hex without `0x`, addresses as bech32m
 * `hm1…`, amounts and fees as decimal strings (u64 does not fit a JSON number), times as RFC 3339
 * UTC, keys in snake_case. Each view has a zod schema next to it: the methods (methods/) use the
 * schemas as the result types they document (openrpc.ts), and the tests check real results against them.
 */
import { z } from 'zod';
import { addressOf, formatAddress } from '../chain/address.ts';
import { blockHash, type Block, type Header } from '../chain/block.ts';
import { toHex } from '../chain/bytes.ts';
import { sha256 } from '../chain/hash.ts';
import { TxStatus, type Receipt } from '../chain/receipt.ts';
import { decodeSignedTransaction, type SignedTransaction } from '../chain/tx.ts';
import { PREVOTE, type Commit, type Vote } from '../chain/vote.ts';

// ---- scalar views ------------------------------------------------------------------------------

export const hexOut = (what: string, bytes?: number) =>
  (bytes === undefined ? z.string().regex(/^(?:[0-9a-f]{2})*$/) : z.string().regex(new RegExp(`^[0-9a-f]{${2 * bytes}}$`)))
    .describe(bytes === undefined ? `${what}: lower-case hex` : `${what}: ${bytes} bytes as lower-case hex`);
export const Hash32 = hexOut('hash', 32);
export const AddressOut = z.string().regex(/^hm1[02-9ac-hj-np-z]+$/).describe('address: bech32m with prefix hm');
export const AmountOut = z.string().regex(/^(?:0|[1-9][0-9]*)$/).describe('amount: decimal string of an unsigned 64-bit integer');
export const TimeOut = z.string().describe('time: RFC 3339, UTC, millisecond precision');
export const Uint = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

export function hex(bytes: Uint8Array): string {
  return toHex(bytes);
}

/** Unix milliseconds as RFC 3339 (`2023-11-14T22:13:20.000Z`). */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

const STATUS_NAMES = new Map<number, string>(Object.entries(TxStatus).map(([name, code]) => [code, name]));

export function statusName(code: number): string {
  return STATUS_NAMES.get(code) ?? `unknown_${code}`;
}

// ---- header, commit, block ---------------------------------------------------------------------

export const HeaderJson = z.object({
  protocol_version: Uint,
  chain_id: z.string(),
  height: Uint,
  time: TimeOut,
  last_block_hash: Hash32,
  last_commit_hash: Hash32,
  txs_hash: Hash32,
  state_root: Hash32,
  last_results_hash: Hash32,
  validators_hash: Hash32,
  proposer: AddressOut,
  evidence_hash: Hash32,
});

export function headerJson(h: Header): z.infer<typeof HeaderJson> {
  return {
    protocol_version: h.protocolVersion,
    chain_id: h.chainId,
    height: h.height,
    time: rfc3339(h.time),
    last_block_hash: hex(h.lastBlockHash),
    last_commit_hash: hex(h.lastCommitHash),
    txs_hash: hex(h.txsHash),
    state_root: hex(h.stateRoot),
    last_results_hash: hex(h.lastResultsHash),
    validators_hash: hex(h.validatorsHash),
    proposer: formatAddress(h.proposer),
    evidence_hash: hex(h.evidenceHash),
  };
}

export const CommitJson = z.object({
  height: Uint,
  round: Uint,
  block_hash: Hash32,
  signatures: z.array(z.object({ validator: AddressOut, signature: hexOut('signature', 64) })),
});

export function commitJson(c: Commit): z.infer<typeof CommitJson> {
  return {
    height: c.height,
    round: c.round,
    block_hash: hex(c.blockHash),
    signatures: c.signatures.map((s) => ({ validator: formatAddress(s.validator), signature: hex(s.signature) })),
  };
}

// ---- transactions and receipts -----------------------------------------------------------------

export const TxJson = z.object({
  chain_id: z.string(),
  sender: AddressOut,
  public_key: hexOut('sender public key', 32),
  nonce: Uint,
  fee: AmountOut,
  gas_limit: Uint,
  payload: z.discriminatedUnion('type', [
    z.object({ type: z.literal('transfer'), to: AddressOut, amount: AmountOut }),
    z.object({
      type: z.literal('deploy'), code_hash: Hash32.describe('sha256 of the module'), code_size: Uint,
      args: hexOut('init arguments (contract ABI encoding)'),
    }),
    z.object({
      type: z.literal('call'), contract: AddressOut, method: z.string(), args: hexOut('arguments (contract ABI encoding)'), value: AmountOut,
      proofs: z.array(z.object({
        key_hash: Hash32.describe("the verification key's hash"), proof: hexOut('256 bytes (docs/zk.md)'), signals: hexOut('the public signals, 32 bytes each'),
      })).optional().describe('Groth16 proofs the call carries (protocol 3), verified before it runs'),
    }),
    z.object({ type: z.literal('zk_key'), key_hash: Hash32.describe("the key's hash: SHA-256 of its bytes"), n_public: Uint }),
    z.object({
      type: z.literal('model'), op: z.enum(['register', 'update', 'revoke', 'transfer', 'attest', 'revoke_attestation', 'supersede']),
      target: Hash32.describe("the model's fingerprint (an attestation's id for revoke_attestation)"),
    }),
  ]),
});

function payloadJson(p: SignedTransaction['tx']['payload']): z.infer<typeof TxJson>['payload'] {
  switch (p.kind) {
    case 'transfer': return { type: 'transfer', to: formatAddress(p.to), amount: p.amount.toString() };
    case 'deploy': return { type: 'deploy', code_hash: hex(sha256(p.code)), code_size: p.code.length, args: hex(p.args) };
    case 'call': return {
      type: 'call', contract: formatAddress(p.contract), method: p.method, args: hex(p.args), value: p.value.toString(),
      ...(p.proofs !== undefined && { proofs: p.proofs.map((a) => ({ key_hash: hex(a.keyHash), proof: hex(a.proof), signals: hex(a.signals) })) }),
    };
    case 'zk_key': return { type: 'zk_key', key_hash: hex(sha256(p.key)), n_public: p.key.length >= 4 ? new DataView(p.key.buffer, p.key.byteOffset).getUint32(0) : 0 };
    case 'model': return { type: 'model', op: p.op.op, target: hex(p.op.op === 'revoke_attestation' ? p.op.id : p.op.fingerprint) };
  }
}

export function txJson(stx: SignedTransaction): z.infer<typeof TxJson> {
  const { tx } = stx;
  return {
    chain_id: tx.chainId,
    sender: formatAddress(addressOf(tx.sender)),
    public_key: hex(tx.sender),
    nonce: tx.nonce,
    fee: tx.fee.toString(),
    gas_limit: tx.gasLimit,
    payload: payloadJson(tx.payload),
  };
}

/** A transaction inside a block: decoded, or its raw bytes and why they did not decode. */
export const BlockTxJson = z.union([
  TxJson.extend({ hash: Hash32 }),
  z.object({ hash: Hash32, raw: hexOut('transaction bytes'), error: z.string() }),
]);

export function blockTxJson(raw: Uint8Array): z.infer<typeof BlockTxJson> {
  const hash = hex(sha256(raw));
  let stx: SignedTransaction;
  try {
    stx = decodeSignedTransaction(raw);
  } catch (err) {
    return { hash, raw: hex(raw), error: (err as Error).message };
  }
  return { hash, ...txJson(stx) };
}

export const ReceiptJson = z.object({
  status: z.string().describe(`status name: ${Object.keys(TxStatus).join(', ')}`),
  code: Uint.describe('status code (0 is ok)'),
  gas_used: Uint,
  error: z.string().optional().describe('why it failed; absent on success'),
  events: z.array(z.object({ type: z.string(), attributes: z.array(z.object({ key: z.string(), value: z.string() })) })),
  return_data: hexOut('a contract call\'s return data, a deploy\'s contract address; empty otherwise'),
});

export function receiptJson(r: Receipt): z.infer<typeof ReceiptJson> {
  return {
    status: statusName(r.status),
    code: r.status,
    gas_used: r.gasUsed,
    ...(r.error === '' ? {} : { error: r.error }),
    events: r.events.map((e) => ({ type: e.type, attributes: e.attributes.map(([key, value]) => ({ key, value })) })),
    return_data: hex(r.returnData),
  };
}

// ---- evidence ----------------------------------------------------------------------------------

export const EvidenceJson = z.object({
  validator: AddressOut,
  height: Uint,
  round: Uint,
  type: z.enum(['prevote', 'precommit']),
  first_block_hash: Hash32.nullable(),
  second_block_hash: Hash32.nullable(),
  first_signature: hexOut('signature', 64),
  second_signature: hexOut('signature', 64),
});

/** Two conflicting votes of one validator for one (height, round, type). */
export interface EquivocationLike {
  first: Vote;
  second: Vote;
}

export function evidenceJson(ev: EquivocationLike): z.infer<typeof EvidenceJson> {
  const { first, second } = ev;
  return {
    validator: formatAddress(first.validator),
    height: first.height,
    round: first.round,
    type: first.type === PREVOTE ? 'prevote' : 'precommit',
    first_block_hash: first.blockHash === null ? null : hex(first.blockHash),
    second_block_hash: second.blockHash === null ? null : hex(second.blockHash),
    first_signature: hex(first.signature),
    second_signature: hex(second.signature),
  };
}

export const BlockJson = z.object({
  hash: Hash32,
  header: HeaderJson,
  txs: z.array(BlockTxJson),
  last_commit: CommitJson.nullable(),
  evidence: z.array(EvidenceJson),
});

export function blockJson(block: Block): z.infer<typeof BlockJson> {
  // Blocks gain an evidence list; until then (or for blocks without it) the list is empty.
  const evidence = (block as { evidence?: readonly EquivocationLike[] }).evidence ?? [];
  return {
    hash: hex(blockHash(block.header)),
    header: headerJson(block.header),
    txs: block.txs.map(blockTxJson),
    last_commit: block.lastCommit === null ? null : commitJson(block.lastCommit),
    evidence: evidence.map(evidenceJson),
  };
}
