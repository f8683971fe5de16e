/**
 * The node's side of the network: what peers' messages mean to this node, and when it leaves
 * consensus to catch up by block sync.
 *
 *   - Consensus messages are checked before the driver sees them (votes as one signature batch
 *     through the shared cache, proposals against proposer(h, r)), so a peer that sends forged
 *     ones is penalised by name; the driver's own checks then hit the cache.
 *   - Our own proposal and votes of the current height are re-sent to every peer while the height
 *     lasts (every `rebroadcastMs`) and at once to a peer that (re)connects: a late joiner or one
 *     that lost messages catches up within the height.
 *   - Gossiped transactions go through the mempool; those admitted are passed on to the peers that
 *     have not seen them. Provably bad ones (bad signature, malformed, another chain) cost the
 *     sender score; ordinary races (already known, nonce used) do not.
 *   - Block sync: when a peer reports a head `behindThreshold` heights past ours, or any head past
 *     ours for longer than two rebroadcast periods (we missed a decision the others made), the
 *     driver is stopped, blocks are fetched and applied with their commits, and consensus resumes
 *     at the height after the new head.
 *
 * Nothing a peer sends escapes as an exception: a handler that throws anyway (a bug, a local read
 * that failed) is logged with its stack and the message dropped, without penalising the peer,
 * since the fault is ours. A local fault while storing synced blocks halts the node.
 */
import { decodeBlock, type Block } from '../chain/block.ts';
import { byteKey } from '../chain/bytes.ts';
import { CodecError } from '../chain/codec.ts';
import { proposalSignBytes, type Proposal } from '../chain/proposal.ts';
import { verifySignature } from '../chain/signature.ts';
import { decodeCommit, encodeCommit, type Commit, type Vote } from '../chain/vote.ts';
import { FUTURE_HEIGHTS, type ConsensusDriver } from '../consensus/driver.ts';
import type { ConsensusOutbox } from '../consensus/ports.ts';
import type { ValidatorSet } from '../consensus/validators.ts';
import { verifyVotes, type SignatureCache } from '../consensus/verify.ts';
import { BlockSync, SyncRejected } from '../p2p/block-sync.ts';
import type { PenaltyReason } from '../p2p/config.ts';
import type { Network, NetworkHandlers } from '../p2p/network.ts';
import { RecentSet } from '../p2p/recent-set.ts';
import { BlockError, type Executor } from '../execution/executor.ts';
import type { Logger } from './log.ts';
import { MempoolError, type Mempool } from '../mempool/mempool.ts';
import type { FileWal } from './wal-file.ts';

/**
 * Transactions remembered as recently committed, so one gossiped late is dropped without a decode:
 * late gossip is a matter of seconds, and one that is forgotten is refused as `nonce_used`.
 */
const RECENTLY_COMMITTED = 32_768;
/** Rounds ahead of ours whose proposals are looked at (finding a far round's proposer costs work). */
const MAX_PROPOSAL_ROUND_AHEAD = 64;
/** Refusals that prove the sender passed on a transaction it should have refused itself. */
const BAD_TX: ReadonlySet<string> = new Set(['malformed', 'invalid_signature', 'wrong_chain', 'tx_too_large', 'invalid_proof', 'gas_limit_too_low']);

export interface NetworkServiceOptions {
  chainId: string;
  validators: ValidatorSet;
  sigCache: SignatureCache;
  executor: Executor;
  mempool: Mempool;
  wal: FileWal;
  rebroadcastMs: number;
  behindThreshold: number;
  /** Applies a block fetched by block sync, as a decided one is applied. */
  applyBlock(block: Block, commit: Commit): Promise<void>;
  /** Settles once a decided block being applied (if any) is in. */
  applied(): Promise<unknown>;
  /** A local fault (disk, bug) while applying synced blocks: the node must stop. */
  halt(err: Error): void;
  log: Logger;
}

export interface SyncCounters {
  runs: number;
  blocksApplied: number;
}

