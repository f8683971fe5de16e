/**
 * node/config.ts (config.toml: defaults, round trip, every mistake named by its key) and
 * node/log.ts (the two line formats, levels, child fields).
 */
import t from 'tap';
import { clockOffsetFromEnv, systemClock } from '../node/clock.ts';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import {
  CONFIG_TABLES, ConfigError, DEFAULT_CONFIG, defaultConfig, formatConfig, loadConfig, parseConfig, type NodeConfig,
} from '../node/config.ts';
import { CONFIG_DOC, renderConfigDoc } from '../node/config-doc.ts';
import { createLogger } from '../node/log.ts';

function problemsOf(toml: string): string[] {
  try {
    parseConfig(toml, 'test.toml');
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error(`no ConfigError for:\n${toml}`);
}

t.test('an empty file and the written default file both give the defaults', async (t) => {
  t.same(parseConfig(''), DEFAULT_CONFIG);
  const text = formatConfig(defaultConfig());
  t.same(parseConfig(text), DEFAULT_CONFIG);
  t.match(text, /^listen = "127\.0\.0\.1:26657"$/m);
  t.match(text, /^listen = "127\.0\.0\.1:26656"$/m);
  t.match(text, /^listen = "127\.0\.0\.1:26660"$/m);
  t.match(text, /^# block_time_ms = /m, 'a null block time is written as a comment');
  t.equal(DEFAULT_CONFIG.rpc.maxBodyBytes, 1024 * 1024);
  t.equal(DEFAULT_CONFIG.rpc.maxBatch, 100);
  t.equal(DEFAULT_CONFIG.rpc.maxConcurrent, 64);
  t.equal(DEFAULT_CONFIG.rpc.timeoutMs, 10_000);
  t.same(
    [DEFAULT_CONFIG.rpc.maxConcurrentPerIp, DEFAULT_CONFIG.rpc.maxConnections, DEFAULT_CONFIG.rpc.maxConnectionsPerIp],
    [16, 256, 32], 'no one client takes every request slot or connection',
  );
  t.same(
    [DEFAULT_CONFIG.rpc.headerTimeoutMs, DEFAULT_CONFIG.rpc.bodyTimeoutMs, DEFAULT_CONFIG.rpc.sendTimeoutMs, DEFAULT_CONFIG.rpc.keepAliveTimeoutMs],
    [5_000, 10_000, 10_000, 5_000], 'every wait on a client has a deadline',
  );
  t.match(text, /^max_connections_per_ip = 32$/m, 'the written file has the new keys');
  t.match(text, /^keep_alive_timeout_ms = 5000$/m);
  t.equal(DEFAULT_CONFIG.consensus.blockTimeMs, null);
  t.ok(Object.isFrozen(DEFAULT_CONFIG.rpc), 'the defaults cannot be changed by accident');
});

t.test('every value survives formatConfig -> parseConfig', async (t) => {
  const c: NodeConfig = {
    logLevel: 'debug',
    logFormat: 'json',
    logModules: { consensus: 'debug', blocksync: 'warn' },
    rpc: {
      host: '::1', port: 0, maxBodyBytes: 2048, maxBatch: 7, maxConcurrent: 3, maxConcurrentPerIp: 2, maxConnections: 11, maxConnectionsPerIp: 5,
      timeoutMs: 1, headerTimeoutMs: 2, bodyTimeoutMs: 3, sendTimeoutMs: 4, keepAliveTimeoutMs: 2_147_483_647,
    },
    p2p: {
      ...structuredClone(DEFAULT_CONFIG.p2p),
      host: '0.0.0.0', port: 30000,
      persistentPeers: ['/ip4/10.0.0.1/tcp/26656/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN', '/dns4/node.example/tcp/26656/p2p/12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMTBFL48b6'],
      allowPeers: ['12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMTBFL48b6'],
      maxConnections: 9, maxConnectionsPerIp: 2, rebroadcastMs: 333,
      limits: {
        ...structuredClone(DEFAULT_CONFIG.p2p.limits),
        txs: { messages: { perSecond: 3, burst: 4 }, bytes: { perSecond: 5000, burst: 6000 }, maxStreams: 1, maxMessageBytes: 6000 },
      },
      score: { ...structuredClone(DEFAULT_CONFIG.p2p.score), banThreshold: -7, disconnectThreshold: -3, penalties: { ...DEFAULT_CONFIG.p2p.score.penalties, rate_limited: 0 } },
      memory: { shedSyncPercent: 50, shedInboundPercent: 60, hysteresisPercent: 2, checkIntervalMs: 100 },
      sync: { blocksPerRequest: 7, maxInflightRequests: 3, requestTimeoutMs: 1234, behindThreshold: 5 },
    },
    metrics: { enabled: false, host: 'localhost', port: 9100 },
    consensus: { blockTimeMs: 250, timeouts: { proposeMs: 1500, precommitDeltaMs: 0 } },
    mempool: { maxTxs: 10, maxBytes: 100_000, maxTxBytes: 1000, maxNonceGap: 2, minFee: 18_446_744_073_709_551_615n, minGasPrice: 7n, replaceFeeBumpPercent: 0 },
    vm: { debugLog: true, moduleCacheSize: 3, verifierThreads: 1 },
    execution: { signatureThreads: 0 },
    sync: { mode: 'snapshot', minPeers: 3, discoveryMs: 1500, chunkFetchers: 6, chunkTimeoutMs: 2500 },
    snapshot: { interval: 0, keep: 5 },
  };
  const text = formatConfig(c);
  t.match(text, /listen = "\[::1\]:0"/);
  t.same(parseConfig(text), c);
});

t.test('a partial file keeps the defaults for what it leaves out', async (t) => {
  const c = parseConfig('[rpc]\nmax_batch = 5\nmax_connections_per_ip = 4\nbody_timeout_ms = 300\n[mempool]\nmin_fee = "25"\n');
  t.equal(c.rpc.maxBatch, 5);
  t.same([c.rpc.maxConnectionsPerIp, c.rpc.bodyTimeoutMs], [4, 300]);
  t.same([c.rpc.maxConnections, c.rpc.headerTimeoutMs, c.rpc.keepAliveTimeoutMs], [256, 5_000, 5_000], 'the other [rpc] keys keep their defaults');
  t.equal(c.rpc.port, 26657);
  t.equal(c.mempool.minFee, 25n);
  t.equal(c.mempool.maxTxs, DEFAULT_CONFIG.mempool.maxTxs);
  t.equal(parseConfig('[mempool]\nmin_fee = 7\n').mempool.minFee, 7n, 'an integer fee is accepted too');
  t.equal(parseConfig('[mempool]\nmin_gas_price = "3"\n').mempool.minGasPrice, 3n);
  t.equal(c.mempool.minGasPrice, 0n, 'no node gas price floor by default: the genesis one applies');
  t.equal(parseConfig('[consensus]\nblock_time_ms = 0\n').consensus.blockTimeMs, 0);
  t.equal(c.execution.signatureThreads, null, 'signature threads: one per core unless set');
  t.equal(parseConfig('[execution]\nsignature_threads = 0\n').execution.signatureThreads, 0);
});

t.test('unknown sections and keys are errors naming them, with a hint', async (t) => {
  t.same(problemsOf('[rcp]\nport = 1\n'), ['rcp: unknown section (did you mean "rpc"?)']);
  t.same(problemsOf('[rpc]\nmax_bach = 3\n'), ['rpc.max_bach: unknown key (did you mean "max_batch"?)']);
  t.match(problemsOf('[rpc]\nport = 26657\n')[0], /^rpc\.port: unknown key \(expected one of listen, max_body_bytes/);
  t.match(problemsOf('verbose = true\n')[0], /^verbose: unknown section/);
  t.same(problemsOf('[mempool.extra]\nx = 1\n'), ['mempool.extra: unknown key (expected one of max_txs, max_bytes, max_tx_bytes, max_nonce_gap, min_fee, min_gas_price, replace_fee_bump_percent)']);
});

t.test('each wrong type or value names its key and what is expected', async (t) => {
  const cases: [string, RegExp][] = [
    ['[log]\nlevel = "loud"', /^log\.level: must be one of "debug", "info", "warn", "error", "silent", got "loud"$/],
    ['[log]\nformat = 1', /^log\.format: expected a string, got number 1$/],
    ['[rpc]\nmax_batch = "3"', /^rpc\.max_batch: expected an integer, got string "3"$/],
    ['[rpc]\nmax_batch = 1.5', /^rpc\.max_batch: expected an integer, got number 1\.5$/],
    ['[rpc]\nmax_concurrent = 0', /^rpc\.max_concurrent: must be at least 1$/],
    ['[rpc]\ntimeout_ms = -5', /^rpc\.timeout_ms: must be at least 1$/],
    ['[rpc]\ntimeout_ms = 2147483648', /^rpc\.timeout_ms: must be at most 2147483647$/],
    ['[rpc]\nmax_connections_per_ip = 0', /^rpc\.max_connections_per_ip: must be at least 1$/],
    ['[rpc]\nmax_concurrent_per_ip = 2.5', /^rpc\.max_concurrent_per_ip: expected an integer, got number 2\.5$/],
    ['[rpc]\nheader_timeout_ms = "5s"', /^rpc\.header_timeout_ms: expected an integer, got string "5s"$/],
    ['[rpc]\nkeep_alive_timeout_ms = 99999999999', /^rpc\.keep_alive_timeout_ms: must be at most 2147483647$/],
    ['[rpc]\nsend_timeout_ms = 0', /^rpc\.send_timeout_ms: must be at least 1$/],
    ['[rpc]\nmax_conections = 5', /^rpc\.max_conections: unknown key \(did you mean "max_connections"\?\)$/],
    ['[rpc]\nmax_body_bytes = 99999999999999999999', /^rpc\.max_body_bytes: must be at most 9007199254740991, got 99999999999999999999$/],
    ['rpc = 5', /^rpc: expected a table, got number 5$/],
    ['[p2p]\npersistent_peers = "a:1"', /^p2p\.persistent_peers: expected an array, got string "a:1"$/],
    ['[p2p]\npersistent_peers = ["/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN", "127.0.0.1:26656"]', /^p2p\.persistent_peers\[1\]: must be a multiaddr such as/],
    ['[p2p]\nallow_peers = ["not a peer id"]', /^p2p\.allow_peers\[0\]: must be a peer id/],
    ['[p2p.limits.txs]\nmessages_per_s = 0', /^p2p\.limits\.txs\.messages_per_s: must be at least 1/],
    ['[p2p.limits.nope]\nmessages_per_s = 1', /^p2p\.limits\.nope: unknown key/],
    ['[p2p.limits.consensus]\nbytes_burst = 10', /^p2p\.limits\.consensus\.bytes_burst: must be at least max_message_bytes/],
    ['[p2p.score]\nban_threshold = -10\ndisconnect_threshold = -20', /^p2p\.score\.ban_threshold: must be below/],
    ['[p2p.score]\ndisconnect_threshold = 5', /^p2p\.score\.disconnect_threshold: must be at most -1/],
    ['[p2p.memory]\nshed_sync_percent = 90\nshed_inbound_percent = 80', /^p2p\.memory\.shed_sync_percent: must not exceed/],
    ['[p2p.sync]\nblocks_per_request = 1000', /^p2p\.sync\.blocks_per_request: must be at most 100/],
    ['[metrics]\nenabled = "yes"', /^metrics\.enabled: expected true or false, got string "yes"$/],
    ['[consensus]\nblock_time_ms = 600001', /^consensus\.block_time_ms: must be at most 600000$/],
    ['[consensus]\nblock_time_ms = 2026-01-01', /^consensus\.block_time_ms: expected an integer, got a date$/],
    ['[consensus]\ncreate_empty_blocks = true', /^consensus\.create_empty_blocks: unknown key/],
    ['[mempool]\nmin_fee = "1.5"', /^mempool\.min_fee: must be a whole number of base units/],
    ['[mempool]\nmin_fee = -1', /^mempool\.min_fee: must be a whole number of base units/],
    ['[mempool]\nmin_fee = "18446744073709551616"', /^mempool\.min_fee: exceeds 2\^64-1$/],
    ['[mempool]\nmin_fee = true', /^mempool\.min_fee: expected a whole number in a string/],
    ['[mempool]\nmax_tx_bytes = 100000000', /^mempool\.max_tx_bytes: must not exceed mempool\.max_bytes \(33554432\)$/],
    ['[execution]\nsignature_threads = 65', /^execution\.signature_threads: must be at most 64$/],
    ['[execution]\nsignature_threads = -1', /^execution\.signature_threads: must be at least 0$/],
  ];
  for (const [toml, want] of cases) {
    const problems = problemsOf(toml);
    t.equal(problems.length, 1, toml);
    t.match(problems[0], want, toml);
  }
});

t.test('listen addresses and ports', async (t) => {
  const cases: [string, RegExp][] = [
    ['[rpc]\nlisten = "127.0.0.1:70000"', /^rpc\.listen: port 70000 is out of range \(0-65535\)$/],
    ['[rpc]\nlisten = "127.0.0.1:-1"', /^rpc\.listen: must be "host:port"/],
    ['[p2p]\nlisten = "127.0.0.1"', /^p2p\.listen: must be "host:port"/],
    ['[p2p]\nlisten = ":26656"', /^p2p\.listen: must be "host:port"/],
    ['[metrics]\nlisten = "localhost:http"', /^metrics\.listen: must be "host:port"/],
    ['[metrics]\nlisten = 26660', /^metrics\.listen: expected a string, got number 26660$/],
    ['[p2p]\nlisten = "127.0.0.1:26657"', /^p2p\.listen: same address as rpc\.listen \(127\.0\.0\.1:26657\)$/],
  ];
  for (const [toml, want] of cases) {
    const problems = problemsOf(toml);
    t.equal(problems.length, 1, toml);
    t.match(problems[0], want, toml);
  }
  const c = parseConfig('[rpc]\nlisten = "[::]:0"\n[p2p]\nlisten = "0.0.0.0:0"\n[metrics]\nenabled = false\nlisten = "127.0.0.1:26657"\n');
  t.same([c.rpc.host, c.rpc.port, c.p2p.host, c.p2p.port], ['::', 0, '0.0.0.0', 0], 'port 0 (any free port) twice is not a clash');
  t.equal(c.metrics.port, 26657, 'a disabled metrics server may share an address');
});

t.test('all problems are listed at once, in one line that names the file', async (t) => {
  const err = t.throws(() => parseConfig('[rpc]\nmax_batch = 0\nlisten = "x"\n[p2p]\nprot = 1\n', '/etc/hallmark/config.toml')) as ConfigError;
  t.equal(err.code, 'config_invalid');
  t.equal(err.problems.length, 3);
  t.notMatch(err.message, /\n/);
  t.match(err.message, /^\/etc\/hallmark\/config\.toml: /);
  for (const key of ['rpc.listen', 'rpc.max_batch', 'p2p.prot']) t.match(err.message, key);
});

t.test('TOML syntax errors give the line and column', async (t) => {
  const problems = problemsOf('[rpc]\nmax_batch = = 3\n');
  t.equal(problems.length, 1);
  t.match(problems[0], /^line 2, column \d+: not valid TOML: /);
  t.notMatch(problems[0], /\n/);
  t.match(problemsOf('[rpc]\n[rpc]\n')[0], /^line 2/, 'a repeated table');
});

t.test('loadConfig: config.toml, config.json, neither, both', async (t) => {
  const dir = t.testdir({ a: {}, b: {}, c: {}, d: {}, e: {} });
  t.same(await loadConfig(join(dir, 'a')), DEFAULT_CONFIG, 'no file: defaults');

  writeFileSync(join(dir, 'b', 'config.toml'), '[rpc]\nlisten = "127.0.0.1:4000"\n');
  t.equal((await loadConfig(join(dir, 'b'))).rpc.port, 4000);

  writeFileSync(join(dir, 'c', 'config.json'), JSON.stringify({ rpc: { listen: '127.0.0.1:5000' }, mempool: { min_fee: '3' } }));
  const c = await loadConfig(join(dir, 'c'));
  t.equal(c.rpc.port, 5000);
  t.equal(c.mempool.minFee, 3n);

  writeFileSync(join(dir, 'd', 'config.toml'), '');
  writeFileSync(join(dir, 'd', 'config.json'), '{}');
  await t.rejects(loadConfig(join(dir, 'd')), { code: 'config_invalid', message: /both config\.toml and config\.json exist/ });

  rmSync(join(dir, 'd', 'config.toml'));
  writeFileSync(join(dir, 'd', 'config.json'), '{"rpc": {"max_batch": 5, "max_batch": 6}}');
  await t.rejects(loadConfig(join(dir, 'd')), { message: `${join(dir, 'd', 'config.json')}: rpc.max_batch: appears twice (only one may be given)` });

  writeFileSync(join(dir, 'e', 'config.toml'), '[rpc]\nmax_batch = "many"\n');
  await t.rejects(loadConfig(join(dir, 'e')), { message: `${join(dir, 'e', 'config.toml')}: rpc.max_batch: expected an integer, got string "many"` });
});

t.test('docs/config.md has the tables the key declarations make (regenerate: npx node node/config-doc.ts --write)', async (t) => {
  const doc = readFileSync(CONFIG_DOC, 'utf8');
  t.equal(renderConfigDoc(doc), doc, 'every table in docs/config.md is the generated one');
  t.match(doc, /^\| `max_batch` \| integer ≥ 1 \| `100` \| most calls in one batch request \|$/m, 'a row: key, type, default, doc line');
  t.match(doc, /^\| `max_tx_bytes` \| integer ≥ 1 \| `327680` \(320 KiB\) \|/m, 'byte counts also in KiB or MiB');
  t.match(doc, /^\| `block_time_ms` \| integer 0–600000 \| absent \|/m, 'a key without a default');
  const stale = doc.replace('| most calls in one batch request |', '| something else |');
  t.equal(renderConfigDoc(stale), doc, 'an edited row is made anew');
  t.throws(() => renderConfigDoc(doc.replace('<!-- keys p2p.sync -->', '<!-- keys p2p.synk -->')), /<!-- keys p2p\.synk --> names no table/);
  t.throws(() => renderConfigDoc(doc.replace(/<!-- keys vm -->[^]*?<!-- \/keys -->/, '')), /no <!-- keys NAME --> region for \[vm\]/);
});

t.test('the written file has each declared key once, under its table, with its doc line above it', async (t) => {
  const lines = formatConfig(defaultConfig()).split('\n');
  let table = '';
  const seen: string[] = [];
  for (const [i, line] of lines.entries()) {
    const header = /^\[([a-z0-9_.]+)\]$/.exec(line);
    if (header) table = header[1]!;
    const key = /^(?:# )?([a-z0-9_]+) = /.exec(line);
    if (key) seen.push(`${table}.${key[1]}`);
    if (key) t.equal(lines[i - 1], `# ${CONFIG_TABLES.find((x) => x.name === table)!.keys.find((k) => k.name === key[1])!.doc}`, `${table}.${key[1]}: its doc line`);
  }
  t.same(seen, CONFIG_TABLES.flatMap((x) => x.keys.map((k) => `${x.name}.${k.name}`)));
});

// ---- logger --------------------------------------------------------------------------------------

type Level = 'debug' | 'info' | 'warn' | 'error' | 'silent';

function capture(level: Level, format: 'text' | 'json', modules?: Partial<Record<string, Level>>) {
  const lines: string[] = [];
  const log = createLogger({ level, format, modules, stream: { write: (s: string) => lines.push(s) }, now: () => Date.UTC(2026, 10, 23, 10) });
  return { log, lines };
}

t.test('text lines: time, level, message, key=value fields; an error\'s stack follows, indented', async (t) => {
  const { log, lines } = capture('info', 'text');
  log.info('committed block', { height: 5, txs: 3, hash: Uint8Array.from({ length: 32 }, (_, i) => i) });
  log.warn('peer said', { text: 'two words', empty: '', big: 2n ** 70n, short: Uint8Array.of(0xab, 0x12), skip: undefined, none: null });
  log.info('multi\nline', { nested: { a: 1n, b: [Uint8Array.of(1)] } });
  t.same(lines, [
    '2026-11-23T10:00:00.000Z INFO: committed block height=5 txs=3 hash=000102030405…\n',
    '2026-11-23T10:00:00.000Z WARN: peer said text="two words" empty="" big=1180591620717411303424 short=ab12 none=null\n',
    '2026-11-23T10:00:00.000Z INFO: multi\\nline nested={"a":"1","b":["01"]}\n',
  ]);
  lines.length = 0;
  const err = Object.assign(new Error('disk full', { cause: new Error('ENOSPC') }), { code: 'io' });
  log.error('failed', { error: err, height: 7 });
  const [first, ...rest] = lines.join('').trimEnd().split('\n');
  t.equal(first, '2026-11-23T10:00:00.000Z ERROR: failed error="io: disk full" height=7', 'one line first');
  t.equal(rest[0], '    Error: disk full', 'then the stack');
  t.match(rest[1], /^ {8}at /);
  t.ok(rest.includes('    caused by: Error: ENOSPC'), "then the cause's stack");
});

t.test('json lines: one object per line, full hex, bigints as strings', async (t) => {
  const { log, lines } = capture('debug', 'json');
  const hash = Uint8Array.from({ length: 32 }, (_, i) => i);
  log.child({ module: 'consensus' }).debug('multi\nline', { hash, amount: 10n ** 20n, msg: 'clash', time: 1, level: 2 });
  t.equal(lines.length, 1);
  t.ok(lines[0]!.endsWith('}\n'));
  t.same(JSON.parse(lines[0]!), {
    time: '2026-11-23T10:00:00.000Z', level: 'debug', msg: 'multi\nline', module: 'consensus',
    hash: Buffer.from(hash).toString('hex'), amount: '100000000000000000000', field_msg: 'clash', field_time: 1, field_level: 2,
  });
  t.equal(lines[0]!.match(/"msg":/g)?.length, 1, 'no key written twice');
});

t.test('json: an error is logged with its stack, code and cause, and the cause with its own stack', async (t) => {
  const { log, lines } = capture('info', 'json');
  const io = Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' });
  const halt = new Error('could not apply the decided block at height 3: IO error: No space left on device', { cause: io });
  log.child({ module: 'consensus' }).error('consensus halted', { height: 3, error: halt });
  const line = JSON.parse(lines[0]!);
  t.match(line, {
    level: 'error', msg: 'consensus halted', module: 'consensus', height: 3,
    error: {
      type: 'Error', message: halt.message, stack: /^Error: could not apply the decided block at height 3[^]*\n\s+at /,
      cause: { type: 'Error', message: io.message, code: 'LEVEL_IO_ERROR', stack: /^Error: IO error: No space left on device\n\s+at / },
    },
  });
  t.not(line.error.stack, line.error.cause.stack, 'two stacks: where it was thrown and where its cause was');
});

t.test('levels filter, and children add and override fields', async (t) => {
  const { log, lines } = capture('warn', 'text');
  log.debug('no');
  log.info('no');
  log.warn('yes');
  const child = log.child({ module: 'rpc', peer: 'a' }).child({ peer: 'b' });
  child.error('boom', { peer: 'c' });
  child.error('bang');
  t.same(lines.map((l) => l.slice(25).trimEnd()), ['WARN: yes', 'ERROR: boom module=rpc peer=c', 'ERROR: bang module=rpc peer=b']);
  const silent = capture('silent', 'json');
  silent.log.error('nothing');
  t.same(silent.lines, []);
  t.throws(() => createLogger({ level: 'loud' as 'info', format: 'text' }), RangeError);
  t.throws(() => createLogger({ level: 'info', format: 'xml' as 'text' }), RangeError);
  t.throws(() => createLogger({ level: 'info', format: 'text', modules: { consensus: 'loud' as 'info' } }), /log level of consensus: expected one of/);
});

t.test('a module with a level of its own logs at it; other children at their parent\'s', async (t) => {
  const { log, lines } = capture('info', 'json', { consensus: 'debug', p2p: 'warn' });
  const consensus = log.child({ module: 'consensus' });
  const p2p = log.child({ module: 'p2p' });
  log.debug('root debug');
  consensus.debug('consensus debug');
  consensus.child({ height: 4 }).debug('consensus child debug');
  p2p.info('p2p info');
  p2p.warn('p2p warn');
  p2p.child({ module: 'blocksync' }).info('blocksync info (p2p level: warn)');
  log.child({ module: 'rpc' }).info('rpc info (root level)');
  t.same(lines.map((l) => JSON.parse(l).msg), ['consensus debug', 'consensus child debug', 'p2p warn', 'rpc info (root level)']);

  const own = capture('info', 'json', { p2p: 'warn', blocksync: 'debug' });
  own.log.child({ module: 'p2p' }).child({ module: 'blocksync' }).debug('blocksync debug');
  t.same(own.lines.map((l) => JSON.parse(l).msg), ['blocksync debug'], 'a module inside another takes its own level');

  const quiet = capture('silent', 'json', { consensus: 'error' });
  quiet.log.error('root error');
  quiet.log.child({ module: 'consensus' }).error('consensus error');
  t.same(quiet.lines.map((l) => JSON.parse(l).msg), ['consensus error'], 'a module may log while the rest is silent');
});

t.test('[log.modules] in config.toml', async (t) => {
  const c = parseConfig('[log]\nlevel = "warn"\n[log.modules]\nconsensus = "debug"\nrpc = "silent"\n');
  t.same([c.logLevel, c.logModules], ['warn', { consensus: 'debug', rpc: 'silent' }]);
  t.same(DEFAULT_CONFIG.logModules, {}, 'no module has its own level by default');
  t.same(problemsOf('[log.modules]\nconsensu = "debug"\n'), ['log.modules.consensu: unknown key (did you mean "consensus"?)']);
  t.match(problemsOf('[log.modules]\np2p = "verbose"\n')[0], /^log\.modules\.p2p: must be one of "debug", "info", "warn", "error", "silent", got "verbose"$/);
  t.match(formatConfig(defaultConfig()), /^\[log\.modules\]\n#[^\n]*\n\n# [^\n]*\n# consensus = $/m, 'the written file has each module commented out');
});

t.test('HALLMARK_CLOCK_OFFSET_MS shifts the node clock port, and a malformed value is an error', async (t) => {
  t.equal(clockOffsetFromEnv({}), 0);
  t.equal(clockOffsetFromEnv({ HALLMARK_CLOCK_OFFSET_MS: '-10000' }), -10_000);
  t.equal(clockOffsetFromEnv({ HALLMARK_CLOCK_OFFSET_MS: ' 2500 ' }), 2500);
  t.throws(() => clockOffsetFromEnv({ HALLMARK_CLOCK_OFFSET_MS: '10s' }), /HALLMARK_CLOCK_OFFSET_MS: expected a whole number of milliseconds, got "10s"/);
  const clock = systemClock(60_000);
  const before = Date.now();
  const read = clock();
  const after = Date.now();
  t.ok(read >= before + 60_000 && read <= after + 60_000, 'the clock reads the system time plus the offset');
});
