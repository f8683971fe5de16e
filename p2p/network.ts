/**
 * The validator network: one libp2p host, the peers it keeps, and the protocols it speaks.
 *
 *   - consensus (/hallmark/consensus/1.0.0): status, proposals and votes over one long-lived
 *     stream each way per peer. The first message on a stream must be a status naming our genesis;
 *     a peer on another chain is banned.
 *   - txs (/hallmark/txs/1.0.0): batches of admitted transactions, each sent to a peer at most once
 *     (a bounded set per peer remembers what it has sent us and what we sent it).
 *   - sync (/hallmark/sync/1.0.0): request/response, blocks with their commits by height range.
 *   - snapshot (/hallmark/snapshot/1.0.0): request/response, state snapshot offers and chunks.
 *
 * Every inbound message passes the peer's quota for its protocol (rate-limit.ts) before it is
 * decoded; a refusal, a bad message or an oversized one costs the peer score (peer-score.ts), and a
 * low score disconnects, then bans it (the gater refuses its reconnects). Outbound queues are
 * bounded: a peer that does not read loses messages, not our memory. What messages mean is the
 * node's business (`NetworkHandlers`); this module moves bytes and keeps peers honest.
 *
 * Beside it: outbound.ts (the bounded send queue of one stream), persistent-peers.ts (dialling
 * and redialling the configured peers) and sync-server.ts (answering block sync and snapshot
 * requests).
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Multiaddr } from '@multiformats/multiaddr';
import { byteKey, equalBytes } from '../chain/bytes.ts';
import { CodecError } from '../chain/codec.ts';
import { sha256 } from '../chain/hash.ts';
import type { Proposal } from '../chain/proposal.ts';
import type { Vote } from '../chain/vote.ts';
import type { P2PConfig, P2PLog, PenaltyReason, ProtocolName } from './config.ts';
import { createGater, type HallmarkGater } from './gater.ts';
import { createHost, messageStream, request, type Host } from './host.ts';
import type { NodeKey } from './identity.ts';
import { MemoryMonitor } from './memory.ts';
import { Outbound } from './outbound.ts';
import { parsePersistentPeers, PersistentPeers, type PersistentAddress } from './persistent-peers.ts';
import { PeerScores } from './peer-score.ts';
import { Gcra, PeerRateLimiter } from './rate-limit.ts';
import { RecentSet } from './recent-set.ts';
import { encodeSnapshotRequest, SNAPSHOT_PROTOCOL, type SnapshotRequest, type SnapshotSource } from './snapshot-wire.ts';
import { serveRequest, type SyncServer } from './sync-server.ts';
import { encodeSyncRequest, SYNC_PROTOCOL, type SyncSource } from './sync-wire.ts';
import { CONSENSUS_PROTOCOL, decodeConsensusMessage, decodeTxs, encodeConsensusMessage, encodeTxs, TXS_PROTOCOL, type ConsensusMessage } from './wire.ts';

export interface NetworkHandlers {
  /** A peer's status: the last height it committed. */
  onStatus(peerId: string, head: number): void;
  /** A proposal; returns a penalty if it was provably bad (a bad signature), else null. */
  onProposal(peerId: string, proposal: Proposal, block: Uint8Array): PenaltyReason | null;
  /** Votes, to be verified as one batch; returns a penalty if any was provably bad. */
  onVotes(peerId: string, votes: Vote[]): PenaltyReason | null;
  /** Gossiped transactions; returns a penalty if any was provably bad (a bad signature, malformed). */
  onTxs(peerId: string, txs: { hash: Uint8Array; bytes: Uint8Array }[]): Promise<PenaltyReason | null>;
  /** A peer whose status named our chain: send it what it may have missed. */
  onPeerReady(peerId: string): void;
  onPeerGone(peerId: string): void;
  /** Blocks and commits served to peers that sync from us. */
  syncSource: SyncSource;
  /** State snapshots served to peers that join by snapshot; none when absent. */
  snapshotSource?: SnapshotSource;
}

export interface NetworkOptions {
  config: P2PConfig;
  nodeKey: NodeKey;
  genesisHash: Uint8Array;
  /** Largest transaction a gossip message may carry (the mempool's limit). */
  maxTxBytes: number;
  handlers: NetworkHandlers;
  log: P2PLog;
}