export class NetworkService {
  readonly #o: NetworkServiceOptions;
  readonly #log: Logger;
  #driver: ConsensusDriver | null = null;
  #network: Network | null = null;
  /** Our own latest messages of `height`, re-sent while it lasts. */
  #own: { height: number; proposal: { proposal: Proposal; block: Uint8Array } | null; votes: Map<string, Vote> } = { height: 0, proposal: null, votes: new Map() };
  #ticker: NodeJS.Timeout | null = null;
  #lastTickHeight = -1;
  #lastRebroadcast = 0;
  #laggingSince: number | null = null;
  /** Hashes of transactions in recent blocks, oldest first: gossip still carries them for a while. */
  readonly #recentlyCommitted = new RecentSet(RECENTLY_COMMITTED);
  /** The last head each peer reported. */
  readonly #peerHeads = new Map<string, number>();
  #syncing = false;
  #sync: BlockSync | null = null;
  #closed = false;
  readonly syncCounters: SyncCounters = { runs: 0, blocksApplied: 0 };

  constructor(o: NetworkServiceOptions) {
    this.#o = o;
    this.#log = o.log;
  }

  /** Where the driver sends its messages: to every peer, remembered for rebroadcast. */
  readonly outbox: ConsensusOutbox = {
    proposal: (proposal, block) => {
      this.#ownAt(proposal.height).proposal = { proposal, block };
      this.#network?.broadcast({ kind: 'proposal', proposal, block });
    },
    vote: (vote) => {
      const own = this.#ownAt(vote.height);
      own.votes.set(`${vote.round}/${vote.type}`, vote);
      // Only the latest rounds matter to a peer catching up; older entries go.
      if (own.votes.size > 8) own.votes.delete(own.votes.keys().next().value!);
      this.#network?.broadcast({ kind: 'votes', votes: [vote] });
    },
  };

  get syncing(): boolean {
    return this.#syncing;
  }

