/**
 * The node's configuration: `config.toml` in the home directory (cli/home.ts).
 *
 * Every key is optional and has a default; a key that is not known is an error, not ignored, so a
 * typo (`max_bach = 10`) cannot silently leave a default in force. Parsing reports every problem at
 * once, each as `section.key: what is expected`. Addresses are written `listen = "host:port"`
 * (`[::1]:26657` for IPv6); port 0 asks the system for a free port.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import { U64_MAX } from '../chain/codec.ts';
import { CodedError } from '../chain/errors.ts';
import { describe, jsonDocument, problemLines, schemaProblems } from '../chain/schema-problems.ts';
import { MAX_TIMEOUT_MS } from '../genesis/schema.ts';
import { checkConfig, DEFAULT_MEMPOOL_CONFIG, type MempoolConfig } from '../mempool/config.ts';
import { DEFAULT_RPC_SERVER_OPTIONS, MAX_RPC_TIMEOUT_MS, type RpcServerConfig } from '../rpc/config.ts';
import { DEFAULT_P2P_CONFIG, type P2PConfig, type PenaltyReason, type ProtocolLimits, type ProtocolName } from '../p2p/config.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFormat = 'text' | 'json';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

export interface NodeConfig {
  logLevel: LogLevel;
  logFormat: LogFormat;
  rpc: RpcServerConfig;
  p2p: P2PConfig;
  metrics: { enabled: boolean; host: string; port: number };
  consensus: {
    /** Pause after a commit before the next height; null: the genesis consensus_params.timeouts.commit_ms. */
    blockTimeMs: number | null;
    /** Per-node overrides of the genesis round timeouts (local liveness settings, not consensus rules). */
    timeouts: Partial<Record<TimeoutOverride, number>>;
  };
  mempool: MempoolConfig;
  vm: {
    /** Print contracts' debug_log lines to the node log (at debug level); never affects consensus. */
    debugLog: boolean;
    /** Compiled contract modules kept in memory (least recently used dropped first). */
    moduleCacheSize: number;
  };
}

export const CONFIG_FILE = 'config.toml';

export type TimeoutOverride = 'proposeMs' | 'proposeDeltaMs' | 'prevoteMs' | 'prevoteDeltaMs' | 'precommitMs' | 'precommitDeltaMs';
/** [consensus] keys that override the genesis round timeouts, named as in genesis.json. */
export const TIMEOUT_OVERRIDES: readonly (readonly [string, TimeoutOverride])[] = [
  ['propose_ms', 'proposeMs'], ['propose_delta_ms', 'proposeDeltaMs'], ['prevote_ms', 'prevoteMs'],
  ['prevote_delta_ms', 'prevoteDeltaMs'], ['precommit_ms', 'precommitMs'], ['precommit_delta_ms', 'precommitDeltaMs'],
];

export const DEFAULT_CONFIG: Readonly<NodeConfig> = deepFreeze({
  logLevel: 'info',
  logFormat: 'text',
  rpc: { ...DEFAULT_RPC_SERVER_OPTIONS },
  p2p: structuredClone(DEFAULT_P2P_CONFIG) as P2PConfig,
  metrics: { enabled: true, host: '127.0.0.1', port: 26660 },
  consensus: { blockTimeMs: null, timeouts: {} },
  mempool: { ...DEFAULT_MEMPOOL_CONFIG },
  vm: { debugLog: false, moduleCacheSize: 64 },
});

/** A fresh, mutable copy of the defaults. */
export function defaultConfig(): NodeConfig {
  return structuredClone(DEFAULT_CONFIG) as NodeConfig;
}

export class ConfigError extends CodedError<'config_invalid'> {
  readonly file: string;
  /** One entry per problem, each `key.path: what is wrong`. */
  readonly problems: readonly string[];

  constructor(file: string, problems: readonly string[]) {
    // One line: the CLI prints it as is, and a reader sees every problem at once.
    super('config_invalid', `${file}: ${problems.join('; ')}`);
    this.file = file;
    this.problems = problems;
  }
}

