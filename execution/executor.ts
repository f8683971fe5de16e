/**
 * The executor applies finalised blocks to the state. For each block it checks that the header
 * links to what it has (height, previous hash, state root, results root, transactions root),
 * executes the transactions in order through a state overlay, and writes the new state version,
 * the block, its receipts, the transaction index and the chain head in ONE LevelDB batch, so a
 * crash leaves either the previous height or the new one, never a mix.
 *
 * Execution is deterministic: it depends only on the block and the state, never on the clock,
 * the machine or map iteration order. State version N is the state after block N; version 0 is
 * genesis.
 *
 * Every block passes ONE validity check before anything in it runs (#checkForm, the signatures,
 * #checkVouched; applyBlock verifies the signatures on the node's SignaturePool when given): the limits of
 * chain/block-rules.ts (protocol version, size, transaction count, declared gas, each
 * transaction's gas cap, fee floor and sender key), every transaction's signature, the links to
 * the head (time strictly after it), and, given the validator set, what consensus vouches for: the
 * header's validatorsHash, the +2/3 precommits in lastCommit (and in the commit given with the
 * block), that the proposer is a validator, and the duplicate-vote evidence the block carries.
 * `validateBlock` runs it without executing or writing anything: what the proposer runs on its own
 * block and a validator on a proposed one before it prevotes; applyBlock (and so block sync) runs
 * it again. Its stateless parts are in execution/block-checks.ts; what one transaction does is in
 * execution/transaction.ts. Evidence has no effect on the state yet (no slashing); it is recorded
 * and indexed by hash so it is committed once.
 */
import type { Level } from 'level';
import { formatAddress, type Address } from '../chain/address.ts';
import {
  blockHash, commitHash, encodeBlock, txsHash, ZERO_HASH, type Block, type Header,
} from '../chain/block.ts';
import { BlockError, checkBlockLimits, CODEC_LIMITS, type BlockLimits } from '../chain/block-rules.ts';
import { compareBytes, equalBytes, toHex } from '../chain/bytes.ts';
import { amount, U64_MAX } from '../chain/codec.ts';
import {
  evidenceHash, evidenceHeight, evidenceRoot, type DuplicateVoteEvidence,
} from '../chain/evidence.ts';
import type { GenesisState } from '../chain/genesis.ts';
import { merkleRoot } from '../chain/merkle.ts';
import { encodeReceipt, receiptsRoot, type Receipt } from '../chain/receipt.ts';
import { decodeSignedTransaction, MAX_TX_BYTES, type SignedTransaction } from '../chain/tx.ts';
import { sha256 } from '../chain/hash.ts';
import type { Commit } from '../chain/vote.ts';
import { validatorsHash } from '../chain/validators-hash.ts';
import type { ValidatorSet } from '../consensus/validators.ts';
import { CommitError, EvidenceError, SignatureCache, verifyCommit, verifyEvidence } from '../consensus/verify.ts';
import { StateOverlay } from '../state/overlay.ts';
import type { StateTree } from '../state/tree.ts';
import { accountKey, accountOf, encodeAccount, writtenAccounts, type Account, type AccountReader } from './account.ts';
import { BlockStore } from './block-store.ts';
import { Contracts, storageIndexOps, type IndexSnapshot } from './contracts.ts';
import { executionRules } from './protocol.ts';
import { checkEvidenceForm, checkLinks, checkSignatures, checkSignaturesOn } from './block-checks.ts';
import { nameIndexKeys, nameIndexOps } from './model-names.ts';
import { executeTx } from './transaction.ts';
import { Zk } from './zk.ts';
import { decodeHead, encodeHead, HEAD_KEY, type ChainHead } from './head.ts';

export type { ChainHead } from './head.ts';
import { ZK_PROOFS_SINCE } from '../chain/protocol.ts';
import { InlineVerifier } from '../zk/groth16.ts';
import type { SignaturePool } from '../chain/signature-pool.ts';

/** Evidence older than this many heights (block height - evidence height) is refused, as in CometBFT. */
export const DEFAULT_EVIDENCE_MAX_AGE_HEIGHTS = 100_000;

export { BlockError } from '../chain/block-rules.ts';
export type { AppliedBlock, CommittedView, Executed, ExecutorOptions } from './executor-types.ts';
import type { AppliedBlock, Checked, CommittedView, Executed, ExecutorOptions, Validated } from './executor-types.ts';

/** Execution hands the event loop a turn at least this often (RPC and timers run meanwhile). */
const YIELD_EVERY_MS = 5;

