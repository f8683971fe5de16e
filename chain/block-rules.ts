/**
 * The block validity rule's stateless part: the limits every validator enforces on every block,
 * whoever built it, before anything in it is executed. The executor (execution/executor.ts) adds what
 * needs the chain: the links to the previous block, signatures, commits and evidence; the proposer,
 * prevote validation, applyBlock and block sync all go through that one check
 * (docs/architecture.md, "Block validity").
 *
 * Gas is capped and priced per transaction by what it declares (its gas limit), so the whole
 * check runs before execution: a block's declared gas is at most `maxGas`, and every transaction
 * pays at least `gasLimit × minGasPrice`. Unused gas is not refunded: otherwise a transaction could
 * reserve a whole block's gas and pay for a little of it.
 */
import { formatAddress } from './address.ts';
import { CodecError } from './codec.ts';
import { CodedError } from './errors.ts';
import { MAX_BLOCK_EVIDENCE } from './evidence.ts';
import { encodeBlock, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, type Block } from './block.ts';
import { MAX_CHAIN_ID_LENGTH } from './chain-id.ts';
import { payloadProblem, PROTOCOL_VERSION } from './protocol.ts';
import { publicKeyProblem } from './public-key.ts';
import { decodeSignedTransaction, MAX_TX_BYTES, senderAddress, type SignedTransaction } from './tx.ts';

/** The consensus parameters a block is judged by (genesis `protocol_version` and `consensus_params`). */
export interface BlockLimits {
  protocolVersion: number;
  /** Most bytes of the encoded block. */
  maxBytes: number;
  maxTxs: number;
  /** Most gas the block's transactions may declare, together. */
  maxGas: number;
  /** Base units per unit of declared gas a transaction's fee must cover. */
  minGasPrice: bigint;
}

export class BlockError extends CodedError<'invalid_block'> {
  constructor(message: string) {
    super('invalid_block', message);
  }
}

/** `gasLimit × price`: the least fee a transaction declaring `gasLimit` pays at `price`. */
export function minimumFee(gasLimit: number, price: bigint): bigint {
  return BigInt(gasLimit) * price;
}

/**
 * What stops a transaction from entering any block under `limits`, or null: a payload kind the
 * protocol version does not have, the sender key, the gas cap and the fee floor. The mempool refuses the same things at admission.
 */
export function txLimitProblem(stx: SignedTransaction, limits: BlockLimits): string | null {
  const { tx } = stx;
  const payload = payloadProblem(tx.payload, limits.protocolVersion);
  if (payload !== null) return payload;
  const key = publicKeyProblem(tx.sender);
  if (key !== null) return `sender key of ${formatAddress(senderAddress(stx))} is ${key}`;
  if (tx.gasLimit > limits.maxGas) return `gas limit ${tx.gasLimit} exceeds the block gas limit of ${limits.maxGas}`;
  const least = minimumFee(tx.gasLimit, limits.minGasPrice);
  if (tx.fee < least) return `fee ${tx.fee} is below gas limit ${tx.gasLimit} × minimum gas price ${limits.minGasPrice} = ${least}`;
  return null;
}

/**
 * Checks the block against `limits` (cheapest first) and returns its decoded transactions, or
 * throws BlockError naming the first rule broken. `encodedSize` is the block's encoded length.
 * `decodeTx` decodes the i-th transaction (throwing CodecError); the executor's reuses what it
 * already decoded or hashed.
 */