// ---- schema ----------------------------------------------------------------------------------------

const LISTEN = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):([0-9]{1,5})$/;

function listenProblem(s: string): string | null {
  const m = LISTEN.exec(s);
  if (!m) return `must be "host:port" such as "127.0.0.1:26657" (IPv6 as "[::1]:26657"), got ${JSON.stringify(s)}`;
  if (Number(m[3]) > 65535) return `port ${m[3]} is out of range (0-65535)`;
  return null;
}

function parseListen(s: string): { host: string; port: number } {
  const m = LISTEN.exec(s)!;
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

export function formatListen(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function check<T>(problem: (v: T) => string | null) {
  return (v: T, ctx: z.RefinementCtx<T>) => {
    const p = problem(v);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  };
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`).optional();
const listen = z.string().superRefine(check(listenProblem)).optional();
const oneOf = <T extends string>(values: readonly T[]) => z.string().superRefine(check((s: string) =>
  (values as readonly string[]).includes(s) ? null : `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(s)}`)).optional();

function feeProblem(v: unknown): string | null {
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'bigint') return `expected a whole number in a string such as "1000", got ${describe(v, 'toml')}`;
  const s = String(v);
  const ok = typeof v === 'number' ? Number.isSafeInteger(v) && v >= 0 : typeof v === 'bigint' ? v >= 0n : /^(?:0|[1-9][0-9]*)$/.test(s);
  if (!ok) return `must be a whole number of base units such as "0" or "1000", got ${typeof v === 'string' ? JSON.stringify(v) : s}`;
  return BigInt(s) > U64_MAX ? 'exceeds 2^64-1' : null;
}

const fee = z.unknown().superRefine(check(feeProblem)).optional();

/** [rpc] integer keys: name, field, greatest value, and the line config.toml writes above the key. */
const RPC_KEYS: readonly (readonly [string, Exclude<keyof RpcServerConfig, 'host' | 'port'>, number, string])[] = [
  ['max_body_bytes', 'maxBodyBytes', Number.MAX_SAFE_INTEGER, 'Largest request body, in bytes'],
  ['max_batch', 'maxBatch', Number.MAX_SAFE_INTEGER, 'Most calls in one batch request'],
  ['max_concurrent', 'maxConcurrent', Number.MAX_SAFE_INTEGER, 'Most requests handled at once (from when the whole body has arrived); more get 503 until one finishes'],
  ['max_concurrent_per_ip', 'maxConcurrentPerIp', Number.MAX_SAFE_INTEGER, 'The same for one client (an IPv4 address or an IPv6 /64), so no client takes every slot'],
  ['max_connections', 'maxConnections', Number.MAX_SAFE_INTEGER, 'Most open connections; more are reset at accept, before any HTTP is read'],
  ['max_connections_per_ip', 'maxConnectionsPerIp', Number.MAX_SAFE_INTEGER, 'Most open connections from one client (behind a proxy every client is the proxy: raise it)'],
  ['timeout_ms', 'timeoutMs', MAX_RPC_TIMEOUT_MS, 'A call (including tx_broadcast waiting for a commit) gives up after this long'],
  ['header_timeout_ms', 'headerTimeoutMs', MAX_RPC_TIMEOUT_MS, 'A new connection has this long to send its request headers (then 408 and closed)'],
  ['body_timeout_ms', 'bodyTimeoutMs', MAX_RPC_TIMEOUT_MS, 'A request body must be complete this long after its headers (then 408 and closed)'],
  ['send_timeout_ms', 'sendTimeoutMs', MAX_RPC_TIMEOUT_MS, 'A client has this long to take an answer, or the connection is closed'],
  ['keep_alive_timeout_ms', 'keepAliveTimeoutMs', MAX_RPC_TIMEOUT_MS, 'A kept-alive connection is closed if the next request\'s headers have not arrived this long after an answer'],
];

/** [p2p] integer keys: name, field, least and greatest value. */
const P2P_KEYS: readonly (readonly [string, P2PIntField, number, number?])[] = [
  ['max_connections', 'maxConnections', 1], ['max_incoming_pending_connections', 'maxIncomingPendingConnections', 1],
  ['inbound_connection_threshold', 'inboundConnectionThreshold', 1], ['max_connections_per_ip', 'maxConnectionsPerIp', 1],
  ['dial_timeout_ms', 'dialTimeoutMs', 1], ['upgrade_timeout_ms', 'upgradeTimeoutMs', 1], ['negotiation_timeout_ms', 'negotiationTimeoutMs', 1],
  ['max_streams_per_connection', 'maxStreamsPerConnection', 1], ['max_stream_buffer_bytes', 'maxStreamBufferBytes', 1024],
  ['reconnect_base_ms', 'reconnectBaseMs', 1], ['reconnect_max_ms', 'reconnectMaxMs', 1], ['rebroadcast_ms', 'rebroadcastMs', 10],
];
type P2PIntField = 'maxConnections' | 'maxIncomingPendingConnections' | 'inboundConnectionThreshold' | 'maxConnectionsPerIp' | 'dialTimeoutMs'
  | 'upgradeTimeoutMs' | 'negotiationTimeoutMs' | 'maxStreamsPerConnection' | 'maxStreamBufferBytes' | 'reconnectBaseMs' | 'reconnectMaxMs' | 'rebroadcastMs';
const PROTOCOLS: readonly ProtocolName[] = ['consensus', 'txs', 'sync'];
/** [p2p.limits.<protocol>] keys and where each goes. */
const LIMIT_KEYS: readonly (readonly [string, (l: ProtocolLimits) => number, (l: ProtocolLimits, v: number) => void])[] = [
  ['messages_per_s', (l) => l.messages.perSecond, (l, v) => { l.messages.perSecond = v; }],
  ['messages_burst', (l) => l.messages.burst, (l, v) => { l.messages.burst = v; }],
  ['bytes_per_s', (l) => l.bytes.perSecond, (l, v) => { l.bytes.perSecond = v; }],
  ['bytes_burst', (l) => l.bytes.burst, (l, v) => { l.bytes.burst = v; }],
  ['max_streams', (l) => l.maxStreams, (l, v) => { l.maxStreams = v; }],
  ['max_message_bytes', (l) => l.maxMessageBytes, (l, v) => { l.maxMessageBytes = v; }],
];
const PENALTIES: readonly PenaltyReason[] = ['invalid_message', 'oversized_message', 'rate_limited', 'bad_sync_response', 'stream_limit', 'wrong_chain'];

function peerAddressProblem(s: string): string | null {
  if (!/^\/(ip4|ip6|dns|dns4|dns6)\/[^/\s]+\/tcp\/[0-9]{1,5}\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(s)) {
    return `must be a multiaddr such as "/ip4/127.0.0.1/tcp/26656/p2p/12D3KooW...", got ${JSON.stringify(s)}`;
  }
  return null;
}

function peerIdProblem(s: string): string | null {
  return /^[1-9A-HJ-NP-Za-km-z]{40,60}$/.test(s) ? null : `must be a peer id such as "12D3KooW...", got ${JSON.stringify(s)}`;
}

const configSchema = z.strictObject({
  log: z.strictObject({ level: oneOf(LOG_LEVELS), format: oneOf(LOG_FORMATS) }).optional(),
  rpc: z.strictObject({
    listen,
    ...Object.fromEntries(RPC_KEYS.map(([key, , max]) => [key, int(1, max)])),
  }).optional(),
  p2p: z.strictObject({
    listen,
    persistent_peers: z.array(z.string().superRefine(check(peerAddressProblem))).optional(),
    allow_peers: z.array(z.string().superRefine(check(peerIdProblem))).optional(),
    ...Object.fromEntries(P2P_KEYS.map(([key, , min, max]) => [key, int(min, max)])),
    limits: z.strictObject(Object.fromEntries(PROTOCOLS.map((name) => [name, z.strictObject(
      Object.fromEntries(LIMIT_KEYS.map(([key]) => [key, int(1)])),
    ).optional()]))).optional(),
    score: z.strictObject({
      decay_half_life_ms: int(1),
      disconnect_threshold: int(-1_000_000, -1),
      ban_threshold: int(-1_000_000, -1),
      ban_duration_ms: int(0),
      penalties: z.strictObject(Object.fromEntries(PENALTIES.map((r) => [r, int(0, 1_000_000)]))).optional(),
    }).optional(),
    memory: z.strictObject({
      shed_sync_percent: int(1, 100),
      shed_inbound_percent: int(1, 100),
      hysteresis_percent: int(0, 99),
      check_interval_ms: int(10),
    }).optional(),
    sync: z.strictObject({
      blocks_per_request: int(1, 100),
      max_inflight_requests: int(1, 256),
      request_timeout_ms: int(1),
      behind_threshold: int(1),
    }).optional(),
  }).optional(),
  metrics: z.strictObject({ enabled: z.boolean().optional(), listen }).optional(),
  consensus: z.strictObject({
    block_time_ms: int(0, MAX_TIMEOUT_MS),
    ...Object.fromEntries(TIMEOUT_OVERRIDES.map(([key]) => [key, int(0, MAX_TIMEOUT_MS)])),
  }).optional(),
  mempool: z.strictObject({
    max_txs: int(1),
    max_bytes: int(1),
    max_tx_bytes: int(1),
    max_nonce_gap: int(1),
    min_fee: fee,
    min_gas_price: fee,
    replace_fee_bump_percent: int(0, 10_000),
  }).optional(),
  vm: z.strictObject({ debug_log: z.boolean().optional(), module_cache_size: int(1, 100_000) }).optional(),
});

type ConfigDocument = z.output<typeof configSchema>;

// ---- problems ----------------------------------------------------------------------------------

function crossFieldProblems(c: NodeConfig): string[] {
  const out: string[] = [];
  if (c.mempool.maxTxBytes > c.mempool.maxBytes) {
    out.push(`mempool.max_tx_bytes: must not exceed mempool.max_bytes (${c.mempool.maxBytes})`);
  }
  const p = c.p2p;
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
  const bound: [string, { host: string; port: number }][] = [['rpc.listen', c.rpc], ['p2p.listen', c.p2p]];
  if (c.metrics.enabled) bound.push(['metrics.listen', c.metrics]);
  for (let i = 0; i < bound.length; i++) {
    for (let j = 0; j < i; j++) {
      const [a, x] = bound[j]!;
      const [b, y] = bound[i]!;
      if (x.port !== 0 && x.port === y.port && x.host === y.host) out.push(`${b}: same address as ${a} (${formatListen(x.host, x.port)})`);
    }
  }
  return out;
}

// ---- parse, format, load -----------------------------------------------------------------------

/** Reads config.toml text into a checked NodeConfig; throws ConfigError naming `file`. */
export function parseConfig(tomlText: string, file = CONFIG_FILE): NodeConfig {
  let doc: unknown;
  try {
    doc = parseToml(tomlText.startsWith('\uFEFF') ? tomlText.slice(1) : tomlText, { integersAsBigInt: 'asNeeded' });
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      throw new ConfigError(file, [`line ${err.line}, column ${err.column}: not valid TOML: ${reason}`]);
    }
    throw err;
  }
  return fromDocument(doc, file);
}

/** The same checks for an already-parsed document (config.json, or a table built in code). */
export function configFromDocument(doc: unknown, file: string): NodeConfig {
  return fromDocument(doc, file);
}

function fromDocument(doc: unknown, file: string): NodeConfig {
  const result = configSchema.safeParse(doc, { reportInput: true });
  if (!result.success) throw new ConfigError(file, problemLines(schemaProblems(configSchema, result.error.issues, 'toml')));
  const config = build(result.data);
  const problems = crossFieldProblems(config);
  if (problems.length > 0) throw new ConfigError(file, problems);
  checkConfig(config.mempool);
  return config;
}

function build(d: ConfigDocument): NodeConfig {
  const c = defaultConfig();
  const pick = <T>(v: T | undefined, dflt: T): T => (v === undefined ? dflt : v);
  c.logLevel = pick(d.log?.level as LogLevel | undefined, c.logLevel);
  c.logFormat = pick(d.log?.format as LogFormat | undefined, c.logFormat);
  if (d.rpc) {
    if (d.rpc.listen !== undefined) Object.assign(c.rpc, parseListen(d.rpc.listen));
    for (const [key, field] of RPC_KEYS) {
      const v = (d.rpc as Record<string, unknown>)[key] as number | undefined;
      if (v !== undefined) c.rpc[field] = v;
    }
  }
  if (d.p2p) {
    if (d.p2p.listen !== undefined) Object.assign(c.p2p, parseListen(d.p2p.listen));
    c.p2p.persistentPeers = pick(d.p2p.persistent_peers, c.p2p.persistentPeers);
    c.p2p.allowPeers = pick(d.p2p.allow_peers, c.p2p.allowPeers);
    for (const [key, field] of P2P_KEYS) {
      const v = (d.p2p as Record<string, unknown>)[key] as number | undefined;
      if (v !== undefined) c.p2p[field] = v;
    }
    for (const name of PROTOCOLS) {
      const t = d.p2p.limits?.[name] as Record<string, number | undefined> | undefined;
      for (const [key, , set] of LIMIT_KEYS) if (t?.[key] !== undefined) set(c.p2p.limits[name], t[key]);
    }
    const sc = d.p2p.score;
    if (sc) {
      c.p2p.score.decayHalfLifeMs = pick(sc.decay_half_life_ms, c.p2p.score.decayHalfLifeMs);
      c.p2p.score.disconnectThreshold = pick(sc.disconnect_threshold, c.p2p.score.disconnectThreshold);
      c.p2p.score.banThreshold = pick(sc.ban_threshold, c.p2p.score.banThreshold);
      c.p2p.score.banDurationMs = pick(sc.ban_duration_ms, c.p2p.score.banDurationMs);
      for (const r of PENALTIES) {
        const v = (sc.penalties as Record<string, number | undefined> | undefined)?.[r];
        if (v !== undefined) c.p2p.score.penalties[r] = v;
      }
    }
    const m = d.p2p.memory;
    if (m) {
      c.p2p.memory.shedSyncPercent = pick(m.shed_sync_percent, c.p2p.memory.shedSyncPercent);
      c.p2p.memory.shedInboundPercent = pick(m.shed_inbound_percent, c.p2p.memory.shedInboundPercent);
      c.p2p.memory.hysteresisPercent = pick(m.hysteresis_percent, c.p2p.memory.hysteresisPercent);
      c.p2p.memory.checkIntervalMs = pick(m.check_interval_ms, c.p2p.memory.checkIntervalMs);
    }
    const y = d.p2p.sync;
    if (y) {
      c.p2p.sync.blocksPerRequest = pick(y.blocks_per_request, c.p2p.sync.blocksPerRequest);
      c.p2p.sync.maxInflightRequests = pick(y.max_inflight_requests, c.p2p.sync.maxInflightRequests);
      c.p2p.sync.requestTimeoutMs = pick(y.request_timeout_ms, c.p2p.sync.requestTimeoutMs);
      c.p2p.sync.behindThreshold = pick(y.behind_threshold, c.p2p.sync.behindThreshold);
    }
  }
  if (d.metrics) {
    c.metrics.enabled = pick(d.metrics.enabled, c.metrics.enabled);
    if (d.metrics.listen !== undefined) Object.assign(c.metrics, parseListen(d.metrics.listen));
  }
  if (d.consensus) {
    c.consensus.blockTimeMs = pick<number | null>(d.consensus.block_time_ms, c.consensus.blockTimeMs);
    for (const [key, field] of TIMEOUT_OVERRIDES) {
      const v = (d.consensus as Record<string, number | undefined>)[key];
      if (v !== undefined) c.consensus.timeouts[field] = v;
    }
  }
  if (d.vm) {
    c.vm.debugLog = pick(d.vm.debug_log, c.vm.debugLog);
    c.vm.moduleCacheSize = pick(d.vm.module_cache_size, c.vm.moduleCacheSize);
  }
  if (d.mempool) {
    const m = d.mempool;
    c.mempool.maxTxs = pick(m.max_txs, c.mempool.maxTxs);
    c.mempool.maxBytes = pick(m.max_bytes, c.mempool.maxBytes);
    c.mempool.maxTxBytes = pick(m.max_tx_bytes, c.mempool.maxTxBytes);
    c.mempool.maxNonceGap = pick(m.max_nonce_gap, c.mempool.maxNonceGap);
    if (m.min_fee !== undefined) c.mempool.minFee = BigInt(m.min_fee as string);
    if (m.min_gas_price !== undefined) c.mempool.minGasPrice = BigInt(m.min_gas_price as string);
    c.mempool.replaceFeeBumpPercent = pick(m.replace_fee_bump_percent, c.mempool.replaceFeeBumpPercent);
  }
  return c;
}

const str = (s: string) => JSON.stringify(s);

/** config.toml text for `config`, every key written and commented; parseConfig reads it back equal. */
export function formatConfig(config: NodeConfig): string {
  const c = config;
  const blockTime = c.consensus.blockTimeMs === null
    ? `# block_time_ms = 1000`
    : `block_time_ms = ${c.consensus.blockTimeMs}`;
  return `# Hallmark node configuration. Every key is optional; unknown keys are errors.
# Reference: docs/config.md. Addresses are "host:port"; port 0 picks a free port.

[log]
# debug, info, warn, error or silent
level = ${str(c.logLevel)}
# text (for people) or json (one object per line)
format = ${str(c.logFormat)}

[rpc]
# JSON-RPC 2.0 over HTTP. Keep it on 127.0.0.1 unless a proxy guards it.
listen = ${str(formatListen(c.rpc.host, c.rpc.port))}
${RPC_KEYS.map(([key, field, , comment]) => `# ${comment}\n${key} = ${c.rpc[field]}`).join('\n')}

[p2p]
# libp2p over TCP with Noise and Yamux. Reference for every key below: docs/operator.md
listen = ${str(formatListen(c.p2p.host, c.p2p.port))}
# Peers to stay connected to, redialled with backoff and never pruned: /ip4/HOST/tcp/PORT/p2p/PEER_ID
persistent_peers = [${c.p2p.persistentPeers.map(str).join(', ')}]
# More peer ids to protect (never pruned, banned or capped)
allow_peers = [${c.p2p.allowPeers.map(str).join(', ')}]
${P2P_KEYS.map(([key, field]) => `${key} = ${c.p2p[field]}`).join('\n')}
${PROTOCOLS.map((name) => `
[p2p.limits.${name}]
${LIMIT_KEYS.map(([key, get]) => `${key} = ${get(c.p2p.limits[name])}`).join('\n')}`).join('\n')}

[p2p.score]
# Penalties fade: a score halves toward 0 every decay_half_life_ms
decay_half_life_ms = ${c.p2p.score.decayHalfLifeMs}
disconnect_threshold = ${c.p2p.score.disconnectThreshold}
ban_threshold = ${c.p2p.score.banThreshold}
ban_duration_ms = ${c.p2p.score.banDurationMs}

[p2p.score.penalties]
${PENALTIES.map((r) => `${r} = ${c.p2p.score.penalties[r]}`).join('\n')}

[p2p.memory]
# Heap use (percent of the V8 heap limit) at which the node stops serving block sync, then refuses new inbound connections
shed_sync_percent = ${c.p2p.memory.shedSyncPercent}
shed_inbound_percent = ${c.p2p.memory.shedInboundPercent}
hysteresis_percent = ${c.p2p.memory.hysteresisPercent}
check_interval_ms = ${c.p2p.memory.checkIntervalMs}

[p2p.sync]
blocks_per_request = ${c.p2p.sync.blocksPerRequest}
max_inflight_requests = ${c.p2p.sync.maxInflightRequests}
request_timeout_ms = ${c.p2p.sync.requestTimeoutMs}
# Heights behind the best peer at which the node leaves consensus to block-sync at once
behind_threshold = ${c.p2p.sync.behindThreshold}

[metrics]
# Prometheus metrics at http://<listen>/metrics
enabled = ${c.metrics.enabled}
listen = ${str(formatListen(c.metrics.host, c.metrics.port))}

[consensus]
# Pause after each commit, in ms; without it, genesis consensus_params.timeouts.commit_ms applies
${blockTime}
# Round timeouts, overriding genesis consensus_params.timeouts for this node only (absent: genesis):
${TIMEOUT_OVERRIDES.map(([key, field]) => (c.consensus.timeouts[field] === undefined ? `# ${key} = ` : `${key} = ${c.consensus.timeouts[field]}`)).join('\n')}

[mempool]
# Most transactions held at once
max_txs = ${c.mempool.maxTxs}
# Most bytes held at once (sum of the transactions' sizes)
max_bytes = ${c.mempool.maxBytes}
# Largest single transaction accepted
max_tx_bytes = ${c.mempool.maxTxBytes}
# A transaction's nonce may be at most this far ahead of its account's
max_nonce_gap = ${c.mempool.maxNonceGap}
# Lowest fee admitted, in base units (a decimal string)
min_fee = ${str(c.mempool.minFee.toString())}
# Lowest gas price admitted (fee / gas limit, base units per gas; a decimal string); genesis
# consensus_params.fees.min_gas_price applies whatever this says, so only a higher value matters
min_gas_price = ${str(c.mempool.minGasPrice.toString())}
# A same-nonce replacement must pay at least this many percent more
replace_fee_bump_percent = ${c.mempool.replaceFeeBumpPercent}

[vm]
# Print contracts' debug_log lines to the node log (debug level); they never affect consensus
debug_log = ${c.vm.debugLog}
# Compiled contract modules kept in memory
module_cache_size = ${c.vm.moduleCacheSize}
`;
}

/**
 * The config of a home directory: `config.toml`, or `config.json` (the same keys in JSON) if that is
 * the one present; the defaults if neither is. Both present is an error: which one applies would be
 * a guess.
 */
export async function loadConfig(home: string): Promise<NodeConfig> {
  const tomlPath = join(home, CONFIG_FILE);
  const jsonPath = join(home, 'config.json');
  const [tomlText, jsonText] = await Promise.all([readIfExists(tomlPath), readIfExists(jsonPath)]);
  if (tomlText !== null && jsonText !== null) {
    throw new ConfigError(jsonPath, [`both ${CONFIG_FILE} and config.json exist; keep one`]);
  }
  if (tomlText !== null) return parseConfig(tomlText, tomlPath);
  if (jsonText !== null) {
    const read = jsonDocument(jsonText);
    if ('problems' in read) throw new ConfigError(jsonPath, read.problems);
    return configFromDocument(read.doc, jsonPath);
  }
  return defaultConfig();
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError(path, [`cannot read: ${(err as Error).message}`]);
  }
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
    Object.freeze(v);
  }
  return v;
}
