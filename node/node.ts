/**
 * The validator process: the composition root. Opens the chain database, applies genesis on first
 * start, and wires the executor, mempool, consensus driver (with its WAL and double-sign guard) and
 * the JSON-RPC server and the peer-to-peer network (p2p/network.ts, with node/network-service.ts
 * saying what its messages mean here) together.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Level } from 'level';
import { addressOf, formatAddress, type Address } from '../chain/address.ts';
import { decodeBlock, type Block } from '../chain/block.ts';
import { toHex } from '../chain/bytes.ts';
import type { DuplicateVoteEvidence } from '../chain/evidence.ts';
import { evidenceHash } from '../chain/evidence.ts';
import type { SignedTransaction } from '../chain/tx.ts';
import type { Commit } from '../chain/vote.ts';
import { ConsensusDriver } from '../consensus/driver.ts';
import type { ConsensusApp, ConsensusOutbox } from '../consensus/ports.ts';
import { PrivValidator } from '../consensus/privval.ts';
import { ValidatorSet } from '../consensus/validators.ts';
import { SignatureCache } from '../consensus/verify.ts';
import { entriesToReplay } from '../consensus/wal.ts';
import type { TimeoutConfig, TimeoutKind } from '../consensus/state-machine.ts';
import type { SynchronyBounds } from '../consensus/timeliness.ts';
import { blockLimits, genesisHash, type Genesis, type TimeoutParams } from '../genesis/genesis.ts';
import { StateTree } from '../state/tree.ts';
import { clockOffsetFromEnv, systemClock, type Clock } from './clock.ts';
import type { NodeConfig } from './config.ts';
import { BlockBuilder, maxBlockTxBytes } from './block-builder.ts';
import { openChainDb, initOrCheckChain } from './data-dir.ts';
import { EvidencePool } from '../consensus/evidence-pool.ts';
import { Executor } from '../execution/executor.ts';
import type { Logger } from './log.ts';
import { Mempool } from '../mempool/mempool.ts';
import { executionRules } from '../execution/protocol.ts';
import { NodeMetrics } from './metrics.ts';
import { FileSignStateStore } from './privval-file.ts';
import type { NodeQuery } from '../rpc/query.ts';
import { startRpcServer, type RpcServer } from '../rpc/server.ts';
import { FileWal } from './wal-file.ts';
import { loadOrCreateNodeKey, type NodeKey } from '../p2p/identity.ts';
import { Network } from '../p2p/network.ts';
import { NetworkService } from './network-service.ts';
import { consensusSnapshot, nodeQuery } from './query.ts';
import { TxWaiters } from '../rpc/tx-waiters.ts';
import { InlineVerifier, LazyVerifier, type Verifier } from '../zk/groth16.ts';
import { VerifierPool } from '../zk/pool.ts';
import { SignaturePool } from '../chain/signature-pool.ts';
import { HEAD_KEY } from '../execution/head.ts';
import { restoreInProgress } from '../state/restore.ts';
import { SnapshotStore } from './snapshots.ts';
import { stateSync, type StateSyncStats } from './state-sync.ts';

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
  readonly #builder: BlockBuilder;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly evidencePool: EvidencePool;
  #rpc: RpcServer | null = null;
  #halted: (err: Error) => void = () => {};
  /** See RunningNode.halted. */
  readonly halted = new Promise<Error>((resolve) => {
    this.#halted = resolve;
  });
  readonly metrics: NodeMetrics;
  #metricsServer: { url: string; close(): Promise<void> } | null = null;
  #applying: Promise<unknown> = Promise.resolve();
  readonly #nodeKey: NodeKey;
  /** Groth16 verification's worker threads (the executor's and the mempool's). */
  readonly #verifier: Verifier;
  /** Signature verification's worker threads (the executor's and the mempool's); null: inline. */
  readonly #signatures: SignaturePool | null;
  readonly service: NetworkService;
  #network: Network | null = null;
  /** The state snapshots this node takes and serves. */
  readonly snapshots: SnapshotStore;
  /** What joining by snapshot did at this start; null when the node did not try. */
  readonly stateSync: StateSyncStats | null;

  private constructor(parts: {
    genesis: Genesis; config: NodeConfig; db: Level<Uint8Array, Uint8Array>; tree: StateTree; executor: Executor;
    validators: ValidatorSet; signer: PrivValidator | null; wal: FileWal; log: Logger; nodeKey: NodeKey; outbox?: ConsensusOutbox;
    sigCache: SignatureCache; clock: Clock; verifier: Verifier; signatures: SignaturePool | null; snapshots: SnapshotStore; stateSync: StateSyncStats | null;
  }) {
    const { genesis, config, log } = parts;
    this.#genesis = genesis;
    const limits = blockLimits(genesis);
    this.#clock = parts.clock;
    this.synchrony = genesis.consensusParams.synchrony;
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
    this.#verifier = parts.verifier;
    this.#signatures = parts.signatures;
    this.snapshots = parts.snapshots;
    this.stateSync = parts.stateSync;
    const zk = parts.executor.zk;
    this.mempool = new Mempool({
      chainId: genesis.chainId, accounts: parts.executor, config: config.mempool, sigCache: parts.sigCache,
      limits, maxBlockTxBytes: maxBlockTxBytes(limits, genesis.validators.length),
      ...(zk && { proofs: (p) => parts.executor.read(({ overlay }) => zk.admit(overlay, p)) }),
      ...(parts.signatures !== null && { signatures: parts.signatures }),
    });
    // A block's transactions this node admitted are taken as the mempool decoded them.
    parts.executor.knownTx = (hash) => this.mempool.get(hash);
    this.evidencePool = new EvidencePool({ maxAgeHeights: parts.executor.evidenceMaxAgeHeights, now: parts.clock });
    this.#builder = new BlockBuilder({
      executor: parts.executor, mempool: this.mempool, evidencePool: this.evidencePool, validators: parts.validators,
      limits, synchrony: this.synchrony, clock: parts.clock, proposer: this.validatorAddress,
    });
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
    this.metrics = new NodeMetrics({
      driver: this.driver, executor: this.executor, mempool: this.mempool, evidencePool: this.evidencePool, service: this.service,
      rpc: () => this.#rpc, network: () => this.#network, snapshots: parts.snapshots.stats, stateSync: parts.stateSync,
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
      latestSnapshot: () => this.snapshots.list()[0]?.height ?? null,
      peers: () => this.#network?.peers() ?? [],
      listenAddresses: () => ({ rpc: this.#rpc?.url ?? '', p2p: this.#network?.multiaddrs[0]?.toString() ?? null }),
    });
  }

  /** Opens (or creates from genesis) the node's database under `<home>/data` and starts consensus. */
  static async open(opts: StartNodeOptions): Promise<HallmarkNode> {
    const { home, genesis, log } = opts;
    const dataDir = join(home, 'data');
    mkdirSync(dataDir, { recursive: true });
    const db = await openChainDb(dataDir);
    let verifier: Verifier | undefined;
    let signatures: SignaturePool | null = null;
    let snapshots: SnapshotStore | undefined;
    try {
      const validators = new ValidatorSet(genesis.validators.map((v) => ({ address: v.address, publicKey: v.publicKey, power: v.power })));
      const nodeKey = await loadOrCreateNodeKey(join(home, NODE_KEY_FILE));
      // An empty node asked to join by snapshot (or one whose restore was interrupted) restores the
      // state first; the rest of the start then finds a chain at the snapshot's height.
      let synced: StateSyncStats | null = null;
      const empty = (await db.get(HEAD_KEY)) === undefined;
      if (empty && (opts.config.sync.mode === 'snapshot' || (await restoreInProgress(db)) !== undefined)) {
        synced = await stateSync({ db, genesis, validators, config: opts.config, nodeKey, log });
      } else if (!empty && opts.config.sync.mode === 'snapshot') {
        log.info('this node has a chain already: it catches up by block sync (joining by snapshot is for an empty data directory)');
      }
      const tree = await StateTree.open(db); // its caches bounded in bytes (64 MiB by default)
      snapshots = await SnapshotStore.open(join(dataDir, 'snapshots'), {
        tree, protocolVersion: genesis.protocolVersion, settings: opts.config.snapshot, log: log.child({ module: 'statesync' }),
      });
      const sigCache = new SignatureCache();
      const contracts = {
        cacheSize: opts.config.vm.moduleCacheSize,
        ...(opts.config.vm.debugLog ? { debugLog: (address: Uint8Array, line: string) => log.debug('contract debug_log', { contract: formatAddress(address), line }) } : {}),
      };
      executionRules(genesis.protocolVersion);
      // Proofs are verified off the event loop that runs consensus, unless the operator asks for 0 threads.
      const threads = opts.config.vm.verifierThreads;
      verifier = threads === 0 ? new InlineVerifier() : new LazyVerifier(() => new VerifierPool(threads === null ? {} : { threads }));
      // Its threads start with the first request large enough to use them.
      const sigThreads = opts.config.execution.signatureThreads;
      signatures = sigThreads === 0 ? null : new SignaturePool(sigThreads === null ? {} : { threads: sigThreads });
      const executor = await Executor.open(db, tree, {
        validators, sigCache, durable: true, contracts, limits: blockLimits(genesis), evidenceMaxAgeHeights: genesis.consensusParams.evidence.maxAgeHeights, verifier,
        ...(signatures !== null && { signatures }),
      });
      await initOrCheckChain(db, executor, genesis, dataDir, log);
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
      const wal = new FileWal(join(dataDir, 'wal'));
      // One signature cache for votes, commits and transactions: what was checked on arrival
      // (gossiped precommits, admitted transactions) costs nothing to check again in the next block.
      const clock = opts.clock ?? systemClock(clockOffsetFromEnv());
      const node = new HallmarkNode({
        genesis, config: opts.config, db, tree, executor, validators, signer, wal, log, nodeKey, outbox: opts.outbox, sigCache, clock, verifier, signatures, snapshots, stateSync: synced,
      });
      const h = executor.head!;
      if (h.height > 0) node.#builder.lastCommit = (await executor.blocks.getCommit(h.height)) ?? null;
      return node;
    } catch (err) {
      await verifier?.close();
      await signatures?.close();
      await snapshots?.close();
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
    this.#rpc = await startRpcServer(this.query, { ...config.rpc, log: this.#log.child({ module: 'rpc' }), onCall: (method, seconds) => this.metrics.rpcCall(method, seconds) });
    if (config.metrics.enabled) this.#metricsServer = await this.metrics.serve(config.metrics);
    this.#network = await Network.start({
      config: config.p2p, nodeKey: this.#nodeKey, genesisHash: genesisHash(this.#genesis), maxTxBytes: config.mempool.maxTxBytes,
      handlers: { ...this.service.handlers(), snapshotSource: this.snapshots }, log: this.#log.child({ module: 'p2p' }),
    });
    this.#log.info('node started', {
      chain_id: this.chainId, height: head.height, rpc: this.#rpc.url, metrics: this.#metricsServer?.url ?? 'off',
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
    await this.#metricsServer?.close();
    await this.#applying.catch(() => {});
    await this.snapshots.close();
    await this.#verifier.close();
    await this.#signatures?.close();
    this.#wal.close();
    await this.#db.close();
    this.#log.info('node stopped', { height: this.executor.head?.height });
  }

  #app(): ConsensusApp {
    return {
      propose: (height, round) => this.#builder.propose(height, round),
      validate: (height, bytes, proposal) => this.#builder.validate(height, bytes, proposal),
      // A rejection halts the driver, which reports it through onHalt.
      commit: (height, bytes, commit) => this.#track(this.#commit(height, decodeBlock(bytes), commit, bytes)),
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

  async #commit(height: number, block: Block, commit: Commit, encoded?: Uint8Array): Promise<void> {
    // Admissions wait for the block and the mempool's recheck (mempool/gate.ts).
    const release = this.mempool.admissions.hold();
    try {
      await this.#apply(height, block, commit, encoded);
    } finally {
      release();
    }
  }

  async #apply(height: number, block: Block, commit: Commit, encoded?: Uint8Array): Promise<void> {
    const parent = this.executor.head!;
    const executed = this.metrics.executing();
    const applied = await this.executor.applyBlock(block, commit, encoded);
    executed();
    this.#builder.lastCommit = commit;
    this.metrics.committed(block, commit.round, parent, this.service.syncing ? null : this.#clock());
    this.evidencePool.committed(block.evidence);
    this.evidencePool.expire(height + 1);
    this.#txWaiters.committed(applied);
    const committed: SignedTransaction[] = [];
    applied.txHashes.forEach((hash) => {
      const stx = this.mempool.get(hash);
      if (stx !== undefined) committed.push(stx);
    });
    await this.mempool.update(committed, applied.accounts);
    this.service.committed(height, applied.txHashes);
    this.snapshots.committed(height);
    this.#log.info('committed block', { height, txs: block.txs.length, hash: toHex(applied.blockHash).slice(0, 16), round: commit.round });
  }

  /** The p2p layer, once started. */
  get network(): Network | null {
    return this.#network;
  }

  /** Where metrics are served, or null when they are off. */
  get metricsUrl(): string | null {
    return this.#metricsServer?.url ?? null;
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
