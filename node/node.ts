/**
 * The validator process: the composition root. Opens the chain database, applies genesis on first
 * start, and wires the executor, mempool, consensus driver (with its WAL and double-sign guard) and
 * the JSON-RPC server and the peer-to-peer network (p2p/network.ts, with node/network-service.ts
 * saying what its messages mean here) together.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { Level } from 'level';
import { addressOf, formatAddress, type Address } from '../chain/address.ts';
import { decodeBlock, encodeBlock, blockHash, type Block } from '../chain/block.ts';
import { cborHeaderBytes, worstBlockBytes, type BlockLimits } from '../chain/block-rules.ts';
import { equalBytes, toHex } from '../chain/bytes.ts';
import { bytes, decodeCanonical, encodeCanonical, tuple } from '../chain/codec.ts';
import type { DuplicateVoteEvidence } from '../chain/evidence.ts';
import { evidenceHash } from '../chain/evidence.ts';
import type { SignedTransaction } from '../chain/tx.ts';
import type { Commit } from '../chain/vote.ts';
import { validatorsHash } from '../chain/validators-hash.ts';
import { ConsensusDriver, type ConsensusApp, type ConsensusOutbox } from '../consensus/driver.ts';
import { PrivValidator } from '../consensus/privval.ts';
import { ValidatorSet } from '../consensus/validators.ts';
import { SignatureCache } from '../consensus/verify.ts';
import { entriesToReplay } from '../consensus/wal.ts';
import type { TimeoutConfig, TimeoutKind } from '../consensus/state-machine.ts';
import { untimely, type SynchronyBounds } from '../consensus/timeliness.ts';
import { blockLimits, genesisHash, toGenesisState, type Genesis, type TimeoutParams } from '../genesis/schema.ts';
import { StateTree } from '../state/tree.ts';
import { clockOffsetFromEnv, systemClock, type Clock } from './clock.ts';
import type { NodeConfig } from './config.ts';
import { EVIDENCE_DROP_REASONS, EvidencePool } from '../consensus/evidence-pool.ts';
import { Executor } from '../execution/executor.ts';
import type { Logger } from './log.ts';
import { Mempool } from '../mempool/mempool.ts';
import { executionRules } from '../execution/protocol.ts';
import { startMetricsServer, type MetricSample } from './metrics.ts';
import { FileSignStateStore } from './privval-file.ts';
import type { NodeQuery } from '../rpc/query.ts';
import { startRpcServer, type RpcServer } from '../rpc/server.ts';
import { FileWal } from './wal-file.ts';
import { loadOrCreateNodeKey, type NodeKey } from '../p2p/identity.ts';
import { Network } from '../p2p/network.ts';
import { NetworkService } from './network-service.ts';
import { consensusSnapshot, nodeQuery } from './query.ts';
import { TxWaiters } from './tx-waiters.ts';

/** The node's libp2p identity, next to config.toml (not under keys/, which holds account keys). */
export const NODE_KEY_FILE = 'node_key.json';

export interface StartNodeOptions {
  home: string;
  config: NodeConfig;
  genesis: Genesis;
  validatorKey: { secretKey: Uint8Array; publicKey: Uint8Array } | null;
  log: Logger;
  /** Also told of every consensus message the node sends (tests observe them here). */
  outbox?: ConsensusOutbox;
  /** The clock consensus reads (default: the system clock shifted by HALLMARK_CLOCK_OFFSET_MS). */
  clock?: Clock;
}

export interface RunningNode {
  readonly rpcUrl: string;
  readonly node: HallmarkNode;
  /**
   * Settles if consensus stops for good (a decided block could not be stored, the WAL could not be
   * written, a bug): exit and let a supervisor restart the node, which then replays the height
   * from its WAL and block store.
   */
  readonly halted: Promise<Error>;
  close(): Promise<void>;
}

/** The genesis timeouts (flat, in ms) as the engine's per-kind base + per-round delta. */
export function engineTimeouts(t: TimeoutParams): Record<TimeoutKind, TimeoutConfig> {
  return {
    propose: { baseMs: t.proposeMs, deltaMs: t.proposeDeltaMs },
    prevote: { baseMs: t.prevoteMs, deltaMs: t.prevoteDeltaMs },
    precommit: { baseMs: t.precommitMs, deltaMs: t.precommitDeltaMs },
  };
}

