/**
 * The peer-to-peer layer's settings, with their defaults: what `[p2p]` in config.toml maps onto
 * (declared here, read by node/config.ts; docs/operator.md explains each key). Every limit here is
 * per node unless it says per peer or per IP.
 */
import { byteCount, field, integer, listenKey, stringList, type ConfigKey, type ConfigTable } from '../chain/config-keys.ts';

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

export type ProtocolName = 'consensus' | 'txs' | 'sync' | 'snapshot';

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
  /** State snapshot chunks (~1 MiB each) served per second over all peers; beyond it peers are told busy. */
  snapshotChunksPerS: number;
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
  snapshotChunksPerS: 4,
  limits: {
    consensus: { messages: { perSecond: 500, burst: 1_000 }, bytes: { perSecond: 16 * MiB, burst: 32 * MiB }, maxStreams: 2, maxMessageBytes: 6 * MiB },
    txs: { messages: { perSecond: 200, burst: 400 }, bytes: { perSecond: 8 * MiB, burst: 16 * MiB }, maxStreams: 2, maxMessageBytes: 2 * MiB },
    sync: { messages: { perSecond: 20, burst: 40 }, bytes: { perSecond: 4 * MiB, burst: 8 * MiB }, maxStreams: 4, maxMessageBytes: 6 * MiB },
    // Requests are tiny and each asks for a ~1 MiB chunk: `messages` is the per-peer serving quota;
    // max_message_bytes also caps the chunks this node accepts.
    snapshot: { messages: { perSecond: 10, burst: 20 }, bytes: { perSecond: 8 * MiB, burst: 8 * MiB }, maxStreams: 4, maxMessageBytes: 8 * MiB },
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

// ---- config.toml ----------------------------------------------------------------------------------

function peerAddressProblem(s: string): string | null {
  if (!/^\/(ip4|ip6|dns|dns4|dns6)\/[^/\s]+\/tcp\/[0-9]{1,5}\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(s)) {
    return `must be a multiaddr such as "/ip4/127.0.0.1/tcp/26656/p2p/12D3KooW...", got ${JSON.stringify(s)}`;
  }
  return null;
}

function peerIdProblem(s: string): string | null {
  return /^[1-9A-HJ-NP-Za-km-z]{40,60}$/.test(s) ? null : `must be a peer id such as "12D3KooW...", got ${JSON.stringify(s)}`;
}

const PROTOCOLS: readonly ProtocolName[] = ['consensus', 'txs', 'sync', 'snapshot'];
const PENALTY_DOCS: Record<PenaltyReason, string> = {
  invalid_message: 'bytes that do not decode, a forged vote or proposal, a provably bad transaction',
  oversized_message: "a length prefix past the protocol's cap",
  rate_limited: 'each message over quota',
  bad_sync_response: 'a block sync answer with a bad block or commit, the wrong heights, or garbage; a request that timed out',
  stream_limit: "a stream past the protocol's per-peer cap",
  wrong_chain: 'a status naming another genesis',
};

const p2pKey = field<P2PConfig>();
const limit = (name: string, get: (l: ProtocolLimits) => number, set: (l: ProtocolLimits, v: number) => void, bytes: boolean, doc: string): ConfigKey<ProtocolLimits> =>
  ({ name, kind: bytes ? byteCount(1) : integer(1), doc, get, set });
const LIMIT_KEYS: readonly ConfigKey<ProtocolLimits>[] = [
  limit('messages_per_s', (l) => l.messages.perSecond, (l, v) => { l.messages.perSecond = v; }, false, 'messages a peer may send per second, sustained'),
  limit('messages_burst', (l) => l.messages.burst, (l, v) => { l.messages.burst = v; }, false, 'messages a peer may send at once'),
  limit('bytes_per_s', (l) => l.bytes.perSecond, (l, v) => { l.bytes.perSecond = v; }, true, 'bytes a peer may send per second, sustained'),
  limit('bytes_burst', (l) => l.bytes.burst, (l, v) => { l.bytes.burst = v; }, true, 'bytes a peer may send at once; at least `max_message_bytes`'),
  limit('max_streams', (l) => l.maxStreams, (l, v) => { l.maxStreams = v; }, false, 'inbound streams of this protocol one peer may have open at once'),
  limit('max_message_bytes', (l) => l.maxMessageBytes, (l, v) => { l.maxMessageBytes = v; }, true, 'the longest message; a longer length prefix aborts the stream'),
];
const scoreKey = field<ScoreConfig>();
const memoryKey = field<MemoryConfig>();
const syncKey = field<SyncConfig>();

/** config.toml's [p2p] tables. */
export const P2P_TABLES: readonly ConfigTable<P2PConfig>[] = [
  {
    name: 'p2p',
    doc: 'libp2p over TCP with Noise and Yamux; docs/operator.md explains every key below',
    of: (p) => p,
    keys: [
      listenKey('peer-to-peer listen address'),
      p2pKey('persistent_peers', 'persistentPeers', stringList(peerAddressProblem, 'array of multiaddrs'),
        'peers to stay connected to, each `/ip4/HOST/tcp/PORT/p2p/PEER_ID`; redialled with backoff, never pruned'),
      p2pKey('allow_peers', 'allowPeers', stringList(peerIdProblem, 'array of peer ids'), 'more peers to protect from pruning, caps and bans'),
      p2pKey('max_connections', 'maxConnections', integer(1), 'open connections, inbound and outbound; beyond it libp2p prunes unprotected peers'),
      p2pKey('max_incoming_pending_connections', 'maxIncomingPendingConnections', integer(1), 'inbound connections still in their Noise and Yamux upgrade'),
      p2pKey('inbound_connection_threshold', 'inboundConnectionThreshold', integer(1), 'new inbound connections accepted per IP per second'),
      p2pKey('max_connections_per_ip', 'maxConnectionsPerIp', integer(1), 'open and pending inbound connections from one IP at once'),
      p2pKey('dial_timeout_ms', 'dialTimeoutMs', integer(1), 'an outbound dial gives up after this long'),
      p2pKey('upgrade_timeout_ms', 'upgradeTimeoutMs', integer(1), "an inbound connection's Noise and Yamux upgrade gives up after this long"),
      p2pKey('negotiation_timeout_ms', 'negotiationTimeoutMs', integer(1), 'agreeing on a protocol for a new stream gives up after this long'),
      p2pKey('max_streams_per_connection', 'maxStreamsPerConnection', integer(1), 'Yamux streams a peer may have open on one connection'),
      p2pKey('max_stream_buffer_bytes', 'maxStreamBufferBytes', byteCount(1024), 'Yamux read and write buffer per stream'),
      p2pKey('reconnect_base_ms', 'reconnectBaseMs', integer(1), "a persistent peer's first redial waits this long, doubling up to `reconnect_max_ms`"),
      p2pKey('reconnect_max_ms', 'reconnectMaxMs', integer(1), "the longest wait between a persistent peer's redials"),
      p2pKey('rebroadcast_ms', 'rebroadcastMs', integer(10), "how often this node's own proposal and votes are sent again while a height lasts"),
      p2pKey('snapshot_chunks_per_s', 'snapshotChunksPerS', integer(1, 10_000),
        'state snapshot chunks (~1 MiB each) served per second over all peers, so serving joiners never crowds out consensus; beyond it they are told `busy`'),
    ],
  },
  ...PROTOCOLS.map((name): ConfigTable<P2PConfig, ProtocolLimits> => ({
    name: `p2p.limits.${name}`,
    of: (p) => p.limits[name],
    keys: LIMIT_KEYS,
  })),
  {
    name: 'p2p.score',
    of: (p) => p.score,
    keys: [
      scoreKey('decay_half_life_ms', 'decayHalfLifeMs', integer(1), 'a score halves toward 0 every this many ms, so penalties fade'),
      scoreKey('disconnect_threshold', 'disconnectThreshold', integer(-1_000_000, -1), 'at or below this score a peer is disconnected'),
      scoreKey('ban_threshold', 'banThreshold', integer(-1_000_000, -1), 'at or below this score a peer is banned: disconnected, and its reconnects refused'),
      scoreKey('ban_duration_ms', 'banDurationMs', integer(0), 'how long a ban lasts'),
    ],
  },
  {
    name: 'p2p.score.penalties',
    of: (p) => p.score.penalties,
    keys: (Object.keys(PENALTY_DOCS) as PenaltyReason[]).map((r) => field<Record<PenaltyReason, number>>()(r, r, integer(0, 1_000_000), `points for ${PENALTY_DOCS[r]}`)),
  },
  {
    name: 'p2p.memory',
    doc: 'heap use (percent of the V8 heap limit) at which the node stops serving block sync, then refuses new inbound connections',
    of: (p) => p.memory,
    keys: [
      memoryKey('shed_sync_percent', 'shedSyncPercent', integer(1, 100), 'above this heap use block sync is no longer served to others'),
      memoryKey('shed_inbound_percent', 'shedInboundPercent', integer(1, 100), 'above this heap use new inbound connections are refused too'),
      memoryKey('hysteresis_percent', 'hysteresisPercent', integer(0, 99), 'a level is left only once heap use is this many points below its threshold'),
      memoryKey('check_interval_ms', 'checkIntervalMs', integer(10), 'how often heap use is sampled'),
    ],
  },
  {
    name: 'p2p.sync',
    of: (p) => p.sync,
    keys: [
      syncKey('blocks_per_request', 'blocksPerRequest', integer(1, 100), 'blocks asked for in one block sync request'),
      syncKey('max_inflight_requests', 'maxInflightRequests', integer(1, 256), 'block sync requests in flight at once, over all peers'),
      syncKey('request_timeout_ms', 'requestTimeoutMs', integer(1), 'a block sync request gives up after this long, and costs the peer `bad_sync_response`'),
      syncKey('behind_threshold', 'behindThreshold', integer(1), 'heights behind the best peer at which the node leaves consensus to block-sync at once'),
    ],
  },
];

/** The rules between [p2p] keys, each as `key: what is wrong`. */
export function p2pConfigProblems(p: P2PConfig): string[] {
  const out: string[] = [];
  if (p.score.banThreshold >= p.score.disconnectThreshold) {
    out.push(`p2p.score.ban_threshold: must be below p2p.score.disconnect_threshold (${p.score.disconnectThreshold})`);
  }
  if (p.memory.shedSyncPercent > p.memory.shedInboundPercent) {
    out.push(`p2p.memory.shed_sync_percent: must not exceed p2p.memory.shed_inbound_percent (${p.memory.shedInboundPercent}): serving block sync is shed first`);
  }
  if (p.memory.hysteresisPercent >= p.memory.shedSyncPercent) out.push('p2p.memory.hysteresis_percent: must be below p2p.memory.shed_sync_percent');
  if (p.reconnectBaseMs > p.reconnectMaxMs) out.push(`p2p.reconnect_base_ms: must not exceed p2p.reconnect_max_ms (${p.reconnectMaxMs})`);
  for (const name of PROTOCOLS) {
    const l = p.limits[name];
    if (l.maxMessageBytes > p.maxStreamBufferBytes) {
      out.push(`p2p.limits.${name}.max_message_bytes: must not exceed p2p.max_stream_buffer_bytes (${p.maxStreamBufferBytes})`);
    }
    if (l.bytes.burst < l.maxMessageBytes) {
      out.push(`p2p.limits.${name}.bytes_burst: must be at least max_message_bytes (${l.maxMessageBytes}), or the largest message could never pass`);
    }
  }
  return out;
}
