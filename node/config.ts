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
import {
  boolean, field, formatListen, formatTables, integer, listenKey, oneOf, readTables, tablesSchema, within, type ConfigKey, type ConfigTable,
} from '../chain/config-keys.ts';
import { CodedError } from '../chain/errors.ts';
import { jsonDocument, problemLines, schemaProblems } from '../chain/schema-problems.ts';
import { MAX_TIMEOUT_MS } from '../genesis/schema.ts';
import { checkConfig, DEFAULT_MEMPOOL_CONFIG, MEMPOOL_TABLES, mempoolConfigProblems, type MempoolConfig } from '../mempool/config.ts';
import { DEFAULT_RPC_SERVER_OPTIONS, RPC_TABLES, type RpcServerConfig } from '../rpc/config.ts';
import { DEFAULT_P2P_CONFIG, P2P_TABLES, p2pConfigProblems, type P2PConfig } from '../p2p/config.ts';

export { formatListen };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFormat = 'text' | 'json';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
/** The parts of the node that log under their own `module`, each of which may have its own level, and what they log. */
const LOG_MODULE_DOCS = {
  consensus: 'the consensus driver: rounds, proposals, votes, decisions, halts',
  p2p: 'peers, connections and gossip (and block sync, unless `blocksync` has its own level)',
  blocksync: 'catching up with the network by block sync',
  statesync: 'joining the network by state snapshot (`[sync] mode = "snapshot"`)',
  rpc: 'the JSON-RPC server',
} as const;
export type LogModule = keyof typeof LOG_MODULE_DOCS;

export interface NodeConfig {
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Levels of single modules, over logLevel. */
  logModules: Partial<Record<LogModule, LogLevel>>;
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
    /** Worker threads verifying Groth16 proofs; 0 verifies on the node's own thread; null: one per core. */
    verifierThreads: number | null;
  };
  execution: {
    /** Worker threads verifying transaction signatures; 0 verifies on the node's own thread; null: one per core. */
    signatureThreads: number | null;
  };
  sync: SyncSettings;
  snapshot: {
    /** Take a state snapshot at every height that is a multiple of this; 0 takes none. */
    interval: number;
    /** Snapshots kept, the newest. */
    keep: number;
  };
}

/** How an empty node catches up with the network ([sync]). */
export interface SyncSettings {
  /** 'block' replays every block from genesis; 'snapshot' restores a recent state snapshot first. */
  mode: 'block' | 'snapshot';
  /** Peers that must offer the same snapshot before it is used. */
  minPeers: number;
  /** How long to collect snapshot offers. */
  discoveryMs: number;
  /** Snapshot chunks fetched at once, over all peers. */
  chunkFetchers: number;
  /** A chunk request gives up after this long (the peer is penalised and the chunk asked elsewhere). */
  chunkTimeoutMs: number;
}

export const SYNC_MODES: readonly SyncSettings['mode'][] = ['block', 'snapshot'];

export const CONFIG_FILE = 'config.toml';

export type TimeoutOverride = 'proposeMs' | 'proposeDeltaMs' | 'prevoteMs' | 'prevoteDeltaMs' | 'precommitMs' | 'precommitDeltaMs';
/** [consensus] keys that override the genesis round timeouts, named as in genesis.json: key, field, what it is. */
const TIMEOUT_OVERRIDES: readonly (readonly [string, TimeoutOverride, string])[] = [
  ['propose_ms', 'proposeMs', "this node's propose timeout in round 0"],
  ['propose_delta_ms', 'proposeDeltaMs', 'added to the propose timeout in each later round'],
  ['prevote_ms', 'prevoteMs', "this node's prevote timeout in round 0"],
  ['prevote_delta_ms', 'prevoteDeltaMs', 'added to the prevote timeout in each later round'],
  ['precommit_ms', 'precommitMs', "this node's precommit timeout in round 0"],
  ['precommit_delta_ms', 'precommitDeltaMs', 'added to the precommit timeout in each later round'],
];

