/**
 * The peer-to-peer layer's settings, with their defaults: what `[p2p]` in config.toml maps onto
 * (node/config.ts parses the file; docs/operator.md explains each key). Every limit here is per
 * node unless it says per peer or per IP.
 */

/** Where the p2p layer logs (node/log.ts's Logger fits). */
export interface P2PLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

/** A quota as a rate with a burst (GCRA): `perSecond` sustained, up to `burst` at once. */
export interface Quota {
  perSecond: number;
  burst: number;
}

/** What one peer may send on one protocol. */
export interface ProtocolLimits {
  messages: Quota;
  bytes: Quota;
  /** Streams of this protocol one peer may have open at once (inbound). */
  maxStreams: number;
  /** The longest message accepted, in bytes; a longer length prefix aborts the stream. */
  maxMessageBytes: number;
}

export type ProtocolName = 'consensus' | 'txs' | 'sync';

export interface ScoreConfig {
  /** Score halves toward 0 every this many ms (penalties fade; a peer that behaves recovers). */
  decayHalfLifeMs: number;
  /** At or below this score the peer is disconnected. */
  disconnectThreshold: number;
  /** At or below this score the peer is banned: disconnected, and its reconnects refused. */
  banThreshold: number;
  banDurationMs: number;
  /** Points taken per event (positive numbers; they are subtracted). */
  penalties: Record<PenaltyReason, number>;
}

export type PenaltyReason = 'invalid_message' | 'oversized_message' | 'rate_limited' | 'bad_sync_response' | 'stream_limit' | 'wrong_chain';

export interface MemoryConfig {
  /** Heap use (percent of V8's heap limit) at which the node stops serving block sync to others. */
  shedSyncPercent: number;
  /** Heap use at which new inbound connections are refused. */
  shedInboundPercent: number;
  /** A level is left only once heap use is this many points below the level's threshold. */
  hysteresisPercent: number;
  checkIntervalMs: number;
}

export interface SyncConfig {
  /** Blocks asked for in one request. */
  blocksPerRequest: number;
  /** Requests in flight at once, over all peers. */
  maxInflightRequests: number;
  requestTimeoutMs: number;
  /** Heights behind the best peer at which a node leaves consensus for block sync. */
  behindThreshold: number;
}

export interface P2PConfig {
  host: string;
  port: number;
  /** Multiaddrs ending in /p2p/<peer id>: dialled at start, redialled with backoff; protected. */
  persistentPeers: string[];
  /** More peer ids that are protected (never pruned, exempt from connection caps, never banned). */
  allowPeers: string[];
  maxConnections: number;
  maxIncomingPendingConnections: number;
  /** New inbound connections accepted per IP per second (libp2p's inboundConnectionThreshold). */
  inboundConnectionThreshold: number;
  /** Open and pending inbound connections one IP may have at once (protected peers exempt). */
  maxConnectionsPerIp: number;
  dialTimeoutMs: number;
  /** Time for an inbound connection to finish Noise and Yamux. */
  upgradeTimeoutMs: number;
  /** Time to agree on a protocol on a new stream. */
  negotiationTimeoutMs: number;
  maxStreamsPerConnection: number;
  /** Yamux read and write buffers per stream (the write side is unbounded by default). */
  maxStreamBufferBytes: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  /** How often the node re-sends its own latest proposal and votes to every peer. */
  rebroadcastMs: number;
  limits: Record<ProtocolName, ProtocolLimits>;
  score: ScoreConfig;
  memory: MemoryConfig;
  sync: SyncConfig;
}

const MiB = 1024 * 1024;

export const DEFAULT_P2P_CONFIG: Readonly<P2PConfig> = {
  host: '127.0.0.1',
  port: 26656,
  persistentPeers: [],
  allowPeers: [],
  maxConnections: 64,
  maxIncomingPendingConnections: 16,
  inboundConnectionThreshold: 8,
  maxConnectionsPerIp: 8,
  dialTimeoutMs: 5_000,
  upgradeTimeoutMs: 5_000,
  negotiationTimeoutMs: 5_000,
  maxStreamsPerConnection: 32,
  maxStreamBufferBytes: 8 * MiB,
  reconnectBaseMs: 250,
  reconnectMaxMs: 30_000,
  rebroadcastMs: 1_000,
  limits: {
    consensus: { messages: { perSecond: 500, burst: 1_000 }, bytes: { perSecond: 16 * MiB, burst: 32 * MiB }, maxStreams: 2, maxMessageBytes: 6 * MiB },
    txs: { messages: { perSecond: 200, burst: 400 }, bytes: { perSecond: 8 * MiB, burst: 16 * MiB }, maxStreams: 2, maxMessageBytes: 2 * MiB },
    sync: { messages: { perSecond: 20, burst: 40 }, bytes: { perSecond: 4 * MiB, burst: 8 * MiB }, maxStreams: 4, maxMessageBytes: 6 * MiB },
  },
  score: {
    decayHalfLifeMs: 60_000,
    disconnectThreshold: -50,
    banThreshold: -100,
    banDurationMs: 10 * 60_000,
    penalties: { invalid_message: 20, oversized_message: 25, rate_limited: 5, bad_sync_response: 30, stream_limit: 5, wrong_chain: 1_000 },
  },
  memory: { shedSyncPercent: 75, shedInboundPercent: 85, hysteresisPercent: 5, checkIntervalMs: 1_000 },
  sync: { blocksPerRequest: 20, maxInflightRequests: 8, requestTimeoutMs: 10_000, behindThreshold: 2 },
};
