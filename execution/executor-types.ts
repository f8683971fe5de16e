/** The executor's options and what it hands out (execution/executor.ts). */
import type { BlockLimits } from '../chain/block-rules.ts';
import type { Receipt } from '../chain/receipt.ts';
import type { SignedTransaction } from '../chain/tx.ts';
import type { SignaturePool } from '../chain/signature-pool.ts';
import type { SignatureCache } from '../consensus/verify.ts';
import type { ValidatorSet } from '../consensus/validators.ts';
import type { StateOverlay } from '../state/overlay.ts';
import type { PreparedVersion } from '../state/tree.ts';
import type { Verifier } from '../zk/groth16.ts';
import type { Account } from './account.ts';
import type { ContractsOptions, IndexSnapshot } from './contracts.ts';
import type { ChainHead } from './head.ts';

export interface ExecutorOptions {
  /**
   * The limits every block must keep (genesis protocol_version and consensus_params: blockLimits in
   * genesis/genesis.ts). Default CODEC_LIMITS: the codec's own caps and no fee floor, for tools and
   * tests of execution alone; a node always passes its genesis.
   */
  limits?: BlockLimits;
  /**
   * The validator set. With it, blocks must carry its validatorsHash, commits must be +2/3 of its
   * power with valid signatures, and evidence must be signed by its members. Without it (tools and
   * tests of execution alone) those checks are skipped, but evidence must still be well formed.
   */
  validators?: ValidatorSet;
  /** Default DEFAULT_EVIDENCE_MAX_AGE_HEIGHTS. */
  evidenceMaxAgeHeights?: number;
  /** Shared with the consensus driver so a precommit verified there is not verified again here. */
  sigCache?: SignatureCache;
  /**
   * Sync each block's batch to disk before applyBlock resolves (LevelDB's `sync` write). A
   * validator needs it: it marks the end of a height in its WAL after the block is applied, and
   * must never find the WAL ahead of its store after a power loss. Default false.
   */
  durable?: boolean;
  /** Options of the contract runtime (compiled-module cache size, debug log). */
  contracts?: Omit<ContractsOptions, 'zk'>;
  /** Groth16 verification from protocol 3 (the node's pool); default an InlineVerifier. Its owner closes it. */
  verifier?: Verifier;
  /**
   * Where applyBlock verifies the transactions' signatures: the node's pool of threads (same
   * answers); default the calling thread. validateBlock, which must answer at once, always verifies
   * inline. Its owner closes it.
   */
  signatures?: SignaturePool;
}

export interface AppliedBlock {
  height: number;
  blockHash: Uint8Array;
  stateRoot: Uint8Array;
  receipts: Receipt[];
  txHashes: Uint8Array[];
  /**
   * Every account the block wrote, as it now stands, keyed by its address's bytes as a latin1
   * string: what the mempool rechecks after the block, with no reads (an account the block did not
   * write is as it was).
   */
  accounts: Map<string, Account>;
}

/** The committed state at one height, as `Executor.read` hands it out. */
export interface CommittedView {
  head: ChainHead;
  /** A fresh overlay on the tree version of `head.height`; what is written to it is never kept. */
  overlay: StateOverlay;
  /** LevelDB as it stood when `head` was written: the storage index answers as of that height. */
  snapshot: IndexSnapshot;
}

/** A block run on an overlay: its state writes, receipts and the tree version they make (nothing written). */
export interface Executed {
  writes: [Uint8Array, Uint8Array | null][];
  receipts: Receipt[];
  prepared: PreparedVersion;
}

/** A block's decoded transactions, and those of them whose signatures this node already verified. */
export interface Checked {
  txs: SignedTransaction[];
  verified: ReadonlySet<SignedTransaction>;
}

/** What validateBlock found for a block's bytes on a head, for applyBlock of the same bytes. */
export interface Validated extends Checked {
  head: ChainHead;
  encoded: Uint8Array;
  txHashes: Uint8Array[];
}
