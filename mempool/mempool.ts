/**
 * The mempool: signed transactions waiting for a block.
 *
 * Admission runs cheap checks before the expensive one (the signature), then the checks that need
 * the sender's committed account. Every pending transaction stays executable as far as the mempool
 * can tell: its nonce is at or above the sender's account nonce, and the fees of the sender's
 * pending transactions up to and including it fit the sender's balance.
 *
 * Structures, all O(log n) or bounded by `maxNonceGap` per operation:
 *   - by hash: a Map; per sender: pending transactions sorted by nonce (at most maxNonceGap of them);
 *   - evictable: a heap of every sender's highest-nonce transaction (its tail), cheapest first,
 *     latest arrival first among equal fees. Only tails are evicted: evicting a middle transaction
 *     would strand its successors behind a nonce gap.
 * A block proposal (`reap`) merges the senders' nonce-ordered queues with a heap over their heads.
 *
 * Priority is the gas price a transaction pays (fee / gas limit, compared exactly by cross
 * multiplication), as blocks are limited by declared gas: a high fee spread over a huge gas limit
 * does not crowd out cheaper-gas work that pays more per unit.
 */
import type { Address } from '../chain/address.ts';
import { byteKey } from '../chain/bytes.ts';
import { cborHeaderBytes, CODEC_LIMITS, minimumFee, type BlockLimits } from '../chain/block-rules.ts';
import { CodecError } from '../chain/codec.ts';
import { payloadProblem } from '../chain/protocol.ts';
import { publicKeyProblem } from '../chain/public-key.ts';
import {
  decodeSignedTransaction, MAX_TX_BYTES, senderAddress, signedItemOf, verifyTransactionSignature, type SignedTransaction,
} from '../chain/tx.ts';
import type { SignatureCache } from '../consensus/verify.ts';
import type { Account, AccountReader } from '../execution/account.ts';
import {
  checkConfig, DEFAULT_MEMPOOL_CONFIG, MEMPOOL_ERROR_CODES, MempoolError, type MempoolConfig, type MempoolCounters, type MempoolErrorCode,
  type ProofCheck,
} from './config.ts';
import { better, cheaper, comparePrice, priceOf, type Entry, type Price, type SenderQueue } from './entry.ts';
import { Heap } from './heap.ts';
import { AdmissionGate, type AdmissionGateOptions } from './gate.ts';
import { ProofAdmission } from './proofs.ts';
import { AdmissionSignatures } from './signatures.ts';
import type { SignaturePool } from '../chain/signature-pool.ts';

export { DEFAULT_MEMPOOL_CONFIG, MempoolError, type MempoolConfig, type MempoolCounters, type MempoolErrorCode, type ProofCheck } from './config.ts';

type RemovalReason = keyof MempoolCounters['removed'];

export class Mempool {
  readonly config: Readonly<MempoolConfig>;
  readonly chainId: string;
  readonly counters: MempoolCounters = {
    admitted: 0,
    refused: Object.fromEntries(MEMPOOL_ERROR_CODES.map((code) => [code, 0])) as Record<MempoolErrorCode, number>,
    removed: { committed: 0, replaced: 0, evicted: 0, stale: 0, unfunded: 0 },
  };

  readonly #accounts: AccountReader;
  readonly #byHash = new Map<string, Entry>();
  readonly #senders = new Map<string, SenderQueue>();
  readonly #tails = new Heap<Entry>(cheaper, (e, i) => { e.heapIndex = i; });
  #bytes = 0;
  #arrivals = 0;
  /** Adds and updates run one at a time in call order: each awaits the account reader. */
  #turn: Promise<unknown> = Promise.resolve();
  readonly #sigCache: SignatureCache | undefined;
  /** With the node's SignaturePool: the signatures of adds made together, verified together. */
  readonly #signatures: AdmissionSignatures | undefined;
  readonly #proofs: ProofAdmission;
  readonly admissions: AdmissionGate; // held during a commit, sliced to a few ms a turn (gate.ts)
  /** The chain's block limits: what no block can take is refused here. */
  readonly limits: Readonly<BlockLimits>;
  /** The gas price admitted: the higher of the chain's minimum and this node's. */
  readonly minGasPrice: bigint;
  /** The largest transaction admitted: this node's cap, or what a block has room for if less. */
  readonly maxTxBytes: number;

