/** chain_*: the node's chain, its rules, and its blocks and commits. */
import { z } from 'zod';
import { formatAddress } from '../../chain/address.ts';
import { toHex } from '../../chain/bytes.ts';
import { RpcError } from '../errors.ts';
import { AddressOut, AmountOut, BlockJson, blockJson, CommitJson, commitJson, Hash32, hex, rfc3339, TimeOut, Uint } from '../json.ts';
import { defineRpcMethod, hexIn, HeightIn, latestHeight, NoParams, requireHead, resolveHeight } from '../method.ts';

export const chainStatus = defineRpcMethod({
  name: 'chain_status',
  summary: 'Chain id, this node, and the latest committed block.',
  params: NoParams,
  result: z.object({
    chain_id: z.string(),
    node_id: z.string().describe("the node's libp2p peer id (12D3KooW...)"),
    validator_address: AddressOut.nullable().describe('this node as a validator, or null if it does not validate'),
    latest_height: Uint.describe('0 before the first block'),
    latest_block_hash: Hash32.describe('all zeros before the first block'),
    latest_block_time: TimeOut.describe('genesis time before the first block'),
    latest_state_root: Hash32.describe('state root after the latest block'),
    catching_up: z.boolean(),
    earliest_block_height: Uint.nullable().describe('the lowest height whose block this node has: 1, or the height after the snapshot it joined from; null before the first block'),
    latest_snapshot_height: Uint.nullable().describe('the newest state snapshot this node serves to nodes joining by snapshot, null if none'),
  }),
  errors: [],
  async handler(node) {
    const head = requireHead(node);
    return {
      chain_id: node.chainId,
      node_id: node.nodeId,
      validator_address: node.validatorAddress === null ? null : formatAddress(node.validatorAddress),
      latest_height: head.height,
      latest_block_hash: hex(head.blockHash),
      latest_block_time: rfc3339(head.time),
      latest_state_root: hex(head.stateRoot),
      catching_up: node.catchingUp(),
      earliest_block_height: (await node.earliestBlock()) ?? null,
      latest_snapshot_height: node.latestSnapshot(),
    };
  },
});

export const chainGetParams = defineRpcMethod({
  name: 'chain_getParams',
  summary: "The chain's consensus rules (genesis protocol_version and consensus_params) and what this node admits.",
  params: NoParams,
  result: z.object({
    protocol_version: Uint,
    max_bytes: Uint.describe('most bytes of an encoded block'),
    max_txs: Uint.describe('most transactions in a block'),
    max_gas: Uint.describe('most gas the transactions of a block may declare together, and so the largest gas_limit'),
    min_gas_price: AmountOut.describe("base units per unit of declared gas every transaction's fee must cover (chain-wide)"),
    admission_min_gas_price: AmountOut.describe('the gas price this node admits: the chain minimum or the higher floor of its config'),
    max_tx_bytes: Uint.describe('largest transaction this node admits'),
    precision_ms: Uint.describe('timeliness: how far apart honest clocks may be'),
    message_delay_ms: Uint.describe('timeliness: how long a proposal may take to arrive (round 0)'),
    evidence_max_age_heights: Uint,
  }),
  errors: [],
  async handler(node) {
    const c = node.params();
    return {
      protocol_version: c.protocolVersion, max_bytes: c.maxBytes, max_txs: c.maxTxs, max_gas: c.maxGas,
      min_gas_price: c.minGasPrice.toString(), admission_min_gas_price: c.admissionMinGasPrice.toString(),
      max_tx_bytes: c.maxTxBytes, precision_ms: c.synchrony.precisionMs, message_delay_ms: c.synchrony.messageDelayMs,
      evidence_max_age_heights: c.evidenceMaxAgeHeights,
    };
  },
});

export const chainGetBlock = defineRpcMethod({
  name: 'chain_getBlock',
  summary: 'A block by height or by hash; the latest block when neither is given.',
  description: 'Give at most one of height and hash. Transactions that do not decode are listed with their raw bytes and the decoding error.',
  params: z.strictObject({ height: HeightIn.optional(), hash: hexIn('block hash', { bytes: 32 }).optional() })
    .refine((p) => p.height === undefined || p.hash === undefined, { message: 'give height or hash, not both', path: ['hash'] }),
  result: BlockJson,
  errors: ['not_found'],
  async handler(node, p) {
    const latest = latestHeight(node);
    let height: number;
    if (p.hash !== undefined) {
      const h = await node.heightOf(p.hash);
      if (h === undefined) throw RpcError.notFound(`no block with hash ${toHex(p.hash)}`, { hash: toHex(p.hash) });
      height = h;
    } else {
      height = p.height ?? latest;
      if (height === 0) throw RpcError.notFound(latest === 0 ? 'no blocks yet: the chain is at genesis' : 'no block at height 0: blocks start at 1', { height });
      if (height > latest) throw RpcError.notFound(`no block at height ${height}: the latest height is ${latest}`, { height, latest_height: latest });
    }
    const block = await node.block(height);
    if (block === undefined) throw RpcError.notFound(`block ${height} is not stored on this node`, { height });
    return blockJson(block);
  },
});

export const chainGetCommit = defineRpcMethod({
  name: 'chain_getCommit',
  summary: 'The +2/3 precommits that finalised the block at a height (default: the latest).',
  description: 'The commit stored with the block, or else the one carried by the next block as its last_commit.',
  params: z.strictObject({ height: HeightIn.optional() }),
  result: CommitJson,
  errors: ['not_found'],
  async handler(node, p) {
    const height = resolveHeight(node, p.height, 'commit');
    if (height === 0) throw RpcError.notFound('no commit at height 0: blocks start at 1', { height });
    const commit = await node.commit(height);
    if (commit === undefined) throw RpcError.notFound(`no commit for height ${height} is stored on this node`, { height });
    return commitJson(commit);
  },
});