  /** Starts serving the network's messages; the driver must be running. */
  attach(driver: ConsensusDriver, network: Network): void {
    this.#driver = driver;
    this.#network = network;
    network.setHead(this.#o.executor.head!.height);
    const period = Math.max(10, Math.min(this.#o.rebroadcastMs, 250));
    this.#ticker = setInterval(() => this.#tick(), period);
    this.#ticker.unref();
  }

  /** A block was committed: tell the peers our new head (once at the end of a block sync). */
  committed(height: number, txHashes: readonly Uint8Array[]): void {
    for (const h of txHashes) this.#recentlyCommitted.add(byteKey(h));
    if (!this.#syncing) this.#network?.setHead(height);
  }

  /** Transactions the mempool admitted from a client: to every peer. */
  gossip(txs: readonly { hash: Uint8Array; bytes: Uint8Array }[]): void {
    this.#network?.gossipTxs(txs);
  }

  close(): void {
    this.#closed = true;
    if (this.#ticker !== null) clearInterval(this.#ticker);
    this.#sync?.stop();
  }

  handlers(): NetworkHandlers {
    return {
      onStatus: (peer, head) => this.#contain('status', peer, () => this.#onStatus(peer, head)),
      onProposal: (peer, p, block) => this.#contain('proposal', peer, () => this.#onProposal(p, block)) ?? null,
      onVotes: (peer, votes) => this.#contain('votes', peer, () => this.#onVotes(votes)) ?? null,
      onTxs: (peer, txs) => this.#onTxs(peer, txs),
      onPeerReady: (peer) => this.#contain('peer ready', peer, () => this.#sendOwn(peer)),
      onPeerGone: (peer) => this.#peerHeads.delete(peer),
      syncSource: {
        head: () => this.#o.executor.head?.height ?? 0,
        block: async (height) => {
          const blocks = this.#o.executor.blocks;
          const [block, commit] = await Promise.all([blocks.getBlockBytes(height), blocks.getCommit(height)]);
          return block === undefined || commit === undefined ? undefined : { block, commit: encodeCommit(commit) };
        },
      },
    };
  }

  /** Runs a handler of a peer's message; a throw is our fault, logged, and the message dropped. */
  #contain<T>(what: string, peer: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.#log.error(`internal error handling a peer's ${what}; message dropped`, { peer, error: err });
      return undefined;
    }
  }

  /**
   * A peer that jumped to our height (it block-synced, or just connected) missed what we sent for
   * this height: it gets our proposal and votes now rather than at the next rebroadcast, which a
   * short height would never reach.
   */
  #onStatus(peer: string, head: number): void {
    const before = this.#peerHeads.get(peer);
    this.#peerHeads.set(peer, head);
    const driver = this.#driver;
    if (driver !== null && !this.#syncing && head === driver.height - 1 && (before === undefined || head > before + 1)) this.#sendOwn(peer);
    this.#checkSync();
  }

  #ownAt(height: number) {
    if (this.#own.height !== height) this.#own = { height, proposal: null, votes: new Map() };
    return this.#own;
  }

  #sendOwn(peer?: string): void {
    const network = this.#network;
    const driver = this.#driver;
    if (network === null || driver === null || this.#own.height !== driver.height) return;
    const messages = [];
    if (this.#own.proposal !== null) messages.push({ kind: 'proposal' as const, ...this.#own.proposal });
    if (this.#own.votes.size > 0) messages.push({ kind: 'votes' as const, votes: [...this.#own.votes.values()] });
    for (const m of messages) {
      if (peer === undefined) network.broadcast(m);
      else network.sendTo(peer, m);
    }
  }

  /** Rebroadcast while a height lasts; and the block sync check. */
  #tick(): void {
    if (this.#closed || this.#driver === null) return;
    try {
      this.#rebroadcast();
    } catch (err) {
      // A timer's throw would end the process; the next tick tries again.
      this.#log.error('internal error in the rebroadcast tick', { error: err });
    }
  }

  #rebroadcast(): void {
    if (this.#driver === null) return;
    const now = Date.now();
    if (now - this.#lastRebroadcast >= this.#o.rebroadcastMs) {
      this.#lastRebroadcast = now;
      const height = this.#driver.height;
      // A height that ended since the last tick needs nothing re-sent: everyone moved on.
      if (height === this.#lastTickHeight && !this.#syncing) {
        this.#network?.setHead(this.#o.executor.head!.height);
        this.#sendOwn();
      }
      this.#lastTickHeight = height;
    }
    this.#checkSync();
  }

  #checkSync(): void {
    const network = this.#network;
    if (this.#syncing || this.#closed || network === null) return;
    const head = this.#o.executor.head!.height;
    let best = head;
    for (const p of network.readyPeers()) best = Math.max(best, p.height);
    if (best <= head) {
      this.#laggingSince = null;
      return;
    }
    const now = Date.now();
    if (this.#laggingSince === null) this.#laggingSince = now;
    const lagging = now - this.#laggingSince >= 2 * this.#o.rebroadcastMs;
    if (best - head >= this.#o.behindThreshold || lagging) void this.#runSync(best);
  }

  async #runSync(best: number): Promise<void> {
    const network = this.#network!;
    const driver = this.#driver!;
    this.#syncing = true;
    this.#laggingSince = null;
    this.syncCounters.runs++;
    driver.stop();
    const from = this.#o.executor.head!.height + 1;
    try {
      await this.#o.applied();
      this.#log.info('behind the network: block sync', { from: this.#o.executor.head!.height + 1, peers_best: best });
      const sync = new BlockSync({
        config: network.config.sync,
        request: (peer, start, count, signal) => network.requestBlocks(peer, start, count, signal),
        apply: (height, blockBytes, commitBytes) => this.#applySynced(height, blockBytes, commitBytes),
        penalize: (peer) => network.penalize(peer, 'bad_sync_response'),
        maxResponseBytes: network.config.limits.sync.maxMessageBytes,
        log: this.#log.child({ module: 'blocksync' }),
      });
      this.#sync = sync;
      const r = await sync.run(this.#o.executor.head!.height + 1, () => network.readyPeers());
      this.#log.info('block sync caught up', { head: r.head, applied: r.applied });
    } catch (err) {
      if (err instanceof LocalFault) {
        this.#o.halt(err);
        return;
      }
      this.#log.warn('block sync stopped; back to consensus', { error: err });
    } finally {
      this.#sync = null;
      if (!this.#closed) {
        const head = this.#o.executor.head!.height;
        try {
          if (head >= from) this.#o.wal.endHeight(head);
          driver.start(head + 1, this.#o.wal.readAll());
          network.setHead(head);
        } catch (err) {
          // The WAL cannot be written or read: the node cannot take part in consensus safely.
          this.#o.halt(new Error(`could not resume consensus after block sync: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
        }
      }
      this.#syncing = false;
    }
  }

  async #applySynced(height: number, blockBytes: Uint8Array, commitBytes: Uint8Array): Promise<void> {
    let block: Block;
    let commit: Commit;
    try {
      block = decodeBlock(blockBytes);
      commit = decodeCommit(commitBytes);
    } catch (err) {
      if (err instanceof CodecError) throw new SyncRejected(`block ${height}: ${err.message}`);
      throw err;
    }
    if (block.header.height !== height) throw new SyncRejected(`asked for block ${height}, got ${block.header.height}`);
    try {
      await this.#o.applyBlock(block, commit);
    } catch (err) {
      if (err instanceof BlockError) throw new SyncRejected(err.message);
      throw new LocalFault(err);
    }
    this.syncCounters.blocksApplied++;
  }

  // ---- inbound consensus and transactions -----------------------------------------------------

  #onProposal(p: Proposal, block: Uint8Array): PenaltyReason | null {
    const driver = this.#driver;
    if (driver === null || this.#syncing) return null;
    const h = driver.height;
    if (p.height < h || p.height > h + FUTURE_HEIGHTS || p.round > Math.max(driver.status().round, 0) + MAX_PROPOSAL_ROUND_AHEAD) return null;
    const proposer = this.#o.validators.proposer(p.height, p.round);
    if (!verifySignature(proposer.publicKey, proposalSignBytes(this.#o.chainId, p), p.signature)) return 'invalid_message';
    driver.receiveProposal(p, block);
    return null;
  }

  #onVotes(votes: readonly Vote[]): PenaltyReason | null {
    const driver = this.#driver;
    if (driver === null || this.#syncing) return null;
    const h = driver.height;
    // Past heights are decided and far ones are block sync's: neither is worth a signature check.
    const current = votes.filter((v) => v.height >= h && v.height <= h + FUTURE_HEIGHTS);
    if (current.length === 0) return null;
    const ok = verifyVotes(this.#o.chainId, this.#o.validators, current, this.#o.sigCache);
    const good = current.filter((_, i) => ok[i]);
    if (good.length > 0) driver.receiveVotes(good);
    return good.length < current.length ? 'invalid_message' : null;
  }

  async #onTxs(peer: string, txs: readonly { hash: Uint8Array; bytes: Uint8Array }[]): Promise<PenaltyReason | null> {
    // Another peer got it to us first, or it is already in a block: the common cases, not worth a
    // decode, an account read and a refusal.
    const fresh = txs.filter(({ hash }) => this.#o.mempool.get(hash) === undefined && !this.#recentlyCommitted.has(byteKey(hash)));
    // Started together, so their signatures are verified in one request on the signature pool;
    // the mempool admits them in this order.
    const results = await Promise.allSettled(fresh.map(({ bytes }) => this.#o.mempool.add(bytes)));
    let penalty: PenaltyReason | null = null;
    const admitted: { hash: Uint8Array; bytes: Uint8Array }[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        admitted.push({ hash: r.value.hash, bytes: fresh[i]!.bytes });
        return;
      }
      const err: unknown = r.reason;
      if (err instanceof MempoolError) {
        if (BAD_TX.has(err.code)) penalty = 'invalid_message';
      } else {
        this.#log.error("internal error admitting a peer's transaction; dropped", { peer, error: err });
      }
    });
    if (admitted.length > 0) this.#network?.gossipTxs(admitted, peer);
    return penalty;
  }
}

/** A failure to apply a synced block that is not the block's fault. */
class LocalFault extends Error {
  constructor(cause: unknown) {
    super(`could not apply a synced block: ${(cause as Error).message}`, { cause });
  }
}