  /**
   * `sigCache`, when given, remembers the signatures admitted here, so the executor (sharing it)
   * does not verify them again when the block that carries them is applied. `limits` are the
   * chain's (default CODEC_LIMITS, for tests of the pool alone); `maxBlockTxBytes` is the largest
   * transaction that fits a block (default: any the codec takes). `signatures`, when given, verifies the
   * signatures of adds made in the same turn in one request on its threads (signatures.ts); `gate`: gate.ts.
   */
  constructor(opts: {
    chainId: string; accounts: AccountReader; config?: Partial<MempoolConfig>; sigCache?: SignatureCache; limits?: BlockLimits; maxBlockTxBytes?: number;
    proofs?: ProofCheck; signatures?: SignaturePool; gate?: AdmissionGateOptions;
  }) {
    this.admissions = new AdmissionGate(opts.gate);
    this.chainId = opts.chainId;
    this.#proofs = new ProofAdmission(opts.proofs, opts.accounts);
    this.#sigCache = opts.sigCache;
    this.#signatures = opts.signatures && new AdmissionSignatures(opts.signatures, opts.sigCache);
    this.#accounts = opts.accounts;
    this.config = Object.freeze(checkConfig({ ...DEFAULT_MEMPOOL_CONFIG, ...opts.config }));
    this.limits = Object.freeze({ ...(opts.limits ?? CODEC_LIMITS) });
    this.minGasPrice = this.config.minGasPrice > this.limits.minGasPrice ? this.config.minGasPrice : this.limits.minGasPrice;
    this.maxTxBytes = Math.min(this.config.maxTxBytes, opts.maxBlockTxBytes ?? MAX_TX_BYTES);
  }

  get size(): number {
    return this.#byHash.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  has(hash: Uint8Array): boolean {
    return this.#byHash.has(byteKey(hash));
  }

  get(hash: Uint8Array): SignedTransaction | undefined {
    return this.#byHash.get(byteKey(hash))?.stx;
  }