/** Key of the data directory's format version, genesis hash and protocol version, next to the executor's keys. */
const META_KEY = Uint8Array.of(0x76); // 'v'
/**
 * Bumped whenever the layout of anything in data/ changes; an older layout is refused, never
 * guessed at. 3: headers carry the protocol version, the marker records it.
 */
export const DATA_FORMAT_VERSION = 3;

function encodeMeta(genesis: Genesis): Uint8Array {
  return encodeCanonical([DATA_FORMAT_VERSION, genesisHash(genesis), genesis.protocolVersion]);
}

/**
 * Refuses a data directory of another format, one written under another protocol version (its
 * state was computed by other rules), or one made from a different genesis.json.
 */
function checkMeta(raw: Uint8Array | undefined, genesis: Genesis, dataDir: string): void {
  if (raw === undefined) {
    throw new Error(`${dataDir} has no format marker: it was written by an older Hallmark. Move it away (or delete it) to start the chain again`);
  }
  const fields = decodeCanonical(raw, 'data format marker');
  const version = Array.isArray(fields) ? fields[0] : undefined;
  if (version !== DATA_FORMAT_VERSION) {
    throw new Error(`${dataDir} is in data format ${String(version)}, this Hallmark reads format ${DATA_FORMAT_VERSION}: it was written by another version of Hallmark. Move it away (or delete it) to start the chain again, or run the Hallmark that wrote it`);
  }
  const [, hash, protocol] = tuple(fields, 3, 'data format marker');
  if (protocol !== genesis.protocolVersion) {
    throw new Error(`${dataDir} was written under protocol version ${String(protocol)}, but genesis.json and this Hallmark run protocol ${genesis.protocolVersion}: its state was computed by other rules. Run the Hallmark of protocol ${String(protocol)}, or move the directory away to start again`);
  }
  const expected = genesisHash(genesis);
  if (!equalBytes(bytes(hash, 'genesis hash', 32), expected)) {
    throw new Error(`genesis.json has changed since ${dataDir} was created from it (genesis hash ${toHex(bytes(hash, 'genesis hash', 32)).slice(0, 16)}…, now ${toHex(expected).slice(0, 16)}…): restore the original; per-node timeouts belong in config.toml [consensus]`);
  }
}

/** Evidence items a proposer puts in one block (the block format allows more). */
const MAX_EVIDENCE_PER_PROPOSAL = 16;

/**
 * The largest transaction a block of this chain has room for beside the largest header, commit
 * and evidence: what the mempool takes at most, so nothing it admits can be left out of every block.
 */
export function maxBlockTxBytes(limits: BlockLimits, validators: number): number {
  return limits.maxBytes - worstBlockBytes(validators, 0) - cborHeaderBytes(limits.maxBytes);
}

export class HallmarkNode {
  readonly chainId: string;
  readonly nodeId: string;
  readonly validatorAddress: Address | null;
  readonly executor: Executor;
  readonly tree: StateTree;
  readonly mempool: Mempool;
  readonly validators: ValidatorSet;
  readonly synchrony: SynchronyBounds;
  readonly driver: ConsensusDriver;
  /** What the JSON-RPC server reads and submits through. */
  readonly query: NodeQuery;
  readonly #txWaiters: TxWaiters;
  readonly #db: Level<Uint8Array, Uint8Array>;
  readonly #wal: FileWal;
  readonly #genesis: Genesis;
  readonly #limits: BlockLimits;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly evidencePool: EvidencePool;
  /** The commit of the head block: the next block's lastCommit. */
  #lastCommit: Commit | null = null;
  #rpc: RpcServer | null = null;
  #halted: (err: Error) => void = () => {};
  /** See RunningNode.halted. */
  readonly halted = new Promise<Error>((resolve) => {
    this.#halted = resolve;
  });
  #metrics: { url: string; close(): Promise<void> } | null = null;
  readonly #committed = { blocks: 0, txs: 0, rounds: 0 };
  #applying: Promise<unknown> = Promise.resolve();
  readonly #nodeKey: NodeKey;
  readonly service: NetworkService;
  #network: Network | null = null;

