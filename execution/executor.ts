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
 * Every block passes ONE validity check before anything in it runs (#check): the limits of
 * chain/block-rules.ts (protocol version, size, transaction count, declared gas, each
 * transaction's gas cap, fee floor and sender key), every transaction's signature, the links to
 * the head (time strictly after it), and, given the validator set, what consensus vouches for: the
 * header's validatorsHash, the +2/3 precommits in lastCommit (and in the commit given with the
 * block), that the proposer is a validator, and the duplicate-vote evidence the block carries.
 * `validateBlock` runs it without executing or writing anything: what the proposer runs on its own
 * block and a validator on a proposed one before it prevotes; applyBlock (and so block sync) runs
 * it again. Evidence has no effect on the state yet (no slashing); it is recorded and indexed by
 * hash so it is committed once.
 */
import type { Level } from 'level';
import { addressOf, formatAddress, type Address } from '../chain/address.ts';
import {
  blockHash, commitHash, encodeBlock, txsHash, txsRoot, ZERO_HASH, type Block, type Header,
} from '../chain/block.ts';
import { BlockError, checkBlockLimits, CODEC_LIMITS, type BlockLimits } from '../chain/block-rules.ts';
import { equalBytes, toHex } from '../chain/bytes.ts';
import { amount, CodecError, decodeCanonical, encodeCanonical, U64_MAX, bytes, tuple, uint } from '../chain/codec.ts';
import {
  evidenceHash, evidenceHeight, evidenceProblem, evidenceRoot, type DuplicateVoteEvidence,
} from '../chain/evidence.ts';
import type { GenesisState } from '../chain/genesis.ts';
import { merkleRoot } from '../chain/merkle.ts';
import { encodeReceipt, receiptsRoot, TxStatus, type Event, type Receipt, type TxStatusCode } from '../chain/receipt.ts';
import { signedMessage, type Payload, type SignedTransaction } from '../chain/tx.ts';
import { sha256 } from '../chain/hash.ts';
import type { Commit } from '../chain/vote.ts';
import { validatorsHash } from '../chain/validators-hash.ts';
import type { ValidatorSet } from '../consensus/validators.ts';
import { CommitError, EvidenceError, SignatureCache, verifyCommit, verifyEvidence } from '../consensus/verify.ts';
import { StateOverlay } from '../state/overlay.ts';
import type { StateTree } from '../state/tree.ts';
import { accountKey, accountOf, encodeAccount, type Account, type AccountReader } from './account.ts';
import { BlockStore } from './block-store.ts';
import { Contracts, type ContractsOptions, type IndexSnapshot } from './contracts.ts';
import { GAS as VM_GAS } from '../vm/limits.ts';
import { executionRules } from './protocol.ts';

/**
 * Gas: a fixed cost per transaction plus a cost per byte of its encoding, plus the payload's own,
 * priced by time as vm/limits.ts is (bench/gas.bench.ts, docs/contracts.md). txBase covers what
 * every transaction costs with state and caches cold: its signature checked with a new key, its
 * sender's account read, updated and committed, its receipt; transfer the recipient's account (a
 * new one: a missing read and an insert); txByte decoding, hashing and storing the bytes.
 */
export const GAS = Object.freeze({ txBase: 800_000, txByte: 15, transfer: 300_000 });

const HEAD_KEY = Uint8Array.of(0x6d); // 'm': the chain head

/** Evidence older than this many heights (block height - evidence height) is refused, as in CometBFT. */
export const DEFAULT_EVIDENCE_MAX_AGE_HEIGHTS = 100_000;

export { BlockError } from '../chain/block-rules.ts';

/** Transactions whose signatures are checked per call: a bad one stops the check at its chunk. */
const SIGNATURE_CHUNK = 256;
/** Execution hands the event loop a turn at least this often (RPC and timers run meanwhile). */
const YIELD_EVERY_MS = 5;

export interface ExecutorOptions {
  /**
   * The limits every block must keep (genesis protocol_version and consensus_params: blockLimits in
   * genesis/schema.ts). Default CODEC_LIMITS: the codec's own caps and no fee floor, for tools and
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
  contracts?: ContractsOptions;
}

/** A committed evidence item the executor remembers while it is young enough to be offered again. */
interface RecentEvidence {
  /** Height of the block that committed it. */
  committedAt: number;
  /** Height of the votes. */
  height: number;
}

/** What the executor has applied so far: what the next block's header must link to. */
export interface ChainHead {
  chainId: string;
  height: number;
  /** Hash of the block at `height` (zero at genesis). */
  blockHash: Uint8Array;
  /** State root after the block at `height`: the next header's stateRoot. */
  stateRoot: Uint8Array;
  /** Receipts root of the block at `height`: the next header's lastResultsHash. */
  resultsHash: Uint8Array;
  /** Time of the block at `height` (genesis time at 0). */
  time: number;
}

export interface AppliedBlock {
  height: number;
  blockHash: Uint8Array;
  stateRoot: Uint8Array;
  receipts: Receipt[];
  txHashes: Uint8Array[];
}

/** The committed state at one height, as `Executor.read` hands it out. */
export interface CommittedView {
  head: ChainHead;
  /** A fresh overlay on the tree version of `head.height`; what is written to it is never kept. */
  overlay: StateOverlay;
  /** LevelDB as it stood when `head` was written: the storage index answers as of that height. */
  snapshot: IndexSnapshot;
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
  /** Contract deploys, calls and queries, over the same state. */
  readonly contracts: Contracts;
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
    this.#durable = opts.durable ?? false;
    this.contracts = new Contracts(db, opts.contracts);
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
    this.#check(head, block, size, blockHash(block.header), block.txs.map(sha256), undefined, opts.round);
  }

  /**
   * Checks that `block` extends the head (everything validateBlock checks), executes it and commits
   * it atomically. `commit`, when given, is the +2/3 precommit set that finalised this block and is
   * stored with it; with a validator set its signatures are verified. The header's proposer need
   * not be the proposer of the commit's round: a block that had a polka is proposed again, as it
   * is, by later rounds' proposers (the paper's validValue), so only membership is checked. Throws BlockError (nothing written) when a check fails.
   */
  applyBlock(block: Block, commit?: Commit): Promise<AppliedBlock> {
    const run = this.#queue.then(() => this.#apply(block, commit));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #apply(block: Block, commit: Commit | undefined): Promise<AppliedBlock> {
    const head = this.#requireHead();
    const hash = blockHash(block.header);
    const encoded = encodeBlock(block);
    // Each transaction is hashed once: for the header's txsHash and for the tx index.
    const txHashes = block.txs.map(sha256);
    const txs = this.#check(head, block, encoded.length, hash, txHashes, commit, undefined);
    const overlay = new StateOverlay(this.#tree, head.height);
    const receipts: Receipt[] = [];
    const proposer = block.header.proposer;
    let turn = performance.now();
    for (const stx of txs) {
      receipts.push(await executeTx(overlay, stx, proposer, this.contracts, block.header));
      // Scheduling only: when the loop yields never changes what it computes.
      if (performance.now() - turn >= YIELD_EVERY_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        turn = performance.now();
      }
    }
    const writes = overlay.writes();
    const prepared = await this.#tree.prepare(block.header.height, writes);
    const encodedReceipts = receipts.map(encodeReceipt);
    const next: ChainHead = {
      chainId: head.chainId, height: block.header.height, blockHash: hash, stateRoot: prepared.root,
      resultsHash: receiptsRoot(encodedReceipts), time: block.header.time,
    };
    await this.#db.batch([
      ...prepared.ops,
      ...this.contracts.indexOps(writes),
      ...this.blocks.putOps(block, encoded, hash, txHashes, encodedReceipts),
      ...(commit ? this.blocks.commitOps(commit) : []),
      { type: 'put', key: HEAD_KEY, value: encodeHead(next) },
    ], { sync: this.#durable });
    this.#tree.markCommitted(prepared);
    this.#publish(next);
    for (const ev of block.evidence) this.#rememberEvidence(ev, next.height);
    this.#forgetOldEvidence(next.height + 1);
    return { height: next.height, blockHash: hash, stateRoot: next.stateRoot, receipts, txHashes };
  }

  /** The one validity check (see the header comment); returns the decoded transactions. */
  #check(
    head: ChainHead, block: Block, size: number, hash: Uint8Array, txHashes: readonly Uint8Array[], commit: Commit | undefined, round: number | undefined,
  ): SignedTransaction[] {
    const h = block.header;
    const fail = (what: string): never => {
      throw new BlockError(`block ${h.height}: ${what}`);
    };
    if (!Array.isArray(block.evidence)) fail('evidence must be a list (empty when there is none)');
    checkLinks(head, block, txHashes, fail);
    const txs = checkBlockLimits(block, size, head.chainId, this.limits);
    this.#checkSignatures(txs, fail);
    const hashes = this.#checkEvidenceForm(block, fail);
    const set = this.validators;
    if (set === undefined) {
      if (commit && (commit.height !== h.height || !equalBytes(commit.blockHash, hash))) fail('the commit given is for another block');
      return txs;
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
    return txs;
  }

  /**
   * Every transaction's signature, through the cache shared with the mempool (what it admitted is
   * not verified again), a chunk at a time: a proposer who packs a block with bad signatures makes
   * us check at most one chunk of them, each of which costs a fallback ZIP-215 verification.
   */
  #checkSignatures(txs: readonly SignedTransaction[], fail: (what: string) => never): void {
    for (let start = 0; start < txs.length; start += SIGNATURE_CHUNK) {
      const chunk = txs.slice(start, start + SIGNATURE_CHUNK);
      const ok = this.#sigCache.verify(chunk.map((s) => ({ publicKey: s.tx.sender, message: signedMessage(s), signature: s.signature })));
      const bad = ok.indexOf(false);
      if (bad >= 0) fail(`txs[${start + bad}]: signature does not verify`);
    }
  }

  /** Evidence checks that need no signatures: form, height, age, duplicates; returns the hashes. */
  #checkEvidenceForm(block: Block, fail: (what: string) => never): Uint8Array[] {
    const height = block.header.height;
    const hashes = block.evidence.map(evidenceHash);
    const inBlock = new Map<string, number>();
    block.evidence.forEach((ev, i) => {
      const id = toHex(hashes[i]!);
      const what = `evidence[${i}] (${id})`;
      const problem = evidenceProblem(ev);
      if (problem !== null) fail(`${what}: ${problem}`);
      const at = evidenceHeight(ev);
      if (at < 1 || at >= height) fail(`${what} is for height ${at}; a block at height ${height} may only carry evidence from heights 1 to ${height - 1}`);
      if (height - at > this.evidenceMaxAgeHeights) {
        fail(`${what} is for height ${at}, older than the maximum age of ${this.evidenceMaxAgeHeights} heights`);
      }
      const twin = inBlock.get(id);
      if (twin !== undefined) fail(`${what} is the same as evidence[${twin}]`);
      inBlock.set(id, i);
      const committed = this.#recentEvidence.get(id);
      if (committed !== undefined) fail(`${what} was already committed at height ${committed.committedAt}`);
    });
    if (!equalBytes(block.header.evidenceHash, evidenceRoot(block.evidence))) fail('evidenceHash does not match the evidence');
    return hashes;
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

/** The header links to the head and to the block's own contents (everything but evidence). */
function checkLinks(head: ChainHead, block: Block, txHashes: readonly Uint8Array[], fail: (what: string) => never): void {
  const h = block.header;
  if (h.chainId !== head.chainId) fail(`chain id ${h.chainId} is not ${head.chainId}`);
  if (h.height !== head.height + 1) fail(`expected height ${head.height + 1}`);
  if (h.time <= head.time) fail(`time ${h.time} is not after the previous block's ${head.time}`);
  if (!equalBytes(h.lastBlockHash, head.blockHash)) fail('lastBlockHash does not match the previous block');
  if (!equalBytes(h.stateRoot, head.stateRoot)) fail('stateRoot does not match the state after the previous block');
  if (!equalBytes(h.lastResultsHash, head.resultsHash)) fail("lastResultsHash does not match the previous block's receipts");
  if (!equalBytes(h.txsHash, txsRoot(txHashes))) fail('txsHash does not match the transactions');
  if (!equalBytes(h.lastCommitHash, commitHash(block.lastCommit))) fail('lastCommitHash does not match lastCommit');
  if (h.height === 1 ? block.lastCommit !== null : block.lastCommit === null) {
    fail(h.height === 1 ? 'the first block has no lastCommit' : 'lastCommit is missing');
  }
  if (block.lastCommit && (block.lastCommit.height !== head.height || !equalBytes(block.lastCommit.blockHash, head.blockHash))) {
    fail('lastCommit is not for the previous block');
  }
}

/** Gas a transaction of `size` encoded bytes uses before its payload runs: what a transfer uses in all. */
export function intrinsicGas(size: number, payload: Payload): number {
  const kind = payload.kind === 'transfer' ? GAS.transfer
    : payload.kind === 'deploy' ? VM_GAS.deployBase + VM_GAS.deployByte * payload.code.length : VM_GAS.callBase;
  return GAS.txBase + GAS.txByte * size + kind;
}

function failure(status: TxStatusCode, gasUsed: number, error: string): Receipt {
  return { status, gasUsed, events: [], error, returnData: new Uint8Array(0) };
}

async function readAccount(overlay: StateOverlay, address: Address): Promise<Account> {
  return accountOf(await overlay.get(accountKey(address)));
}

function writeAccount(overlay: StateOverlay, address: Address, a: Account): void {
  overlay.set(accountKey(address), encodeAccount(a));
}

/**
 * One transaction of a valid block (its chain id, signature, sender key, gas cap and fee floor
 * were checked with the block). Checks that fail before the fee is taken (nonce, fee balance)
 * leave no trace; after that the whole fee is paid to the proposer (unused gas is not refunded)
 * and the nonce advances whatever the payload does, and a failing payload is reverted.
 */
async function executeTx(overlay: StateOverlay, stx: SignedTransaction, proposer: Address, contracts: Contracts, header: Header): Promise<Receipt> {
  const { tx } = stx;
  const chainId = header.chainId;
  const sender = addressOf(tx.sender);
  const from = await readAccount(overlay, sender);
  if (tx.nonce !== from.nonce) return failure(TxStatus.bad_nonce, 0, `nonce ${tx.nonce}: account nonce is ${from.nonce}`);
  if (from.balance < tx.fee) return failure(TxStatus.insufficient_fee_balance, 0, `balance ${from.balance} does not cover fee ${tx.fee}`);

  writeAccount(overlay, sender, { balance: from.balance - tx.fee, nonce: from.nonce + 1 });
  if (tx.fee > 0n) {
    const p = await readAccount(overlay, proposer);
    writeAccount(overlay, proposer, { ...p, balance: p.balance + tx.fee });
  }
  const p = tx.payload;
  const intrinsic = intrinsicGas(stx.bytes.length, p);
  if (intrinsic > tx.gasLimit) return failure(TxStatus.out_of_gas, tx.gasLimit, `needs ${intrinsic} gas, limit is ${tx.gasLimit}`);

  const mark = overlay.checkpoint();
  if (p.kind === 'transfer') {
    const payer = await readAccount(overlay, sender);
    if (payer.balance < p.amount) {
      overlay.revert(mark);
      return failure(TxStatus.insufficient_funds, intrinsic, `balance ${payer.balance} is less than ${p.amount}`);
    }
    writeAccount(overlay, sender, { ...payer, balance: payer.balance - p.amount });
    const payee = await readAccount(overlay, p.to);
    writeAccount(overlay, p.to, { ...payee, balance: payee.balance + p.amount });
    const events: Event[] = [{
      type: 'transfer',
      attributes: [['from', formatAddress(sender)], ['to', formatAddress(p.to)], ['amount', p.amount.toString()]],
    }];
    return { status: TxStatus.ok, gasUsed: intrinsic, events, error: '', returnData: new Uint8Array(0) };
  }
  // Contracts: what is left of the limit after the intrinsic gas is the VM's.
  const block = { chainId, height: header.height, time: header.time, origin: sender };
  const vmGas = tx.gasLimit - intrinsic;
  const out = p.kind === 'deploy'
    ? await contracts.deploy(overlay, block, sender, tx.nonce, p.code, p.args, vmGas)
    : await contracts.call(overlay, block, sender, p.contract, p.method, p.args, p.value, vmGas);
  const gasUsed = intrinsic + out.gasUsed;
  if (!out.ok) {
    overlay.revert(mark);
    return failure(out.refused === true ? TxStatus.invalid_contract : TxStatus.contract_failed, gasUsed, out.error);
  }
  return { status: TxStatus.ok, gasUsed, events: out.events, error: '', returnData: out.returnData };
}

function encodeHead(h: ChainHead): Uint8Array {
  return encodeCanonical([h.chainId, h.height, h.blockHash, h.stateRoot, h.resultsHash, h.time]);
}

function decodeHead(raw: Uint8Array): ChainHead {
  const [chainId, height, hash, root, results, time] = tuple(decodeCanonical(raw, 'chain head'), 6, 'chain head');
  if (typeof chainId !== 'string') throw new CodecError('schema', 'chain head: chain id');
  return {
    chainId, height: uint(height, 'height'), blockHash: bytes(hash, 'blockHash', 32), stateRoot: bytes(root, 'stateRoot', 32),
    resultsHash: bytes(results, 'resultsHash', 32), time: uint(time, 'time'),
  };
}