export const DEFAULT_CONFIG: Readonly<NodeConfig> = deepFreeze({
  logLevel: 'info',
  logFormat: 'text',
  logModules: {},
  rpc: { ...DEFAULT_RPC_SERVER_OPTIONS },
  p2p: structuredClone(DEFAULT_P2P_CONFIG) as P2PConfig,
  metrics: { enabled: true, host: '127.0.0.1', port: 26660 },
  consensus: { blockTimeMs: null, timeouts: {} },
  mempool: { ...DEFAULT_MEMPOOL_CONFIG },
  vm: { debugLog: false, moduleCacheSize: 64, verifierThreads: null },
  execution: { signatureThreads: null },
  sync: { mode: 'block', minPeers: 1, discoveryMs: 5_000, chunkFetchers: 4, chunkTimeoutMs: 30_000 },
  snapshot: { interval: 1_000, keep: 2 },
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

// ---- the keys --------------------------------------------------------------------------------------

const nodeKey = field<NodeConfig>();
const metricsKey = field<NodeConfig['metrics']>();
const vmKey = field<NodeConfig['vm']>();
const syncKey = field<SyncSettings>();
const snapshotKey = field<NodeConfig['snapshot']>();
const timeout = integer(0, MAX_TIMEOUT_MS);

/** Every table of config.toml, in the order the written file has them. */
export const CONFIG_TABLES: readonly ConfigTable<NodeConfig>[] = [
  {
    name: 'log',
    of: (c) => c,
    keys: [
      nodeKey('level', 'logLevel', oneOf(LOG_LEVELS), 'lines below this level are not written'),
      nodeKey('format', 'logFormat', oneOf(LOG_FORMATS), '`text` for people, `json` for machines (one object per line)'),
    ],
  },
  {
    name: 'log.modules',
    doc: "a part's own level, over [log] level (e.g. consensus = \"debug\"); a part left out logs at the level of the part it belongs to",
    of: (c) => c.logModules,
    keys: (Object.keys(LOG_MODULE_DOCS) as LogModule[]).map((m) => field<NodeConfig['logModules']>()(m, m, oneOf(LOG_LEVELS), LOG_MODULE_DOCS[m])),
  },
  ...within(RPC_TABLES, (c: NodeConfig) => c.rpc),
  ...within(P2P_TABLES, (c: NodeConfig) => c.p2p),
  {
    name: 'metrics',
    doc: 'Prometheus metrics at http://<listen>/metrics',
    of: (c) => c.metrics,
    keys: [metricsKey('enabled', 'enabled', boolean, 'serve metrics'), listenKey('metrics address (`/metrics`)')],
  },
  {
    name: 'consensus',
    of: (c) => c.consensus,
    keys: [
      field<NodeConfig['consensus']>()('block_time_ms', 'blockTimeMs', timeout,
        'pause after each commit before the next height; absent: the genesis `consensus_params.timeouts.commit_ms`'),
      ...TIMEOUT_OVERRIDES.map(([name, f, what]): ConfigKey<NodeConfig['consensus']> => ({
        name, kind: timeout, doc: `${what}; absent: the genesis value of the same name`,
        get: (s) => s.timeouts[f], set: (s, v: number) => { s.timeouts[f] = v; },
      })),
    ],
  },
  ...within(MEMPOOL_TABLES, (c: NodeConfig) => c.mempool),
  {
    name: 'vm',
    of: (c) => c.vm,
    keys: [
      vmKey('debug_log', 'debugLog', boolean, "print contracts' `debug_log` lines to the node log at debug level; they never affect consensus"),
      vmKey('module_cache_size', 'moduleCacheSize', integer(1, 100_000), 'compiled contract modules kept in memory, least recently used dropped first'),
      vmKey('verifier_threads', 'verifierThreads', integer(0, 64),
        'worker threads that verify Groth16 proofs (docs/zk.md); `0` verifies on the node\'s own thread, blocking it ~3–9 ms a proof; absent: one per core'),
    ],
  },
  {
    name: 'execution',
    of: (c) => c.execution,
    keys: [
      field<NodeConfig['execution']>()('signature_threads', 'signatureThreads', integer(0, 64),
        "worker threads that verify the signatures of a block's transactions and of admissions that arrive together; `0` verifies on the node's own thread; absent: one per core"),
    ],
  },
  {
    name: 'sync',
    doc: 'how an empty node catches up with the network (docs/operator.md, "Joining by snapshot")',
    of: (c) => c.sync,
    keys: [
      syncKey('mode', 'mode', oneOf(SYNC_MODES), '`block` replays every block from genesis; `snapshot` restores a recent state snapshot proven against the validators, then block-syncs from it (`hallmark start --sync snapshot`)'),
      syncKey('min_peers', 'minPeers', integer(1, 64), 'peers that must offer the same snapshot before it is used'),
      syncKey('discovery_ms', 'discoveryMs', integer(100, 600_000), 'how long to collect snapshot offers (less once every persistent peer answered)'),
      syncKey('chunk_fetchers', 'chunkFetchers', integer(1, 64), 'snapshot chunks fetched at once, over all peers'),
      syncKey('chunk_timeout_ms', 'chunkTimeoutMs', integer(100, 600_000), 'a chunk request gives up after this long; the peer is penalised and the chunk asked of another'),
    ],
  },
  {
    name: 'snapshot',
    doc: 'the state snapshots this node takes and serves to nodes that join by snapshot',
    of: (c) => c.snapshot,
    keys: [
      snapshotKey('interval', 'interval', integer(0, 1_000_000_000), 'take a snapshot at every height that is a multiple of this; `0` takes none (and serves none)'),
      snapshotKey('keep', 'keep', integer(1, 100), 'snapshots kept under data/snapshots, the newest'),
    ],
  },
];

const configSchema = tablesSchema(CONFIG_TABLES);

function crossFieldProblems(c: NodeConfig): string[] {
  const out = [...mempoolConfigProblems(c.mempool), ...p2pConfigProblems(c.p2p)];
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
  return configFromDocument(doc, file);
}

/** The same checks for an already-parsed document (config.json, or a table built in code). */
export function configFromDocument(doc: unknown, file: string): NodeConfig {
  const result = configSchema.safeParse(doc, { reportInput: true });
  if (!result.success) throw new ConfigError(file, problemLines(schemaProblems(configSchema, result.error.issues, 'toml')));
  const config = defaultConfig();
  readTables(CONFIG_TABLES, result.data, config);
  const problems = crossFieldProblems(config);
  if (problems.length > 0) throw new ConfigError(file, problems);
  checkConfig(config.mempool);
  return config;
}

/** config.toml text for `config`, every key written with its line of doc; parseConfig reads it back equal. */
export function formatConfig(config: NodeConfig): string {
  return `# Hallmark node configuration. Every key is optional; unknown keys are errors.
# Reference: docs/config.md. Addresses are "host:port"; port 0 picks a free port.

${formatTables(CONFIG_TABLES, config)}
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