  /**
   * Checks `bytes` and admits the transaction, or throws MempoolError and changes nothing. An
   * admitted transaction may replace the sender's pending one with the same nonce, drop the
   * sender's later ones its fee leaves uncovered, and evict cheaper ones of other senders.
   */
  async add(bytes: Uint8Array): Promise<SignedTransaction> {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('add: expected the encoded transaction as a Uint8Array');
    if (this.admissions.mustWait()) await this.admissions.turn();
    try {
      // Stateless checks run outside the turn, so they overlap other adds' account reads.
      const stx = this.#check(bytes);
      this.#checkRoom(stx);
      if (this.#signatures === undefined) this.#signatureValid(this.#verifyInline(stx));
      else this.#signatureValid(await this.#signatures.verify(signedItemOf(stx)));
      // Outside the turn too: the proofs are verified in the verifier's threads meanwhile.
      await this.#proofs.admit(stx);
      return await this.#inTurn(() => this.#admit(stx));
    } catch (err) {
      if (err instanceof MempoolError) this.counters.refused[err.code]++;
      throw err;
    }
  }

  /**
   * Up to `maxTxs` transactions taking at most `maxBytes` in a block (each its bytes and their
   * CBOR header) and declaring at most `maxGas` together, best gas price first (earlier arrival
   * first among equal prices), each sender's in nonce order from its account nonce without gaps.
   * A transaction too big for the remaining bytes or gas holds back only its own sender. Removes
   * nothing.
   */
  reap(limits: { maxTxs: number; maxBytes: number; maxGas?: number }): SignedTransaction[] {
    const { maxBytes } = limits;
    const maxGas = limits.maxGas ?? Infinity;
    const maxTxs = Math.floor(limits.maxTxs);
    if (!(maxTxs >= 0) || !(maxBytes >= 0) || !(maxGas >= 0)) throw new RangeError('reap: maxTxs, maxBytes and maxGas must be non-negative numbers');
    const out: SignedTransaction[] = [];
    if (maxTxs < 1) return out;
    const heads: Entry[] = [];
    for (const q of this.#senders.values()) {
      const first = q.txs[0];
      if (first !== undefined && first.nonce === q.account.nonce) heads.push(first);
    }
    const heap = new Heap<Entry>(better, undefined, heads);
    // Indexes into each sender's queue, for the senders reaped from so far.
    const next = new Map<SenderQueue, number>();
    let room = maxBytes;
    let gasRoom = maxGas;
    while (out.length < maxTxs) {
      const e = heap.pop();
      if (e === undefined) break;
      const cost = e.size + cborHeaderBytes(e.size);
      if (cost > room || e.stx.tx.gasLimit > gasRoom) continue;
      out.push(e.stx);
      room -= cost;
      gasRoom -= e.stx.tx.gasLimit;
      const i = (next.get(e.sender) ?? 0) + 1;
      const after = e.sender.txs[i];
      if (after !== undefined && after.nonce === e.nonce + 1) {
        next.set(e.sender, i);
        heap.push(after);
      }
    }
    return out;
  }

  /**
   * After a block: drops the committed transactions and rechecks senders against their accounts,
   * dropping what a nonce has used up or a balance no longer covers. `accounts` are the accounts
   * the block wrote, keyed by address bytes as latin1 (the executor's AppliedBlock.accounts): only
   * those senders are rechecked, with no reads, since no other account changed. Without it every
   * sender's account is read again.
   */
  update(committed: readonly SignedTransaction[], accounts?: ReadonlyMap<string, Account>): Promise<void> {
    return this.#inTurn(async () => {
      for (const stx of committed) {
        const e = this.#byHash.get(byteKey(stx.hash));
        if (e !== undefined) this.#remove(e, 'committed');
      }
      if (accounts !== undefined) {
        for (const [key, account] of accounts) {
          const q = this.#senders.get(key);
          if (q !== undefined) this.#recheck(q, account);
        }
        return;
      }
      const queues = [...this.#senders.values()];
      const read = await Promise.all(queues.map((q) => this.#accounts.getAccount(q.address)));
      for (let i = 0; i < queues.length; i++) this.#recheck(queues[i]!, read[i]!);
    });
  }

  #inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(fn);
    this.#turn = run.catch(() => undefined);
    return run;
  }

  /**
   * Checks that need no state but the pool's hash index: size, shape, chain, gas cap, fee floor, sender
   * key, duplicate (then add() checks the signature); blocks refuse the same (chain/block-rules.ts).
   */
  #check(bytes: Uint8Array): SignedTransaction {
    const { maxTxBytes } = this;
    if (bytes.length > maxTxBytes) {
      const why = maxTxBytes === this.config.maxTxBytes ? 'this node takes' : "the chain's blocks have room for";
      throw new MempoolError('tx_too_large', `transaction is ${bytes.length} bytes; the largest ${why} is ${maxTxBytes}`);
    }
    let stx: SignedTransaction;
    try {
      stx = decodeSignedTransaction(bytes, maxTxBytes);
    } catch (err) {
      if (err instanceof CodecError) throw new MempoolError('malformed', err.message);
      throw err;
    }
    if (stx.tx.chainId !== this.chainId) {
      throw new MempoolError('wrong_chain', `transaction is for chain ${JSON.stringify(stx.tx.chainId)}; this node runs ${JSON.stringify(this.chainId)}`);
    }
    const payload = payloadProblem(stx.tx.payload, this.limits.protocolVersion);
    if (payload !== null) throw new MempoolError('payload_not_enabled', payload);
    const { gasLimit, fee } = stx.tx;
    if (gasLimit > this.limits.maxGas) {
      throw new MempoolError('gas_limit_too_high', `gas limit ${gasLimit} exceeds the block gas limit of ${this.limits.maxGas}; no block can take it`);
    }
    const least = minimumFee(gasLimit, this.minGasPrice);
    if (fee < least) {
      throw new MempoolError('fee_too_low', `fee ${fee} is below gas limit ${gasLimit} × minimum gas price ${this.minGasPrice} = ${least}; pay at least that, or declare less gas`);
    }
    const key = publicKeyProblem(stx.tx.sender);
    if (key !== null) throw new MempoolError('invalid_sender_key', `sender key is ${key}`);
    this.#checkNotDuplicate(stx);
    return stx;
  }