/** What a failed check throws: a BlockError naming the block's height. */
function failing(block: Block): (what: string) => never {
  return (what: string): never => {
    throw new BlockError(`block ${block.header.height}: ${what}`);
  };
}

/** A committed evidence item the executor remembers while it is young enough to be offered again. */
interface RecentEvidence {
  /** Height of the block that committed it. */
  committedAt: number;
  /** Height of the votes. */
  height: number;
}

interface HeldView {
  head: ChainHead;
  snapshot: IndexSnapshot;
  readers: number;
  retired: boolean;
}

export class Executor implements AccountReader {
  readonly #db: Level<Uint8Array, Uint8Array>;
  readonly #tree: StateTree;
  readonly blocks: BlockStore;
  readonly validators: ValidatorSet | undefined;
  readonly #validatorsHash: Uint8Array | undefined;
  readonly evidenceMaxAgeHeights: number;
  readonly limits: BlockLimits;
  readonly #durable: boolean;
  readonly #sigCache: SignatureCache;
  readonly #signatures: SignaturePool | undefined;
  /** Contract deploys, calls and queries, over the same state. */
  readonly contracts: Contracts;
  /** Groth16 keys and proofs (protocol 3 and later; undefined before). */
  readonly zk: Zk | undefined;
  #head: ChainHead | undefined;
  /**
   * Committed evidence young enough to be offered again (evidence hash hex -> heights), so a
   * re-submission is refused without a read: anything older is refused for its age anyway.
   */
  readonly #recentEvidence = new Map<string, RecentEvidence>();
  /** Applies are serialised: a second block waits for the first to be written. */
  #queue: Promise<unknown> = Promise.resolve();
  /** The latest committed height with its snapshot; replaced (and released once unread) per commit. */
  #view: HeldView | undefined;
  /**
   * A transaction this node already decoded and whose signature it verified, by hash (the node sets
   * its mempool's `get` here): a block's transactions found there are not decoded or verified
   * again. It must answer with the decoding of bytes that have that hash, or undefined.
   */
  knownTx: ((hash: Uint8Array) => SignedTransaction | undefined) | undefined;
  /**
   * What the last validateBlock given the block's bytes found: an applyBlock of the same bytes on
   * the same head (consensus validates a proposal, then commits it) takes its transactions from
   * here instead of hashing, decoding and checking them again.
   */
  #validated: Validated | undefined;

  private constructor(db: Level<Uint8Array, Uint8Array>, tree: StateTree, head: ChainHead | undefined, opts: ExecutorOptions) {
    this.#db = db;
    this.#tree = tree;
    this.blocks = new BlockStore(db);
    this.#head = head;
    this.validators = opts.validators;
    this.#validatorsHash = opts.validators && validatorsHash(opts.validators.validators);
    this.evidenceMaxAgeHeights = opts.evidenceMaxAgeHeights ?? DEFAULT_EVIDENCE_MAX_AGE_HEIGHTS;
    this.limits = Object.freeze({ ...(opts.limits ?? CODEC_LIMITS) });
    this.#sigCache = opts.sigCache ?? new SignatureCache();
    this.#signatures = opts.signatures;
    this.#durable = opts.durable ?? false;
    this.zk = this.limits.protocolVersion >= ZK_PROOFS_SINCE ? new Zk(opts.verifier ?? new InlineVerifier()) : undefined;
    this.contracts = new Contracts(db, { ...opts.contracts, ...(this.zk && { zk: this.zk }) });
  }

  static async open(db: Level<Uint8Array, Uint8Array>, tree: StateTree, opts: ExecutorOptions = {}): Promise<Executor> {
    const maxAge = opts.evidenceMaxAgeHeights;
    if (maxAge !== undefined && (!Number.isSafeInteger(maxAge) || maxAge < 1)) {
      throw new RangeError(`evidenceMaxAgeHeights must be a positive integer, got ${maxAge}`);
    }
    if (opts.sigCache !== undefined && !(opts.sigCache instanceof SignatureCache)) throw new TypeError('sigCache must be a SignatureCache');
    // Refuses, before anything is read, a protocol whose rules this build's VM does not run.
    executionRules((opts.limits ?? CODEC_LIMITS).protocolVersion);
    const raw = await db.get(HEAD_KEY);
    const executor = new Executor(db, tree, raw && decodeHead(raw), opts);
    const head = executor.#head;
    if (head !== undefined) {
      executor.#publish(head);
      for (const c of await executor.blocks.evidenceFrom(head.height + 1 - executor.evidenceMaxAgeHeights)) {
        executor.#rememberEvidence(c.evidence, c.height);
      }
      executor.#forgetOldEvidence(head.height + 1);
    }
    return executor;
  }