export interface PeerInfo {
  id: string;
  address: string;
  direction: 'inbound' | 'outbound';
  /** Last committed height the peer reported; null before its status arrived. */
  head: number | null;
  score: number;
  protected: boolean;
}

/** Counters for metrics, by what happened. */
export interface NetworkCounters {
  messagesIn: Record<ProtocolName, number>;
  messagesOut: Record<'consensus' | 'txs', number>;
  /** Outbound messages dropped because a peer's queue was full. */
  sendDropped: number;
  invalidMessages: number;
  dialFailures: number;
  syncServed: number;
  snapshotChunksServed: number;
}

/** Transaction hashes remembered per peer (sent to it or received from it): gossip's round trip. */
const KNOWN_TXS_PER_PEER = 16_384;
/** Transactions gossiped in one message, and how long a batch waits to fill. */
const TX_BATCH = 512;
const TX_FLUSH_MS = 5;

interface Peer {
  id: string;
  peerId: PeerId;
  head: number | null;
  /** Its status named our genesis. */
  ready: boolean;
  consensus: Outbound | null;
  txs: Outbound | null;
  knownTxs: RecentSet;
  pendingTxs: Uint8Array[];
}

export class Network {
  readonly host: Host;
  readonly peerId: string;
  readonly scores: PeerScores;
  readonly limiter: PeerRateLimiter;
  readonly memory: MemoryMonitor;
  readonly gater: HallmarkGater;
  readonly counters: NetworkCounters = {
    messagesIn: { consensus: 0, txs: 0, sync: 0, snapshot: 0 },
    messagesOut: { consensus: 0, txs: 0 },
    sendDropped: 0, invalidMessages: 0, dialFailures: 0, syncServed: 0, snapshotChunksServed: 0,
  };
  readonly #o: NetworkOptions;
  readonly #peers = new Map<string, Peer>();
  readonly #protected: Set<string>;
  readonly #persistent: PersistentPeers;
  #status: Uint8Array;
  #txFlush: NodeJS.Timeout | null = null;
  #closed = false;

  private constructor(o: NetworkOptions, host: Host, parts: { scores: PeerScores; limiter: PeerRateLimiter; memory: MemoryMonitor; gater: HallmarkGater; protectedPeers: Set<string>; persistent: PersistentAddress[] }) {
    this.#o = o;
    this.host = host;
    this.peerId = host.peerId;
    this.scores = parts.scores;
    this.limiter = parts.limiter;
    this.memory = parts.memory;
    this.gater = parts.gater;
    this.#protected = parts.protectedPeers;
    this.#persistent = new PersistentPeers(host, parts.persistent, { config: o.config, log: o.log, onDialFailure: () => this.counters.dialFailures++ });
    this.#status = encodeConsensusMessage({ kind: 'status', genesisHash: o.genesisHash, head: 0 });
  }

  /** Starts the host, registers the protocols and dials the persistent peers. */
  static async start(o: NetworkOptions): Promise<Network> {
    const c = o.config;
    const persistent = parsePersistentPeers(c.persistentPeers);
    const protectedPeers = new Set([...persistent.map((p) => p.id), ...c.allowPeers]);
    const isProtected = (id: string) => protectedPeers.has(id);
    const scores = new PeerScores(c.score, { isProtected });
    const limiter = new PeerRateLimiter(c.limits, {});
    const memory = new MemoryMonitor(c.memory, {});
    const gater = createGater({ scores, memory, isProtected, maxConnectionsPerIp: c.maxConnectionsPerIp });
    const host = await createHost({
      privateKey: o.nodeKey.privateKey,
      listen: `/ip4/${c.host}/tcp/${c.port}`,
      maxConnections: c.maxConnections,
      maxIncomingPendingConnections: c.maxIncomingPendingConnections,
      inboundConnectionThreshold: c.inboundConnectionThreshold,
      dialTimeoutMs: c.dialTimeoutMs,
      upgradeTimeoutMs: c.upgradeTimeoutMs,
      negotiationTimeoutMs: c.negotiationTimeoutMs,
      maxStreamsPerConnection: c.maxStreamsPerConnection,
      maxStreamBufferBytes: c.maxStreamBufferBytes,
      connectionGater: gater,
    });
    const net = new Network(o, host, { scores, limiter, memory, gater, protectedPeers, persistent });
    try {
      await net.#register();
    } catch (err) {
      await host.close();
      throw err;
    }
    memory.start();
    net.#persistent.start();
    return net;
  }