  /** The check after #check's: the signature (the costliest of the stateless checks). */
  #signatureValid(valid: boolean | undefined): void {
    if (!valid) throw new MempoolError('invalid_signature', 'signature does not match the transaction and its sender key');
  }

  #verifyInline(stx: SignedTransaction): boolean | undefined {
    return this.#sigCache === undefined ? verifyTransactionSignature(stx) : this.#sigCache.verify([signedItemOf(stx)])[0];
  }

  #checkNotDuplicate(stx: SignedTransaction): void {
    if (this.#byHash.has(byteKey(stx.hash))) {
      throw new MempoolError('duplicate', `transaction ${Buffer.from(stx.hash).toString('hex')} is already in the mempool`);
    }
  }

  /**
   * Refuses before the signature and account read what #admit would refuse as mempool_full anyway:
   * the pool is at a cap, nothing pending pays a lower gas price, and the sender has nothing pending
   * at or above this nonce (it replaces and unfunds nothing; committed ones below it leave at the
   * block's update). Else a client retrying into a full pool costs a signature check and a read each.
   */
  #checkRoom(stx: SignedTransaction): void {
    if (this.size < this.config.maxTxs && this.#bytes + stx.bytes.length <= this.config.maxBytes) return;
    const cheapest = this.#tails.at(0);
    if (cheapest !== undefined && comparePrice(cheapest, priceOf(stx)) < 0) return;
    const last = this.#senders.get(byteKey(senderAddress(stx)))?.txs.at(-1);
    if (last !== undefined && last.nonce >= stx.tx.nonce) return;
    throw this.#full(stx);
  }

  #full(stx: SignedTransaction): MempoolError {
    return new MempoolError('mempool_full', `mempool is full (${this.size} transactions, ${this.#bytes} bytes) and too few pending transactions pay a lower gas price than this one's (fee ${stx.tx.fee} for gas limit ${stx.tx.gasLimit}) to make room; raise the fee or retry later`);
  }

  async #admit(stx: SignedTransaction): Promise<SignedTransaction> {
    this.#checkNotDuplicate(stx); // again: an earlier add in the queue may have admitted it
    const address = senderAddress(stx);
    const account = await this.#accounts.getAccount(address);
    // From here to the end nothing awaits, so the pool cannot change under us.
    const { nonce, fee } = stx.tx;
    const { maxNonceGap, minFee, replaceFeeBumpPercent } = this.config;
    if (nonce < account.nonce) {
      throw new MempoolError('nonce_used', `nonce ${nonce} already used: account nonce is ${account.nonce}`);
    }
    if (nonce >= account.nonce + maxNonceGap) {
      throw new MempoolError('nonce_too_far', `nonce ${nonce} too far ahead: account nonce is ${account.nonce}, so the mempool takes nonces up to ${account.nonce + maxNonceGap - 1}`);
    }
    const senderKey = byteKey(address);
    const queue = this.#senders.get(senderKey);
    const pending = queue?.txs ?? [];
    // Leaving: the sender's transactions the fresh account shows as used, the one replaced, and
    // later ones this transaction's fee leaves uncovered.
    const leaving: [Entry, RemovalReason][] = [];
    let covered = 0n; // fees of the sender's pending transactions below this nonce
    let replaced: Entry | undefined;
    let i = 0;
    for (; i < pending.length && pending[i]!.nonce <= nonce; i++) {
      const e = pending[i]!;
      if (e.nonce < account.nonce) leaving.push([e, 'stale']);
      else if (e.nonce < nonce) covered += e.fee;
      else replaced = e;
    }
    if (replaced !== undefined) {
      const needed = (replaced.fee * BigInt(100 + replaceFeeBumpPercent) + 99n) / 100n;
      const least = needed > replaced.fee ? needed : replaced.fee + 1n;
      if (fee < least) {
        throw new MempoolError('nonce_taken', `nonce ${nonce} is already pending with fee ${replaced.fee}; a replacement needs a fee of at least ${least}`);
      }
      leaving.push([replaced, 'replaced']);
    }
    if (fee < minFee) {
      throw new MempoolError('fee_too_low', `fee ${fee} is below this node's minimum of ${minFee}`);
    }
    let total = covered + fee;
    if (total > account.balance) {
      const earlier = covered > 0n ? ` plus ${covered} for the sender's pending transactions before nonce ${nonce}` : '';
      throw new MempoolError('insufficient_fee_balance', `fee ${fee}${earlier} exceeds the balance ${account.balance}`);
    }
    for (; i < pending.length; i++) {
      const e = pending[i]!;
      total += e.fee;
      if (total > account.balance) break;
    }
    for (; i < pending.length; i++) leaving.push([pending[i]!, 'unfunded']);

    let freedBytes = 0;
    for (const [e] of leaving) freedBytes += e.size;
    const overCount = this.size - leaving.length + 1 - this.config.maxTxs;
    const overBytes = this.#bytes - freedBytes + stx.bytes.length - this.config.maxBytes;
    const evict = overCount > 0 || overBytes > 0 ? this.#planEviction(overCount, overBytes, priceOf(stx), senderKey) : [];
    if (evict === undefined) throw this.#full(stx);

    for (const [e, reason] of leaving) this.#remove(e, reason);
    for (const e of evict) this.#remove(e, 'evicted');
    this.#insert(stx, senderKey, address, account);
    return stx;
  }

  /**
   * The transactions to evict so that `overCount` more transactions and `overBytes` more bytes fit,
   * cheapest first, each a tail once those after it are gone, none of `ownSender`, all paying a
   * gas price below `fee / gas`; or undefined if that cannot free enough. Looks at the evictable heap without
   * changing it: walks it in order through a second heap holding the frontier of unvisited heap
   * nodes plus the predecessors that earlier planned evictions turn into tails.
   */
  #planEviction(overCount: number, overBytes: number, price: Price, ownSender: string): Entry[] | undefined {
    interface Candidate { entry: Entry; heapIndex: number } // heapIndex -1: not in the heap (a predecessor)
    const frontier = new Heap<Candidate>((a, b) => cheaper(a.entry, b.entry));
    const root = this.#tails.at(0);
    if (root !== undefined) frontier.push({ entry: root, heapIndex: 0 });
    const plan: Entry[] = [];
    while (overCount > 0 || overBytes > 0) {
      const c = frontier.pop();
      if (c === undefined || comparePrice(c.entry, price) >= 0) return undefined;
      if (c.heapIndex >= 0) {
        for (const child of [2 * c.heapIndex + 1, 2 * c.heapIndex + 2]) {
          const entry = this.#tails.at(child);
          if (entry !== undefined) frontier.push({ entry, heapIndex: child });
        }
      }
      const e = c.entry;
      if (e.sender.key === ownSender) continue;
      plan.push(e);
      overCount--;
      overBytes -= e.size;
      const before = e.sender.txs[this.#indexOf(e) - 1];
      if (before !== undefined) frontier.push({ entry: before, heapIndex: -1 });
    }
    return plan;
  }

  #insert(stx: SignedTransaction, senderKey: string, address: Address, account: Account): void {
    let queue = this.#senders.get(senderKey);
    if (queue === undefined) {
      queue = { key: senderKey, address, account, txs: [], tail: undefined };
      this.#senders.set(senderKey, queue);
    }
    queue.account = account;
    const e: Entry = {
      stx, key: byteKey(stx.hash), sender: queue, nonce: stx.tx.nonce, ...priceOf(stx), size: stx.bytes.length,
      arrival: this.#arrivals++, heapIndex: -1,
    };
    const txs = queue.txs;
    let at = txs.length;
    while (at > 0 && txs[at - 1]!.nonce > e.nonce) at--;
    txs.splice(at, 0, e);
    this.#byHash.set(e.key, e);
    this.#bytes += e.size;
    this.counters.admitted++;
    this.#syncTail(queue);
  }

  #remove(e: Entry, reason: RemovalReason): void {
    const q = e.sender;
    const at = this.#indexOf(e);
    if (at < 0) throw new Error(`mempool: entry for nonce ${e.nonce} is missing from its sender's queue`);
    q.txs.splice(at, 1);
    this.#byHash.delete(e.key);
    this.#bytes -= e.size;
    this.counters.removed[reason]++;
    this.#syncTail(q);
    if (q.txs.length === 0 && this.#senders.get(q.key) === q) this.#senders.delete(q.key);
  }

  /** Applies a freshly read account: drops what its nonce has used and what its balance cannot pay. */
  #recheck(q: SenderQueue, account: Account): void {
    q.account = account;
    const drop: [Entry, RemovalReason][] = [];
    let total = 0n;
    for (const e of q.txs) {
      if (e.nonce < account.nonce) drop.push([e, 'stale']);
      else if ((total += e.fee) > account.balance) drop.push([e, 'unfunded']); // and so is every later one
    }
    // Backwards, so the unfunded go tail first and the evictable heap sees one tail change each.
    for (let i = drop.length - 1; i >= 0; i--) this.#remove(drop[i]![0], drop[i]![1]);
  }

  /** Keeps the evictable heap holding exactly the sender's highest-nonce entry. */
  #syncTail(q: SenderQueue): void {
    const last = q.txs.at(-1);
    if (q.tail === last) return;
    if (q.tail !== undefined && q.tail.heapIndex >= 0) {
      this.#tails.removeAt(q.tail.heapIndex);
      q.tail.heapIndex = -1;
    }
    q.tail = last;
    if (last !== undefined) this.#tails.push(last);
  }

  /** Binary search by nonce in the sender's queue (nonces there are distinct). */
  #indexOf(e: Entry): number {
    const txs = e.sender.txs;
    let lo = 0;
    let hi = txs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const n = txs[mid]!.nonce;
      if (n === e.nonce) return txs[mid] === e ? mid : -1;
      if (n < e.nonce) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}