  /** The chain head, or undefined before genesis. */
  get head(): ChainHead | undefined {
    return this.#head;
  }

  #requireHead(): ChainHead {
    if (!this.#head) throw new Error('the chain has no genesis yet: call initGenesis first');
    return this.#head;
  }

  /** Writes the genesis state as version 0. Refuses if a chain already exists in this database. */
  async initGenesis(genesis: GenesisState): Promise<ChainHead> {
    if (this.#head) throw new Error(`this database already holds chain ${this.#head.chainId} at height ${this.#head.height}`);
    const overlay = new StateOverlay(this.#tree);
    let supply = 0n;
    const seen = new Set<string>();
    for (const { address, balance } of genesis.accounts) {
      const id = toHex(address);
      if (seen.has(id)) throw new RangeError(`genesis: account ${formatAddress(address)} listed twice`);
      seen.add(id);
      supply += amount(balance, `genesis balance of ${formatAddress(address)}`);
      if (supply > U64_MAX) throw new RangeError('genesis: total supply exceeds 2^64-1');
      overlay.set(accountKey(address), encodeAccount({ balance, nonce: 0 }));
    }
    const prepared = await this.#tree.prepare(0, overlay.writes());
    const head: ChainHead = {
      chainId: genesis.chainId, height: 0, blockHash: ZERO_HASH, stateRoot: prepared.root,
      resultsHash: merkleRoot([]), time: genesis.time,
    };
    await this.#db.batch([...prepared.ops, { type: 'put', key: HEAD_KEY, value: encodeHead(head) }]);
    this.#tree.markCommitted(prepared);
    this.#publish(head);
    return head;
  }

  /**
   * Runs `fn` on the latest committed state as it is when called: its head, whose height is the
   * tree version to read, and a LevelDB snapshot taken as that height was written. The tree keeps
   * versions; the storage index beside it describes only the latest state, so a read that spans a
   * commit (a contract query iterating storage) needs the snapshot to see one height throughout.
   */
  async read<T>(fn: (view: CommittedView) => Promise<T>): Promise<T> {
    const view = this.#view;
    if (view === undefined) throw new Error('the chain has no genesis yet: call initGenesis first');
    view.readers++;
    try {
      return await fn({ head: view.head, overlay: new StateOverlay(this.#tree, view.head.height), snapshot: view.snapshot });
    } finally {
      view.readers--;
      if (view.retired && view.readers === 0) void view.snapshot.close();
    }
  }

  /** Keys of the model name index (model_search), as of the latest committed height. */
  modelNameKeys(prefix: string, after: Uint8Array | undefined, limit: number): Promise<{ height: number; keys: Uint8Array[] }> {
    return this.read(async ({ head, snapshot }) => ({ height: head.height, keys: await nameIndexKeys(this.#db, snapshot, prefix, after, limit) }));
  }

  /**
   * Makes `head` the chain head, with a snapshot of the database as it now stands. Called right
   * after the height's batch is written and before anything else can write: applies are
   * serialised, and nothing else writes the index.
   */
  #publish(head: ChainHead): void {
    const old = this.#view;
    this.#head = head;
    this.#view = { head, snapshot: this.#db.snapshot(), readers: 0, retired: false };
    if (old === undefined) return;
    old.retired = true;
    if (old.readers === 0) void old.snapshot.close();
  }

  async getAccount(address: Address): Promise<Account> {
    return accountOf(await this.#tree.get(accountKey(address)));
  }

  /**
   * A header for the next height that links to the current head: what a proposer would build.
   * validatorsHash defaults to the executor's validator set's (zero without one).
   */
  nextHeader(opts: {
    txs: readonly Uint8Array[]; time: number; proposer: Address; lastCommit: Commit | null; validatorsHash?: Uint8Array;
    evidence?: readonly DuplicateVoteEvidence[];
  }): Header {
    const head = this.#requireHead();
    return {
      protocolVersion: this.limits.protocolVersion,
      chainId: head.chainId,
      height: head.height + 1,
      time: opts.time,
      lastBlockHash: head.blockHash,
      lastCommitHash: commitHash(opts.lastCommit),
      txsHash: txsHash(opts.txs),
      stateRoot: head.stateRoot,
      lastResultsHash: head.resultsHash,
      validatorsHash: opts.validatorsHash ?? this.#validatorsHash ?? ZERO_HASH,
      proposer: opts.proposer,
      evidenceHash: evidenceRoot(opts.evidence ?? []),
    };
  }

  /**
   * Runs every check applyBlock runs before executing (see the header comment). Throws
   * BlockError; writes nothing. With `round` (the proposal's round) and a validator set, the
   * header's proposer must be that round's proposer. `encoded` is the block's encoding when the
   * caller has it (a proposal arrives as bytes), else the block is encoded to be measured. It
   * checks against the current head, so call it when no applyBlock is in flight (consensus
   * validates height H only after H-1 is applied).
   */
  validateBlock(block: Block, opts: { round?: number; encoded?: Uint8Array } = {}): void {
    const head = this.#requireHead();
    const size = (opts.encoded ?? encodeBlock(block)).length;
    const fail = failing(block);
    const txHashes = block.txs.map(sha256);
    const { txs, verified } = this.#checkForm(head, block, size, txHashes, fail);
    checkSignatures(this.#sigCache, txs, fail, verified);
    this.#checkVouched(head, block, blockHash(block.header), undefined, opts.round, fail);
    if (opts.encoded !== undefined) this.#validated = { head, encoded: opts.encoded, txHashes, txs, verified };
  }

  /**
   * Checks that `block` extends the head (everything validateBlock checks), executes it and commits
   * it atomically. `commit`, when given, is the +2/3 precommit set that finalised this block and is
   * stored with it; with a validator set its signatures are verified. The header's proposer need
   * not be the proposer of the commit's round: a block that had a polka is proposed again, as it
   * is, by later rounds' proposers (the paper's validValue), so only membership is checked. Throws BlockError (nothing written) when a check fails.
   * `encoded` is the block's encoding when the caller decoded the block from it (consensus commits
   * bytes); else the block is encoded here.
   */
  applyBlock(block: Block, commit?: Commit, encoded?: Uint8Array): Promise<AppliedBlock> {
    const run = this.#queue.then(() => this.#apply(block, commit, encoded));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #apply(block: Block, commit: Commit | undefined, given: Uint8Array | undefined): Promise<AppliedBlock> {
    const head = this.#requireHead();
    const hash = blockHash(block.header);
    const encoded = given ?? encodeBlock(block);
    const fail = failing(block);
    // The bytes validateBlock checked on this head: their form and signatures hold, as found then.
    const seen = this.#validated;
    this.#validated = undefined;
    const validated = seen !== undefined && seen.head === head && compareBytes(encoded, seen.encoded) === 0 ? seen : undefined;
    // Each transaction is hashed once: for the header's txsHash and for the tx index.
    const txHashes = validated?.txHashes ?? block.txs.map(sha256);
    const { txs, verified } = validated ?? this.#checkForm(head, block, encoded.length, txHashes, fail);
    // On the pool, the signatures are checked by its threads while this one runs the checks that
    // follow and executes the block: what a block computes never depends on its signatures (one bad
    // signature refuses the whole block), and nothing is written before they are known good. A bad
    // signature is reported before any other fault found meanwhile, as when checked first.
    let signatures: Promise<void> | undefined;
    if (validated === undefined) {
      if (this.#signatures === undefined) checkSignatures(this.#sigCache, txs, fail, verified);
      else (signatures = checkSignaturesOn(this.#signatures, this.#sigCache, txs, fail, verified)).catch(() => {});
    }
    let run: Executed;
    try {
      this.#checkVouched(head, block, hash, commit, undefined, fail);
      run = await this.#execute(head, block, txs);
    } catch (err) {
      await signatures;
      throw err;
    }
    await signatures;
    const { writes, receipts, prepared } = run;
    const encodedReceipts = receipts.map(encodeReceipt);
    const next: ChainHead = {
      chainId: head.chainId, height: block.header.height, blockHash: hash, stateRoot: prepared.root,
      resultsHash: receiptsRoot(encodedReceipts), time: block.header.time,
    };
    await this.#db.batch([
      ...prepared.ops,
      ...storageIndexOps(writes),
      ...nameIndexOps(writes),
      ...this.blocks.putOps(block, encoded, hash, txHashes, encodedReceipts),
      ...(commit ? this.blocks.commitOps(commit) : []),
      { type: 'put', key: HEAD_KEY, value: encodeHead(next) },
    ], { sync: this.#durable });
    this.#tree.markCommitted(prepared);
    this.#publish(next);
    for (const ev of block.evidence) this.#rememberEvidence(ev, next.height);
    this.#forgetOldEvidence(next.height + 1);
    return { height: next.height, blockHash: hash, stateRoot: next.stateRoot, receipts, txHashes, accounts: writtenAccounts(writes) };
  }

  /** Runs a checked block's transactions on an overlay and prepares the new tree version (writes nothing). */
  async #execute(head: ChainHead, block: Block, txs: readonly SignedTransaction[]): Promise<Executed> {
    const overlay = new StateOverlay(this.#tree, head.height);
    const receipts: Receipt[] = [];
    const proposer = block.header.proposer;
    // Every proof the block carries is verified first, together (the verifier's threads batch them by key).
    const answers = this.zk && (await this.zk.preverify(overlay, txs));
    let turn = performance.now();
    for (const [i, stx] of txs.entries()) {
      receipts.push(await executeTx(overlay, stx, proposer, this.contracts, block.header, this.zk && { zk: this.zk, answers: answers![i] }));
      // Scheduling only: when the loop yields never changes what it computes.
      if (performance.now() - turn >= YIELD_EVERY_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        turn = performance.now();
      }
    }
    const writes = overlay.writes();
    return { writes, receipts, prepared: await this.#tree.prepare(block.header.height, writes) };
  }

  /**
   * The one validity check (see the header comment), in three steps so that the signatures can be
   * verified on the pool's threads in between: the form (links and limits; returns the decoded
   * transactions), the signatures, then what consensus vouches for (#checkVouched).
   */
  #checkForm(head: ChainHead, block: Block, size: number, txHashes: readonly Uint8Array[], fail: (what: string) => never): Checked {
    if (!Array.isArray(block.evidence)) fail('evidence must be a list (empty when there is none)');
    checkLinks(head, block, txHashes, fail);
    const verified = new Set<SignedTransaction>();
    const decode = (raw: Uint8Array, i: number): SignedTransaction => {
      const known = this.knownTx?.(txHashes[i]!);
      if (known === undefined) return decodeSignedTransaction(raw, MAX_TX_BYTES, txHashes[i]);
      verified.add(known);
      return known;
    };
    return { txs: checkBlockLimits(block, size, head.chainId, this.limits, decode), verified };
  }

  /** Evidence, validator set, proposer and commits: the checks after the signatures. */
  #checkVouched(
    head: ChainHead, block: Block, hash: Uint8Array, commit: Commit | undefined, round: number | undefined, fail: (what: string) => never,
  ): void {
    const h = block.header;
    const hashes = checkEvidenceForm(block, this.evidenceMaxAgeHeights, (id) => this.#recentEvidence.get(id)?.committedAt, fail);
    const set = this.validators;
    if (set === undefined) {
      if (commit && (commit.height !== h.height || !equalBytes(commit.blockHash, hash))) fail('the commit given is for another block');
      return;
    }
    if (!equalBytes(h.validatorsHash, this.#validatorsHash!)) fail('validatorsHash does not match the validator set');
    if (set.byAddress(h.proposer) === undefined) fail(`proposer ${formatAddress(h.proposer)} is not a validator`);
    if (round !== undefined) {
      const expected = set.proposer(h.height, round);
      if (!equalBytes(h.proposer, expected.address)) {
        fail(`proposer ${formatAddress(h.proposer)} is not the proposer of round ${round}, ${formatAddress(expected.address)}`);
      }
    }
    const commitCheck = (c: Commit, expect: { height: number; blockHash: Uint8Array }, what: string) => {
      try {
        verifyCommit(head.chainId, set, c, expect, this.#sigCache);
      } catch (err) {
        if (err instanceof CommitError) fail(`${what}: ${err.message}`);
        throw err;
      }
    };
    if (block.lastCommit) commitCheck(block.lastCommit, { height: head.height, blockHash: head.blockHash }, 'lastCommit');
    if (commit) commitCheck(commit, { height: h.height, blockHash: hash }, 'the commit given');
    block.evidence.forEach((ev, i) => {
      try {
        verifyEvidence(head.chainId, set, ev, this.#sigCache);
      } catch (err) {
        if (err instanceof EvidenceError) fail(`evidence[${i}] (${toHex(hashes[i]!)}): ${err.message}`);
        throw err;
      }
    });
  }

  #rememberEvidence(ev: DuplicateVoteEvidence, committedAt: number): void {
    this.#recentEvidence.set(toHex(evidenceHash(ev)), { committedAt, height: evidenceHeight(ev) });
  }

  /** Drops what a block at `nextHeight` would refuse for its age anyway. */
  #forgetOldEvidence(nextHeight: number): void {
    for (const [id, e] of this.#recentEvidence) {
      if (nextHeight - e.height > this.evidenceMaxAgeHeights) this.#recentEvidence.delete(id);
    }
  }
}