  private constructor(parts: {
    genesis: Genesis; config: NodeConfig; db: Level<Uint8Array, Uint8Array>; tree: StateTree; executor: Executor;
    validators: ValidatorSet; signer: PrivValidator | null; wal: FileWal; log: Logger; nodeKey: NodeKey; outbox?: ConsensusOutbox;
    sigCache: SignatureCache; clock: Clock;
  }) {
    const { genesis, config, log } = parts;
    this.#genesis = genesis;
    this.#limits = blockLimits(genesis);
    this.synchrony = genesis.consensusParams.synchrony;
    this.#clock = parts.clock;
    this.#db = parts.db;
    this.#wal = parts.wal;
    this.#log = log;
    this.chainId = genesis.chainId;
    this.nodeId = parts.nodeKey.peerId;
    this.#nodeKey = parts.nodeKey;
    this.tree = parts.tree;
    this.executor = parts.executor;
    this.validators = parts.validators;
    this.validatorAddress = parts.signer?.address ?? null;
    this.mempool = new Mempool({
      chainId: genesis.chainId, accounts: parts.executor, config: config.mempool, sigCache: parts.sigCache,
      limits: this.#limits, maxBlockTxBytes: maxBlockTxBytes(this.#limits, genesis.validators.length),
    });
    this.evidencePool = new EvidencePool({ maxAgeHeights: parts.executor.evidenceMaxAgeHeights, now: parts.clock });
    const timeouts = { ...genesis.consensusParams.timeouts, ...config.consensus.timeouts };
    this.service = new NetworkService({
      chainId: genesis.chainId, validators: parts.validators, sigCache: parts.sigCache, executor: parts.executor, mempool: this.mempool,
      wal: parts.wal, rebroadcastMs: config.p2p.rebroadcastMs, behindThreshold: config.p2p.sync.behindThreshold,
      applyBlock: (block, commit) => this.#track(this.#commit(block.header.height, block, commit)),
      applied: () => this.#applying,
      // The driver stops for good, logs, and tells onHalt below.
      halt: (err) => this.driver.halt(err),
      log: log.child({ module: 'p2p' }),
    });
    const outbox = parts.outbox === undefined ? this.service.outbox : {
      proposal: (p: Parameters<ConsensusOutbox['proposal']>[0], b: Uint8Array) => { this.service.outbox.proposal(p, b); parts.outbox!.proposal(p, b); },
      vote: (v: Parameters<ConsensusOutbox['vote']>[0]) => { this.service.outbox.vote(v); parts.outbox!.vote(v); },
    };
    this.driver = new ConsensusDriver({
      chainId: genesis.chainId,
      validators: parts.validators,
      signer: parts.signer,
      app: this.#app(),
      wal: parts.wal,
      timers: { schedule: (ms, fn) => { const t = setTimeout(fn, ms); return () => clearTimeout(t); }, now: parts.clock },
      outbox,
      timeouts: engineTimeouts(timeouts),
      commitTimeoutMs: config.consensus.blockTimeMs ?? timeouts.commitMs,
      sigCache: parts.sigCache,
      onEvidence: (ev) => this.#onEvidence(ev),
      onHalt: (err) => this.#halted(err),
      log: log.child({ module: 'consensus' }),
    });
    this.#txWaiters = new TxWaiters((hash) => this.executor.blocks.getTx(hash));
    this.query = nodeQuery({
      chainId: this.chainId, nodeId: this.nodeId, validatorAddress: this.validatorAddress, executor: this.executor, tree: this.tree,
      mempool: this.mempool, validators: this.validators, validatorNames: new Map(genesis.validators.map((v) => [toHex(v.address), v.name])),
      synchrony: this.synchrony, waiters: this.#txWaiters,
      admitted: (stx) => this.service.gossip([{ hash: stx.hash, bytes: stx.bytes }]),
      pendingEvidence: () => this.evidencePool.list(),
      consensusState: () => consensusSnapshot(this.driver, this.validators),
      catchingUp: () => this.service.syncing,
      peers: () => this.#network?.peers() ?? [],
      listenAddresses: () => ({ rpc: this.#rpc?.url ?? '', p2p: this.#network?.multiaddrs[0]?.toString() ?? null }),
    });
  }

  /** Opens (or creates from genesis) the node's database under `<home>/data` and starts consensus. */
  static async open(opts: StartNodeOptions): Promise<HallmarkNode> {
    const { home, genesis, log } = opts;
    const dataDir = join(home, 'data');
    mkdirSync(dataDir, { recursive: true });
    const db = new Level<Uint8Array, Uint8Array>(join(dataDir, 'chain'), { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (err) {
      throw new Error(`cannot open the chain database in ${join(dataDir, 'chain')}: ${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message} (is another node running on this home?)`);
    }
    try {
      const validators = new ValidatorSet(genesis.validators.map((v) => ({ address: v.address, publicKey: v.publicKey, power: v.power })));
      const tree = await StateTree.open(db, { cacheNodes: 1 << 16 });
      const sigCache = new SignatureCache();
      const contracts = {
        cacheSize: opts.config.vm.moduleCacheSize,
        ...(opts.config.vm.debugLog ? { debugLog: (address: Uint8Array, line: string) => log.debug('contract debug_log', { contract: formatAddress(address), line }) } : {}),
      };
      executionRules(genesis.protocolVersion);
      const executor = await Executor.open(db, tree, {
        validators, sigCache, durable: true, contracts, limits: blockLimits(genesis), evidenceMaxAgeHeights: genesis.consensusParams.evidence.maxAgeHeights,
      });
      const head = executor.head;
      if (head === undefined) {
        // The marker first: a crash between the two then leaves a marked directory without a
        // chain, which the next start initialises, never a chain without its marker.
        await db.put(META_KEY, encodeMeta(genesis));
        await executor.initGenesis(toGenesisState(genesis));
        log.info('initialised the chain from genesis', { chain_id: genesis.chainId, validators: validators.size });
      } else if (head.chainId !== genesis.chainId) {
        throw new Error(`the database in ${dataDir} holds chain ${head.chainId}, but genesis.json is for ${genesis.chainId}`);
      } else {
        checkMeta(await db.get(META_KEY), genesis, dataDir);
      }
      let signer: PrivValidator | null = null;
      if (opts.validatorKey !== null) {
        const address = addressOf(opts.validatorKey.publicKey);
        if (validators.byAddress(address) !== undefined) {
          signer = new PrivValidator({
            chainId: genesis.chainId,
            secretKey: opts.validatorKey.secretKey,
            store: new FileSignStateStore(join(dataDir, 'priv_validator_state.json')),
          });
        } else {
          log.warn('the validator key is not in the genesis validator set; following only', { address: formatAddress(address) });
        }
      }
      const nodeKey = await loadOrCreateNodeKey(join(home, NODE_KEY_FILE));
      const wal = new FileWal(join(dataDir, 'wal'));
      // One signature cache for votes, commits and transactions: what was checked on arrival
      // (gossiped precommits, admitted transactions) costs nothing to check again in the next block.
      const clock = opts.clock ?? systemClock(clockOffsetFromEnv());
      const node = new HallmarkNode({ genesis, config: opts.config, db, tree, executor, validators, signer, wal, log, nodeKey, outbox: opts.outbox, sigCache, clock });
      const h = executor.head!;
      if (h.height > 0) node.#lastCommit = (await executor.blocks.getCommit(h.height)) ?? null;
      return node;
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /** Starts consensus at the height after the stored head (replaying the WAL) and the RPC server. */
  async start(config: NodeConfig): Promise<string> {
    const head = this.executor.head!;
    // A WAL that ended a height the block store lacks is refused here, with its message (WalError
    // 'ahead'), before anything listens; the driver would only halt on it.
    const wal = this.#wal.readAll();
    entriesToReplay(wal, head.height + 1);
    this.#rpc = await startRpcServer(this.query, { ...config.rpc, log: this.#log.child({ module: 'rpc' }) });
    if (config.metrics.enabled) this.#metrics = await startMetricsServer(() => this.metrics(), config.metrics);
    this.#network = await Network.start({
      config: config.p2p, nodeKey: this.#nodeKey, genesisHash: genesisHash(this.#genesis), maxTxBytes: config.mempool.maxTxBytes,
      handlers: this.service.handlers(), log: this.#log.child({ module: 'p2p' }),
    });
    this.#log.info('node started', {
      chain_id: this.chainId, height: head.height, rpc: this.#rpc.url, metrics: this.#metrics?.url ?? 'off',
      p2p: this.#network.multiaddrs[0]?.toString() ?? '', validator: this.validatorAddress === null ? 'none' : formatAddress(this.validatorAddress),
    });
    this.driver.start(head.height + 1, wal);
    this.service.attach(this.driver, this.#network);
    return this.#rpc.url;
  }

  async close(): Promise<void> {
    this.driver.stop();
    this.service.close();
    await this.#rpc?.close();
    await this.#network?.close();
    await this.#metrics?.close();
    await this.#applying.catch(() => {});
    this.#wal.close();
    await this.#db.close();
    this.#log.info('node stopped', { height: this.executor.head?.height });
  }

  #app(): ConsensusApp {
    return {
      propose: (height, round) => this.#buildBlock(height, round),
      validate: (height, bytes, { round, validRound, receivedAt }) => {
        try {
          const block = decodeBlock(bytes);
          if (block.header.height !== height) return { error: `block is for height ${block.header.height}` };
          // A fresh block must name the round's proposer (who gets its fees) and be timely; a
          // re-proposed one keeps the proposer and the time of the round that built it.
          const fresh = validRound === -1;
          if (fresh) {
            const late = untimely(block.header.time, receivedAt, this.synchrony, round);
            if (late !== null) return { error: `block ${height} is not timely: ${late}` };
          }
          this.executor.validateBlock(block, fresh ? { round, encoded: bytes } : { encoded: bytes });
          return { hash: blockHash(block.header) };
        } catch (err) {
          return { error: (err as Error).message };
        }
      },
      // A rejection halts the driver, which reports it through onHalt.
      commit: (height, bytes, commit) => this.#track(this.#commit(height, decodeBlock(bytes), commit)),
    };
  }

  /** Equivocation the driver saw: pooled for our next proposals, unless a block already carries it. */
  #onEvidence(ev: DuplicateVoteEvidence): void {
    const verdict = this.evidencePool.add(ev, this.executor.head!.height + 1);
    if (verdict !== 'added') return;
    // Only the block store knows evidence committed long ago (replayed votes can show it again);
    // a proposal carrying it would be invalid.
    const hash = evidenceHash(ev);
    this.executor.blocks.getEvidenceHeight(hash).then((at) => {
      if (at !== undefined) this.evidencePool.dropCommitted(hash);
    }, (err: unknown) => this.#log.warn('could not look up evidence in the block store', { error: err }));
  }

  /** Remembers an apply in flight, so close() and block sync wait for it. */
  #track<T>(run: Promise<T>): Promise<T> {
    this.#applying = run.catch(() => {});
    return run;
  }

  /**
   * The block this validator proposes: its time from our clock (after the previous block's, even
   * if our clock is behind), the pending evidence, and the best-paying transactions that fit what
   * is left of max_bytes once this very header, commit and evidence are counted, and max_gas. It
   * passes the same validity check every validator will run before it leaves.
   */
  #buildBlock(height: number, round: number): { block: Uint8Array; hash: Uint8Array } {
    const head = this.executor.head!;
    if (height !== head.height + 1) throw new Error(`asked to propose height ${height} on head ${head.height}`);
    const limits = this.#limits;
    const evidence = this.evidencePool.reap(height, MAX_EVIDENCE_PER_PROPOSAL);
    const build = (txs: Uint8Array[]): Block => {
      const header = this.executor.nextHeader({
        txs, time: Math.max(this.#clock(), head.time + 1), proposer: this.validatorAddress!,
        lastCommit: this.#lastCommit, validatorsHash: validatorsHash(this.validators.validators), evidence,
      });
      return { header, txs, lastCommit: this.#lastCommit, evidence };
    };
    // What the block takes without transactions, and the most its list header can grow (to
    // maxTxs items); reap counts each transaction's bytes and its own header.
    const room = limits.maxBytes - encodeBlock(build([])).length - (cborHeaderBytes(limits.maxTxs) - cborHeaderBytes(0));
    const txs = this.mempool.reap({ maxTxs: limits.maxTxs, maxBytes: Math.max(0, room), maxGas: limits.maxGas }).map((s) => s.bytes);
    const block = build(txs);
    const encoded = encodeBlock(block);
    this.executor.validateBlock(block, { round, encoded });
    return { block: encoded, hash: blockHash(block.header) };
  }

  async #commit(height: number, block: Block, commit: Commit): Promise<void> {
    const applied = await this.executor.applyBlock(block, commit);
    this.#lastCommit = commit;
    this.#committed.blocks++;
    this.#committed.txs += block.txs.length;
    this.#committed.rounds += commit.round;
    this.evidencePool.committed(block.evidence);
    this.evidencePool.expire(height + 1);
    this.#txWaiters.committed(applied);
    const committed: SignedTransaction[] = [];
    applied.txHashes.forEach((hash) => {
      const stx = this.mempool.get(hash);
      if (stx !== undefined) committed.push(stx);
    });
    await this.mempool.update(committed);
    this.service.committed(height, applied.txHashes);
    this.#log.info('committed block', { height, txs: block.txs.length, hash: toHex(applied.blockHash).slice(0, 16), round: commit.round });
  }

  /** The p2p layer, once started. */
  get network(): Network | null {
    return this.#network;
  }

  /** Where metrics are served, or null when they are off. */
  get metricsUrl(): string | null {
    return this.#metrics?.url ?? null;
  }

  /** What `GET /metrics` serves. */
  metrics(): MetricSample[] {
    const s = this.driver.status();
    const m = this.mempool.counters;
    return [
      { name: 'hallmark_height', help: 'Height of the latest committed block.', type: 'gauge', values: this.executor.head?.height ?? 0 },
      { name: 'hallmark_consensus_height', help: 'Height consensus is working on.', type: 'gauge', values: s.height },
      { name: 'hallmark_consensus_round', help: 'Round consensus is in.', type: 'gauge', values: Math.max(0, s.round) },
      { name: 'hallmark_blocks_committed_total', help: 'Blocks committed by this process.', type: 'counter', values: this.#committed.blocks },
      { name: 'hallmark_txs_committed_total', help: 'Transactions in blocks committed by this process.', type: 'counter', values: this.#committed.txs },
      { name: 'hallmark_extra_rounds_total', help: 'Rounds beyond the first that committed blocks needed.', type: 'counter', values: this.#committed.rounds },
      { name: 'hallmark_mempool_txs', help: 'Transactions in the mempool.', type: 'gauge', values: this.mempool.size },
      { name: 'hallmark_mempool_bytes', help: 'Bytes of transactions in the mempool.', type: 'gauge', values: this.mempool.bytes },
      { name: 'hallmark_mempool_admitted_total', help: 'Transactions admitted to the mempool.', type: 'counter', values: m.admitted },
      {
        name: 'hallmark_mempool_refused_total', help: 'Transactions refused by the mempool, by reason.', type: 'counter',
        values: Object.entries(m.refused).map(([reason, value]) => ({ labels: { reason }, value })),
      },
      {
        name: 'hallmark_mempool_removed_total', help: 'Transactions that left the mempool, by reason.', type: 'counter',
        values: Object.entries(m.removed).map(([reason, value]) => ({ labels: { reason }, value })),
      },
      { name: 'hallmark_evidence_pool_items', help: 'Equivocation evidence seen and not yet in a block.', type: 'gauge', values: this.evidencePool.size },
      { name: 'hallmark_evidence_pool_bytes', help: 'Encoded bytes of the evidence in the pool.', type: 'gauge', values: this.evidencePool.bytes },
      {
        name: 'hallmark_evidence_dropped_total', help: 'Evidence refused by or dropped from the pool without this node proposing it, by reason.', type: 'counter',
        values: EVIDENCE_DROP_REASONS.map((reason) => ({ labels: { reason }, value: this.evidencePool.dropped[reason] })),
      },
      ...this.#rpcMetrics(),
      ...this.#networkMetrics(),
    ];
  }

  /** The JSON-RPC server's connections and refusals (docs/operator.md lists them). */
  #rpcMetrics(): MetricSample[] {
    const rpc = this.#rpc;
    if (rpc === null) return [];
    const load = rpc.load();
    return [
      { name: 'hallmark_rpc_connections', help: 'Open JSON-RPC connections.', type: 'gauge', values: load.connections },
      { name: 'hallmark_rpc_requests_in_flight', help: 'JSON-RPC requests being read or handled.', type: 'gauge', values: [{ labels: { state: 'reading' }, value: load.reading }, { labels: { state: 'handling' }, value: load.handling }] },
      {
        name: 'hallmark_rpc_refused_total', help: 'JSON-RPC connections dropped or closed and requests refused, by reason.', type: 'counter',
        values: Object.entries(rpc.refused).map(([reason, value]) => ({ labels: { reason }, value })),
      },
    ];
  }

  /** The p2p layer's counters (docs/operator.md lists them). */
  #networkMetrics(): MetricSample[] {
    const net = this.#network;
    const sync = this.service.syncCounters;
    const out: MetricSample[] = [
      { name: 'hallmark_catching_up', help: '1 while the node block-syncs instead of taking part in consensus.', type: 'gauge', values: this.service.syncing ? 1 : 0 },
      { name: 'hallmark_blocksync_runs_total', help: 'Times the node left consensus to block-sync.', type: 'counter', values: sync.runs },
      { name: 'hallmark_blocksync_blocks_total', help: 'Blocks applied by block sync.', type: 'counter', values: sync.blocksApplied },
    ];
    if (net === null) return out;
    const c = net.counters;
    const byProtocol = (r: Record<string, number>) => Object.entries(r).map(([protocol, value]) => ({ labels: { protocol }, value }));
    const drops = Object.entries(net.limiter.drops).flatMap(([protocol, d]) =>
      Object.entries(d).map(([kind, value]) => ({ labels: { protocol, kind }, value })));
    const g = net.gater.counters;
    const m = net.memory.counters;
    const level = net.memory.level;
    return [
      ...out,
      { name: 'hallmark_p2p_peers', help: 'Connected peers.', type: 'gauge', values: net.peers().length },
      { name: 'hallmark_p2p_messages_received_total', help: 'Inbound messages, by protocol.', type: 'counter', values: byProtocol(c.messagesIn) },
      { name: 'hallmark_p2p_messages_sent_total', help: 'Outbound messages queued, by protocol.', type: 'counter', values: byProtocol(c.messagesOut) },
      { name: 'hallmark_p2p_send_dropped_total', help: "Outbound messages dropped because a peer's queue was full.", type: 'counter', values: c.sendDropped },
      { name: 'hallmark_p2p_rate_limited_total', help: 'Inbound messages or streams refused by quota.', type: 'counter', values: drops },
      { name: 'hallmark_p2p_invalid_messages_total', help: 'Inbound messages that were malformed, oversized or forged.', type: 'counter', values: c.invalidMessages },
      {
        name: 'hallmark_p2p_penalties_total', help: 'Peer score penalties, by reason.', type: 'counter',
        values: Object.entries(net.scores.counters.penalties).map(([reason, value]) => ({ labels: { reason }, value })),
      },
      { name: 'hallmark_p2p_disconnects_total', help: 'Peers disconnected for their score.', type: 'counter', values: net.scores.counters.disconnects },
      { name: 'hallmark_p2p_bans_total', help: 'Peers banned.', type: 'counter', values: net.scores.counters.bans },
      { name: 'hallmark_p2p_banned_peers', help: 'Bans in force.', type: 'gauge', values: net.scores.banned().length },
      {
        name: 'hallmark_p2p_refused_connections_total', help: 'Inbound connections the gater refused, by reason.', type: 'counter',
        values: [{ labels: { reason: 'ip_cap' }, value: g.ipCapRefused }, { labels: { reason: 'banned' }, value: g.bannedRefused }, { labels: { reason: 'memory' }, value: g.memoryRefused }],
      },
      { name: 'hallmark_p2p_dial_failures_total', help: 'Failed dials to persistent peers.', type: 'counter', values: c.dialFailures },
      { name: 'hallmark_p2p_sync_served_total', help: 'Block sync requests answered.', type: 'counter', values: c.syncServed },
      { name: 'hallmark_memory_pressure_level', help: '0 normal, 1 shedding block sync, 2 also refusing inbound connections.', type: 'gauge', values: level === 'normal' ? 0 : level === 'shed_sync' ? 1 : 2 },
      {
        name: 'hallmark_p2p_shed_total', help: 'Work refused under memory pressure.', type: 'counter',
        values: [{ labels: { work: 'sync' }, value: m.syncRefused }, { labels: { work: 'inbound' }, value: m.inboundRefused }],
      },
    ];
  }
}

/** What `hallmark start` calls. */
export async function startNode(opts: StartNodeOptions): Promise<RunningNode> {
  const node = await HallmarkNode.open(opts);
  let rpcUrl: string;
  try {
    rpcUrl = await node.start(opts.config);
  } catch (err) {
    await node.close();
    throw err;
  }
  return { rpcUrl, node, halted: node.halted, close: () => node.close() };
}
