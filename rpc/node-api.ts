/**
 * What the JSON-RPC server needs from a running node. The node (node/node.ts) implements it; the
 * RPC methods (rpc/methods.ts) read and write only through it, so the server can be tested
 * against any real composition of executor, mempool and block producer.
 */
import type { PeerInfo } from '../p2p/network.ts';
import type { Address } from '../chain/address.ts';
import type { DuplicateVoteEvidence } from '../consensus/vote-set.ts';
import type { Receipt } from '../chain/receipt.ts';
import type { SignedTransaction } from '../chain/tx.ts';
import type { StateTree } from '../state/tree.ts';
import type { Executor } from '../execution/executor.ts';
import type { Mempool } from '../mempool/mempool.ts';
import type { ValidatorSet } from '../consensus/validators.ts';
import type { SynchronyBounds } from '../consensus/timeliness.ts';

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

export interface CommittedEvidence {
  /** Height of the block that included it. */
  height: number;
  evidence: DuplicateVoteEvidence;
}

export interface RpcNode {
  readonly chainId: string;
  /** The node's libp2p peer id. */
  readonly nodeId: string;
  /** This node's validator address, or null if it does not validate. */
  readonly validatorAddress: Address | null;
  readonly executor: Executor;
  readonly tree: StateTree;
  readonly mempool: Mempool;
  readonly validators: ValidatorSet;
  /** The genesis timeliness bounds (consensus/timeliness.ts). */
  readonly synchrony: SynchronyBounds;
  /** Display names from genesis, by validator address hex. */
  readonly validatorNames: ReadonlyMap<string, string>;
  catchingUp(): boolean;
  consensusState(): ConsensusSnapshot;
  /** Admits a transaction to the mempool (throws MempoolError) and gossips it. */
  submitTx(bytes: Uint8Array): Promise<SignedTransaction>;
  /** Resolves when the transaction is committed; rejects with an Error after timeoutMs. Resolves at
   * once if it is already committed. */
  waitForTx(hash: Uint8Array, timeoutMs: number): Promise<TxInclusion>;
  /** Evidence included in blocks, newest first, and evidence seen but not yet included. */
  evidence(): Promise<{ committed: CommittedEvidence[]; pending: DuplicateVoteEvidence[] }>;
  /** Connected peers. */
  peers(): PeerInfo[];
  listenAddresses(): { rpc: string; p2p: string | null };
}