  get config(): P2PConfig {
    return this.#o.config;
  }

  get multiaddrs(): Multiaddr[] {
    return this.host.libp2p.getMultiaddrs();
  }

  // ---- sending -------------------------------------------------------------------------------

  /** Our last committed height, told to every peer now and to each new one. */
  setHead(head: number): void {
    this.#status = encodeConsensusMessage({ kind: 'status', genesisHash: this.#o.genesisHash, head });
    for (const p of this.#peers.values()) this.#sendConsensus(p, this.#status);
  }

  /** A consensus message to every ready peer (encoded once). */
  broadcast(m: Exclude<ConsensusMessage, { kind: 'status' }>): void {
    const bytes = encodeConsensusMessage(m);
    for (const p of this.#peers.values()) if (p.ready) this.#sendConsensus(p, bytes);
  }

  /** A consensus message to one ready peer. */
  sendTo(peerId: string, m: Exclude<ConsensusMessage, { kind: 'status' }>): void {
    const p = this.#peers.get(peerId);
    if (p?.ready) this.#sendConsensus(p, encodeConsensusMessage(m));
  }

  /**
   * Admitted transactions to every ready peer that has not sent or been sent them. `from` is the
   * peer they came from (it has them). Batched for a few ms.
   */
  gossipTxs(txs: readonly { hash: Uint8Array; bytes: Uint8Array }[], from?: string): void {
    const keys = txs.map((tx) => byteKey(tx.hash));
    for (const p of this.#peers.values()) {
      if (!p.ready || p.id === from || p.txs === null) continue;
      txs.forEach((tx, i) => {
        if (p.knownTxs.has(keys[i]!)) return;
        p.knownTxs.add(keys[i]!);
        p.pendingTxs.push(tx.bytes);
      });
    }
    if (this.#txFlush === null) this.#txFlush = setTimeout(() => this.#flushTxs(), TX_FLUSH_MS);
  }

  #flushTxs(): void {
    this.#txFlush = null;
    for (const p of this.#peers.values()) {
      while (p.pendingTxs.length > 0 && p.txs !== null) {
        const batch = p.pendingTxs.splice(0, TX_BATCH);
        p.txs.send(encodeTxs(batch));
        this.counters.messagesOut.txs++;
      }
      p.pendingTxs = [];
    }
  }

  #sendConsensus(p: Peer, bytes: Uint8Array): void {
    if (p.consensus === null) return;
    p.consensus.send(bytes);
    this.counters.messagesOut.consensus++;
  }

  /** Asks `peerId` for blocks from..from+count-1; resolves with the raw response (sync-wire.ts). */
  async requestBlocks(peerId: string, from: number, count: number, signal: AbortSignal): Promise<Uint8Array> {
    return this.#request(peerId, 'sync', encodeSyncRequest({ from, count }), signal);
  }

  /** Asks `peerId` for its snapshot offers or a chunk; resolves with the raw response (snapshot-wire.ts). */
  async requestSnapshot(peerId: string, req: SnapshotRequest, signal: AbortSignal, timeoutMs = this.#o.config.sync.requestTimeoutMs): Promise<Uint8Array> {
    return this.#request(peerId, 'snapshot', encodeSnapshotRequest(req), signal, timeoutMs);
  }

  #request(peerId: string, protocol: 'sync' | 'snapshot', message: Uint8Array, signal: AbortSignal, timeoutMs = this.#o.config.sync.requestTimeoutMs): Promise<Uint8Array> {
    const name = protocol === 'sync' ? SYNC_PROTOCOL : SNAPSHOT_PROTOCOL;
    return request(this.host, peerIdFromString(peerId), name, message, { maxMessageBytes: this.#o.config.limits[protocol].maxMessageBytes, timeoutMs, signal });
  }

  // ---- peers ---------------------------------------------------------------------------------

  peers(): PeerInfo[] {
    return [...this.#peers.values()].map((p) => {
      const conn = this.host.libp2p.getConnections(p.peerId)[0];
      return {
        id: p.id,
        address: conn?.remoteAddr.toString() ?? '',
        direction: conn?.direction ?? 'outbound',
        head: p.head,
        score: this.scores.score(p.id),
        protected: this.#protected.has(p.id),
      };
    });
  }

  /** Peers whose status named our chain, with the heights they reported. */
  readyPeers(): { id: string; height: number }[] {
    return [...this.#peers.values()].filter((p) => p.ready && p.head !== null).map((p) => ({ id: p.id, height: p.head! }));
  }

  /** Lowers a peer's score; disconnects or bans it when a threshold is crossed. */
  penalize(peerId: string, reason: PenaltyReason): void {
    const action = this.scores.penalize(peerId, reason);
    if (action === 'none') return;
    this.#o.log.warn(action === 'ban' ? 'banning peer' : 'disconnecting peer', { peer: peerId, reason, score: Math.round(this.scores.score(peerId)) });
    void this.host.libp2p.hangUp(peerIdFromString(peerId)).catch(() => {});
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.memory.stop();
    if (this.#txFlush !== null) clearTimeout(this.#txFlush);
    this.#persistent.close();
    for (const p of this.#peers.values()) {
      p.consensus?.close();
      p.txs?.close();
    }
    await this.host.close();
  }

  // ---- protocols -----------------------------------------------------------------------------

  async #register(): Promise<void> {
    // libp2p's own per-connection cap is only a backstop, above ours: a stream past our cap reaches
    // #readLoop, which refuses it and charges the peer for it.
    const backstop = (n: number) => 2 * n;
    const libp2p = this.host.libp2p;
    const c = this.#o.config;
    libp2p.addEventListener('peer:connect', (e) => this.#onConnect(e.detail));
    libp2p.addEventListener('peer:disconnect', (e) => this.#onDisconnect(e.detail.toString()));
    await libp2p.handle(CONSENSUS_PROTOCOL, (stream, conn) => this.#readLoop('consensus', stream, conn), { maxInboundStreams: backstop(c.limits.consensus.maxStreams) });
    await libp2p.handle(TXS_PROTOCOL, (stream, conn) => this.#readLoop('txs', stream, conn), { maxInboundStreams: backstop(c.limits.txs.maxStreams) });
    const server: SyncServer = {
      config: c, limiter: this.limiter, memory: this.memory, handlers: this.#o.handlers, counters: this.counters, inflight: { chunks: 0 },
      chunkBudget: new Gcra({ perSecond: c.snapshotChunksPerS, burst: c.snapshotChunksPerS }), penalize: (id, reason) => this.penalize(id, reason),
    };
    for (const [p, name] of [['sync', SYNC_PROTOCOL], ['snapshot', SNAPSHOT_PROTOCOL]] as const) {
      await libp2p.handle(name, (stream, conn) => serveRequest(p, stream, conn.remotePeer.toString(), server), { maxInboundStreams: backstop(c.limits[p].maxStreams) });
    }
  }

  #onConnect(peerId: PeerId): void {
    const id = peerId.toString();
    if (this.#closed || this.#peers.has(id)) return;
    const peer: Peer = { id, peerId, head: null, ready: false, consensus: null, txs: null, knownTxs: new RecentSet(KNOWN_TXS_PER_PEER), pendingTxs: [] };
    this.#peers.set(id, peer);
    if (this.#protected.has(id)) {
      // Connection pruning drops the lowest-valued peers first: ours never go.
      void this.host.libp2p.peerStore.merge(peerId, { tags: { 'hallmark-protected': { value: 100 } } }).catch(() => {});
    }
    void this.#openOutbound(peer);
  }

  async #openOutbound(peer: Peer): Promise<void> {
    const c = this.#o.config;
    const open = async (protocol: string, maxMessageBytes: number): Promise<Outbound | null> => {
      try {
        const stream = await this.host.libp2p.dialProtocol(peer.peerId, protocol, { signal: AbortSignal.timeout(c.negotiationTimeoutMs) });
        return new Outbound(stream, maxMessageBytes, () => this.counters.sendDropped++, (err) => {
          this.#o.log.debug('send failed', { peer: peer.id, protocol, error: err.message });
        });
      } catch (err) {
        this.#o.log.debug('could not open a stream', { peer: peer.id, protocol, error: (err as Error).message });
        return null;
      }
    };
    const [consensus, txs] = await Promise.all([open(CONSENSUS_PROTOCOL, c.limits.consensus.maxMessageBytes), open(TXS_PROTOCOL, c.limits.txs.maxMessageBytes)]);
    if (this.#peers.get(peer.id) !== peer) {
      consensus?.close();
      txs?.close();
      return;
    }
    if (consensus === null) {
      // Not a Hallmark node (or not one of this version): it has nothing for us.
      txs?.close();
      void this.host.libp2p.hangUp(peer.peerId).catch(() => {});
      return;
    }
    peer.consensus = consensus;
    peer.txs = txs;
    this.#sendConsensus(peer, this.#status);
  }

  #onDisconnect(id: string): void {
    const peer = this.#peers.get(id);
    if (peer === undefined) return;
    this.#peers.delete(id);
    peer.consensus?.close();
    peer.txs?.close();
    this.limiter.forget(id);
    this.#o.handlers.onPeerGone(id);
    this.#persistent.disconnected(id);
  }

  /** Reads one inbound long-lived stream until it ends; nothing a peer sends escapes as an exception. */
  async #readLoop(protocol: 'consensus' | 'txs', stream: Stream, conn: Connection): Promise<void> {
    const id = conn.remotePeer.toString();
    const limits = this.#o.config.limits[protocol];
    if (!this.limiter.openStream(id, protocol)) {
      stream.abort(new Error(`too many ${protocol} streams`));
      this.penalize(id, 'stream_limit');
      return;
    }
    try {
      const lp = messageStream(stream, limits.maxMessageBytes);
      for (;;) {
        const data = (await lp.read()).subarray();
        this.counters.messagesIn[protocol]++;
        const admitted = this.limiter.admit(id, protocol, data.byteLength);
        if (!admitted.ok) {
          this.penalize(id, 'rate_limited');
          continue;
        }
        const penalty = protocol === 'consensus' ? this.#onConsensus(id, data) : await this.#onTxs(id, data);
        if (penalty !== null) {
          this.counters.invalidMessages++;
          this.penalize(id, penalty);
          if (penalty === 'wrong_chain') break;
        }
      }
    } catch (err) {
      const e = err as Error & { code?: string; name?: string };
      if (e.name === 'InvalidDataLengthError' || e.code === 'message_malformed' || e.name === 'InvalidDataLengthLengthError') {
        this.counters.invalidMessages++;
        this.penalize(id, 'oversized_message');
      }
      stream.abort(e);
    } finally {
      this.limiter.closeStream(id, protocol);
    }
  }

  #onConsensus(id: string, data: Uint8Array): PenaltyReason | null {
    const peer = this.#peers.get(id);
    if (peer === undefined) return null;
    let m: ConsensusMessage;
    try {
      m = decodeConsensusMessage(data, this.#o.config.limits.consensus.maxMessageBytes);
    } catch (err) {
      if (err instanceof CodecError) return 'invalid_message';
      throw err;
    }
    if (m.kind === 'status') {
      if (!equalBytes(m.genesisHash, this.#o.genesisHash)) return 'wrong_chain';
      peer.head = m.head;
      const first = !peer.ready;
      peer.ready = true;
      if (first) this.#o.handlers.onPeerReady(id);
      this.#o.handlers.onStatus(id, m.head);
      return null;
    }
    // Nothing but a status is taken before the peer has shown it is on our chain.
    if (!peer.ready) return 'invalid_message';
    return m.kind === 'proposal' ? this.#o.handlers.onProposal(id, m.proposal, m.block) : this.#o.handlers.onVotes(id, m.votes);
  }

  async #onTxs(id: string, data: Uint8Array): Promise<PenaltyReason | null> {
    const peer = this.#peers.get(id);
    if (peer === undefined || !peer.ready) return null;
    let txs: Uint8Array[];
    try {
      txs = decodeTxs(data, this.#o.config.limits.txs.maxMessageBytes, this.#o.maxTxBytes);
    } catch (err) {
      if (err instanceof CodecError) return 'invalid_message';
      throw err;
    }
    const hashed = txs.map((bytes) => ({ hash: sha256(bytes), bytes }));
    for (const tx of hashed) peer.knownTxs.add(byteKey(tx.hash));
    return this.#o.handlers.onTxs(id, hashed);
  }
}
