/**
 * What the JSON-RPC methods need from a node, and nothing more: who it is and where its chain
 * stands, blocks by height or hash, transactions by hash, state reads and proofs at a height,
 * contract code and read-only calls, the model name index, mempool admission and the wait for a commit, and what
 * consensus and the network are doing. The node implements it (node/query.ts) from its executor,
 * mempool, consensus and network; the methods (methods/) never reach past it.
 */
import type { Address } from '../chain/address.ts';
import type { Block } from '../chain/block.ts';
import type { DuplicateVoteEvidence } from '../chain/evidence.ts';
import type { Receipt } from '../chain/receipt.ts';
import type { SignedTransaction } from '../chain/tx.ts';
import type { Commit } from '../chain/vote.ts';
import type { SynchronyBounds } from '../consensus/timeliness.ts';
import type { CommittedEvidence, StoredTx } from '../execution/block-store.ts';
import type { ContractInfo, ContractOutcome } from '../execution/contracts.ts';
import type { ChainHead } from '../execution/executor.ts';
import type { Answer, VerifyItem } from '../zk/groth16.ts';
import type { PeerInfo } from '../p2p/network.ts';
import type { StateProof } from '../state/tree.ts';

export type { ChainHead, CommittedEvidence, StoredTx };

export interface TxInclusion {
  height: number;
  index: number;
  receipt: Receipt;
}

export interface ConsensusSnapshot {
  height: number;
  round: number;
  step: string;
  lockedRound: number;
  validRound: number;
  /** Proposer of (height, round). */
  proposer: Address;
  /** Prevote / precommit power seen in the current round, and the set's total. */
  prevotePower: number;
  precommitPower: number;
  totalPower: number;
}

/** The chain's rules (from genesis) and what this node admits. */
export interface ChainParams {
  protocolVersion: number;
  maxBytes: number;
  maxTxs: number;
  maxGas: number;
  minGasPrice: bigint;
  /** The higher of minGasPrice and this node's own [mempool] floor. */
  admissionMinGasPrice: bigint;
  /** The largest transaction this node admits. */
  maxTxBytes: number;
  synchrony: SynchronyBounds;
  evidenceMaxAgeHeights: number;
}

export interface ValidatorEntry {
  address: Address;
  /** Display name from genesis, or null. */
  name: string | null;
  publicKey: Uint8Array;
  power: number;
}

/** A read-only contract call: what `contract_query` runs. */
export interface ContractCall {
  address: Address;
  method: string;
  args: Uint8Array;
  gasLimit: number;
  /** What the method sees as its caller and origin. */
  caller: Address;
}

export interface NodeQuery {
  readonly chainId: string;
  /** The node's libp2p peer id. */
  readonly nodeId: string;
  /** This node's validator address, or null if it does not validate. */
  readonly validatorAddress: Address | null;
  /** The latest committed block (height 0 at genesis); undefined before genesis is applied. */
  head(): ChainHead | undefined;
  params(): ChainParams;
  /** True while the node block-syncs from peers instead of taking part in consensus. */
  catchingUp(): boolean;
  /** The lowest height whose block this node stores (above a snapshot it joined from); undefined before any. */
  earliestBlock(): Promise<number | undefined>;
  /** Height of the newest state snapshot this node serves, null when it has none. */
  latestSnapshot(): number | null;

  // ---- blocks
  heightOf(blockHash: Uint8Array): Promise<number | undefined>;
  block(height: number): Promise<Block | undefined>;
  /** The commit that finalised `height`: stored with the block, or carried by the next one. */
  commit(height: number): Promise<Commit | undefined>;

  // ---- transactions
  tx(hash: Uint8Array): Promise<StoredTx | undefined>;
  /** Whether the mempool holds the transaction: admitted, not committed yet. */
  pending(hash: Uint8Array): boolean;
  /** Admits a transaction to the mempool (throws MempoolError) and gossips it. */
  submitTx(bytes: Uint8Array): Promise<SignedTransaction>;
  /** Resolves when the transaction is committed, at once if it already is; rejects after timeoutMs. */
  waitForTx(hash: Uint8Array, timeoutMs: number): Promise<TxInclusion>;

  // ---- state, at a height (the state after that block; 0 is genesis). A version pruned or not
  // yet written is a StateError.
  stateValue(key: Uint8Array, height: number): Promise<Uint8Array | undefined>;
  /** The state root at `height`, and the key's value there with its proof. */
  stateProof(key: Uint8Array, height: number): Promise<{ root: Uint8Array; value: Uint8Array | undefined; proof: StateProof }>;
  /** The contract at `address`, undefined if there is none. */
  contractCode(address: Address, height: number): Promise<{ info: ContractInfo; code: Uint8Array } | undefined>;
  /** Runs a contract method on the latest committed state, that one height throughout; nothing is kept. */
  queryContract(call: ContractCall): Promise<{ height: number; outcome: ContractOutcome }>;
  /**
   * Up to `limit` keys of the model name index (execution/model-state.ts) for names starting with
   * `prefix` (case-insensitive), after the key `after`, in key order, as of the latest height.
   */
  modelNameKeys(prefix: string, after: Uint8Array | undefined, limit: number): Promise<{ height: number; keys: Uint8Array[] }>;
  /**
   * A Groth16 proof checked by the chain's verifier (its threads, its cache). Only a few run at once
   * for RPC: beyond that it throws RpcError server_busy, so clients cannot fill the queue blocks use.
   */
  verifyProof(item: VerifyItem): Promise<Answer>;

  // ---- consensus and network
  /** The set deciding the next height. */
  validators(): { totalPower: number; validators: ValidatorEntry[] };
  consensusState(): ConsensusSnapshot;
  /** Evidence included in blocks, newest first, and evidence seen but not yet included. */
  evidence(): Promise<{ committed: CommittedEvidence[]; pending: DuplicateVoteEvidence[] }>;
  /** Connected peers. */
  peers(): PeerInfo[];
  listenAddresses(): { rpc: string; p2p: string | null };
}