export function checkBlockLimits(
  block: Block, encodedSize: number, chainId: string, limits: BlockLimits,
  decodeTx: (raw: Uint8Array, i: number) => SignedTransaction = (raw) => decodeSignedTransaction(raw),
): SignedTransaction[] {
  const h = block.header;
  const fail = (what: string): never => {
    throw new BlockError(`block ${h.height}: ${what}`);
  };
  if (h.protocolVersion !== limits.protocolVersion) fail(`protocol version ${h.protocolVersion}; this chain runs version ${limits.protocolVersion}`);
  if (encodedSize > limits.maxBytes) fail(`${encodedSize} bytes exceed the block size limit of ${limits.maxBytes}`);
  if (block.txs.length > limits.maxTxs) fail(`${block.txs.length} transactions exceed the limit of ${limits.maxTxs}`);
  if (block.evidence.length > MAX_BLOCK_EVIDENCE) fail(`${block.evidence.length} evidence items exceed the limit of ${MAX_BLOCK_EVIDENCE}`);
  let gas = 0;
  return block.txs.map((raw, i) => {
    let stx: SignedTransaction;
    try {
      stx = decodeTx(raw, i);
    } catch (err) {
      if (err instanceof CodecError) fail(`txs[${i}] is malformed: ${err.message}`);
      throw err;
    }
    if (stx.tx.chainId !== chainId) fail(`txs[${i}] is for chain ${stx.tx.chainId}, not ${chainId}`);
    const problem = txLimitProblem(stx, limits);
    if (problem !== null) fail(`txs[${i}]: ${problem}`);
    gas += stx.tx.gasLimit;
    if (gas > limits.maxGas) fail(`its transactions declare more than the block gas limit of ${limits.maxGas} (${gas} by txs[${i}])`);
    return stx;
  });
}

// ---- block size ----------------------------------------------------------------------------------

/** Bytes CBOR spends in front of a byte string (or list) of `length`: its type and length header. */
export function cborHeaderBytes(length: number): number {
  return length < 24 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : length < 0x1_0000_0000 ? 5 : 9;
}

const WORST = Number.MAX_SAFE_INTEGER;

/**
 * The largest a block can be with one transaction of `txBytes` on a chain of `validators`
 * validators, everything else at the most the codec and the rules allow: a header with the longest
 * chain id and the largest numbers, a lastCommit signed by every validator, MAX_BLOCK_EVIDENCE
 * evidence items of the largest form. Encoded, not estimated, so it cannot drift from the codec.
 */
export function worstBlockBytes(validators: number, txBytes: number): number {
  if (!Number.isSafeInteger(validators) || validators < 1) throw new RangeError(`validators: expected a positive integer, got ${validators}`);
  const hash = (b: number) => new Uint8Array(32).fill(b);
  const vote = (b: number) => ({ type: 2 as const, height: WORST, round: WORST, blockHash: hash(b), validator: new Uint8Array(20), signature: new Uint8Array(64).fill(b) });
  const block: Block = {
    header: {
      protocolVersion: WORST, chainId: 'a'.repeat(MAX_CHAIN_ID_LENGTH), height: WORST, time: WORST,
      lastBlockHash: hash(0), lastCommitHash: hash(0), txsHash: hash(0), stateRoot: hash(0), lastResultsHash: hash(0),
      validatorsHash: hash(0), proposer: new Uint8Array(20), evidenceHash: hash(0),
    },
    txs: txBytes > 0 ? [new Uint8Array(txBytes)] : [],
    lastCommit: {
      height: WORST, round: WORST, blockHash: hash(0),
      signatures: Array.from({ length: validators }, () => ({ validator: new Uint8Array(20), signature: new Uint8Array(64) })),
    },
    evidence: Array.from({ length: MAX_BLOCK_EVIDENCE }, () => ({ first: vote(1), second: vote(2) })),
  };
  return encodeBlock(block).length;
}

/**
 * The smallest `max_bytes` genesis accepts for `validators` validators: a block that holds the
 * largest transaction the codec takes (MAX_TX_BYTES) beside the largest header, commit and
 * evidence, so no accepted genesis can leave a valid transaction that fits no block.
 */
export function minBlockBytes(validators: number): number {
  return worstBlockBytes(validators, MAX_TX_BYTES);
}

/** The codec's own caps and no fee floor: for tools and tests of execution alone, never a chain. */
export const CODEC_LIMITS: BlockLimits = Object.freeze({
  protocolVersion: PROTOCOL_VERSION, maxBytes: MAX_BLOCK_BYTES, maxTxs: MAX_BLOCK_TXS, maxGas: 2 ** 52, minGasPrice: 0n,
});
