/**
 * The `hallmark` command line (bin/hallmark.js runs it). Human output by default, one JSON document
 * with `--json`. A mistake — a bad option, a missing home, no node at the RPC address, an RPC error —
 * is one line on stderr, `error: <what to fix>`, and exit status 1; never a stack trace
 * (HALLMARK_DEBUG=1 adds one, for bugs).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { addressOf, AddressError, formatAddress, parseAddress } from '../chain/address.ts';
import { toHex } from '../chain/bytes.ts';
import { U64_MAX } from '../chain/codec.ts';
import { CodedError } from '../chain/errors.ts';
import { encodeSignedTransaction, signTransaction, type Payload, type Transaction } from '../chain/tx.ts';
import { AbiError, decodeValues, encodeValues, formatValue, parseCliValue } from '../vm/abi.ts';
import { contractAddress } from '../execution/contracts.ts';
import { intrinsicGas } from '../execution/transaction.ts';
import { LOG_FORMATS, LOG_LEVELS, loadConfig, type LogFormat, type LogLevel, type NodeConfig } from '../node/config.ts';
import { initHome, isInitialized, loadHome, resolveHome } from './home.ts';
import { addKey, FAUCET_KEY, getKey, hasKey, KEY_NAME, listKeys, showKey, type KeyInfo } from './keystore.ts';
import { createLogger } from '../node/log.ts';
import {
  DEFAULT_TESTNET_BASE_PORT, DEFAULT_TESTNET_CHAIN_ID, MAX_TESTNET_VALIDATORS, NODE_LOG_FILE, PORT_STRIDE, startTestnet, TESTNET_FILE,
  TestnetError, writeTestnet, type RunningTestnet,
} from './testnet.ts';

export const DEFAULT_RPC_URL = 'http://127.0.0.1:26657';
/** Gas limit of contract deploys and calls unless --gas-limit says otherwise (a transfer's is exact). */
export const DEFAULT_CONTRACT_GAS = 20_000_000;
/** How long a halted `start` waits for the node to close before it exits anyway. */
const HALT_CLOSE_TIMEOUT_MS = 10_000;
/** The client gives up on a request after this long (a committed-wait broadcast included). */
const RPC_CLIENT_TIMEOUT_MS = 120_000;

export class CliError extends CodedError<'usage' | 'rpc_error' | 'no_node' | 'rpc_unreachable' | 'tx_failed'> {}

interface GlobalOptions {
  home?: string;
  /** `testnet --dir`, seen by `testnet start` when written before it. */
  dir?: string;
  rpc?: string;
  json?: boolean;
}

export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
}

// ---- JSON-RPC client ---------------------------------------------------------------------------

export class RpcClient {
  readonly url: string;
  #id = 0;

  constructor(url: string) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new CliError('usage', `--rpc: not a URL: ${JSON.stringify(url)} (expected e.g. ${DEFAULT_RPC_URL})`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CliError('usage', `--rpc: expected an http:// or https:// URL, got ${JSON.stringify(url)}`);
    this.url = url;
  }

  async call<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.#id;
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
        signal: AbortSignal.timeout(RPC_CLIENT_TIMEOUT_MS),
      });
    } catch (err) {
      throw connectionError(this.url, err);
    }
    const text = await res.text().catch(() => '');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CliError('rpc_error', `${this.url} answered HTTP ${res.status} without JSON-RPC (is --rpc a Hallmark node?)`);
    }
    const b = body as { result?: unknown; error?: { code?: unknown; message?: unknown } };
    if (b && typeof b === 'object' && b.error && typeof b.error === 'object') {
      throw new CliError('rpc_error', typeof b.error.message === 'string' ? b.error.message : `RPC error ${String(b.error.code)}`);
    }
    if (!b || typeof b !== 'object' || !('result' in b)) {
      throw new CliError('rpc_error', `${this.url} answered HTTP ${res.status} without a JSON-RPC result (is --rpc a Hallmark node?)`);
    }
    return b.result as T;
  }
}

function connectionError(url: string, err: unknown): CliError {
  const e = err as { name?: string; cause?: { code?: string; errors?: { code?: string }[]; message?: string } };
  if (e.name === 'TimeoutError') return new CliError('rpc_unreachable', `${url} did not answer within ${RPC_CLIENT_TIMEOUT_MS / 1000} s`);
  const code = e.cause?.code ?? e.cause?.errors?.[0]?.code;
  if (code === 'ECONNREFUSED') return new CliError('no_node', `no node at ${url}: is it running? (start one with npm start)`);
  return new CliError('rpc_unreachable', `cannot reach ${url}: ${code ?? e.cause?.message ?? (err as Error).message}`);
}

// ---- helpers ---------------------------------------------------------------------------------------

function parseU64(text: string, what: string): bigint {
  if (!/^(?:0|[1-9][0-9]*)$/.test(text)) throw new CliError('usage', `${what}: expected a whole number of base units, got ${JSON.stringify(text)}`);
  const v = BigInt(text);
  if (v > U64_MAX) throw new CliError('usage', `${what}: exceeds 2^64-1`);
  return v;
}

function parseSafeInt(text: string, what: string): number {
  if (!/^(?:0|[1-9][0-9]*)$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new CliError('usage', `${what}: expected a non-negative whole number, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** An hm1… address, or the name of a key in the home's key store. */
async function resolveAddress(home: string, text: string, what: string): Promise<string> {
  if (text.toLowerCase().startsWith('hm1')) {
    try {
      return formatAddress(parseAddress(text));
    } catch (err) {
      if (err instanceof AddressError) throw new CliError('usage', `${what}: ${err.message}`);
      throw err;
    }
  }
  if (KEY_NAME.test(text) && await hasKey(home, text)) return (await showKey(home, text)).address;
  throw new CliError('usage', `${what}: ${JSON.stringify(text)} is neither an hm1… address nor a key in ${home}/keys (hallmark keys list shows them)`);
}

function hostForClient(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** The RPC URL a client should use for a node configured with `config`. */
export function rpcUrlOf(config: NodeConfig): string {
  return config.rpc.port === 0 ? DEFAULT_RPC_URL : `http://${hostForClient(config.rpc.host)}:${config.rpc.port}`;
}

/** Aligned `label  value` lines; undefined values are left out, null shows as '-'. */
function rows(pairs: [string, unknown][], indent = ''): string {
  const shown = pairs.filter(([, v]) => v !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v === null ? '-' : String(v)}\n`).join('');
}

function keyJson(k: KeyInfo): Record<string, string> {
  return { name: k.name, address: k.address, public_key: toHex(k.publicKey) };
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? v as Obj : {});

function receiptFailed(receipt: unknown): string | null {
  if (!receipt || typeof receipt !== 'object') return null;
  const r = receipt as Obj;
  const failed = (typeof r.code === 'number' && r.code !== 0) || (r.status !== undefined && r.status !== 'ok' && r.status !== 0);
  if (!failed) return null;
  return typeof r.error === 'string' && r.error !== '' ? r.error : `status ${String(r.status ?? r.code)}`;
}

// ---- the program -----------------------------------------------------------------------------------

export function buildProgram(io: CliIo): Command {
  const out = (s: string) => io.stdout.write(s);
  const program = new Command('hallmark')
    .description('Hallmark validator node: init a home, run the node, manage keys, query and send transactions')
    .option('--home <dir>', 'home directory (default: $HALLMARK_HOME or ~/.hallmark)')
    .option('--rpc <url>', `node JSON-RPC URL (default: the home's rpc.listen, else ${DEFAULT_RPC_URL})`)
    .option('--json', 'print one JSON document instead of text')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
  const homeOf = (cmd: Command) => resolveHome(globals(cmd).home, io.env);
  const print = (cmd: Command, json: unknown, text: () => string) => {
    out(globals(cmd).json ? `${JSON.stringify(json, null, 2)}\n` : text());
  };
  const rpcOf = async (cmd: Command): Promise<RpcClient> => {
    const g = globals(cmd);
    if (g.rpc !== undefined) return new RpcClient(g.rpc);
    return new RpcClient(rpcUrlOf(await loadConfig(homeOf(cmd))));
  };

  program.command('init')
    .description('write a new single-validator devnet home: config, genesis, validator and faucet keys')
    .option('--chain-id <id>', 'chain id', 'hallmark-devnet')
    .option('--force', 'replace an existing home (deletes its data/)')
    .action(async (opts: { chainId: string; force?: boolean }, cmd: Command) => {
      const home = homeOf(cmd);
      const r = await initHome(home, { chainId: opts.chainId, force: opts.force });
      print(cmd, {
        home, chain_id: r.chainId, validator_address: r.validatorAddress, faucet_address: r.faucetAddress,
        faucet_balance: r.genesis.accounts[0]!.balance.toString(), config: r.paths.config, genesis: r.paths.genesis,
      }, () => `initialized ${home} (chain ${r.chainId})\n` + rows([
        ['validator', r.validatorAddress],
        ['faucet', `${r.faucetAddress} (funded with ${r.genesis.accounts[0]!.balance})`],
      ], '  ') + `start the node with: hallmark --home ${home} start\n`);
    });

  program.command('start')
    .description('run the node (initializes the home first if it does not exist)')
    .addOption(new Option('--log-level <level>', 'override [log] level').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'override [log] format').choices(LOG_FORMATS))
    .action(async (opts: { logLevel?: LogLevel; logFormat?: LogFormat }, cmd: Command) => {
      const home = homeOf(cmd);
      let initialized: Awaited<ReturnType<typeof initHome>> | null = null;
      if (!await isInitialized(home)) initialized = await initHome(home);
      const loaded = await loadHome(home);
      const log = createLogger({
        level: opts.logLevel ?? loaded.config.logLevel,
        format: opts.logFormat ?? loaded.config.logFormat,
        modules: loaded.config.logModules,
      });
      if (initialized) {
        log.info('no home found: initialized a new devnet home', { home, chain_id: initialized.chainId, faucet: initialized.faucetAddress });
      }
      // Loaded here, not at the top: the other commands start faster without the node's modules.
      const { startNode } = await import('../node/node.ts');
      const running = await startNode({ home, config: loaded.config, genesis: loaded.genesis, validatorKey: loaded.validatorKey, log });
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          log.warn('second signal: exiting now', { signal });
          process.exit(signal === 'SIGINT' ? 130 : 143);
        }
        stopping = true;
        log.info('shutting down', { signal });
        running.close().then(() => process.exit(0), (err: unknown) => {
          log.error('shutdown failed', { error: err });
          process.exit(1);
        });
      };
      // A node that cannot go on closes what it can and exits 1, for a supervisor to restart it: the
      // restarted node replays its WAL and block store. A close that hangs on a failed disk is not waited for.
      const fail = (msg: string, fields: Record<string, unknown>) => {
        log.error(msg, fields);
        if (stopping) return;
        stopping = true;
        setTimeout(() => process.exit(1), HALT_CLOSE_TIMEOUT_MS).unref();
        running.close().finally(() => process.exit(1));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      void running.halted.then((err) => fail('exiting with status 1: consensus halted', { reason: err.message }));
      // Last resort: every known path contains its errors; one that escapes is a bug, logged with its stack.
      process.on('uncaughtException', (err) => fail('exiting with status 1: uncaught exception', { reason: err.message, error: err }));
      process.on('unhandledRejection', (err) => fail('exiting with status 1: unhandled promise rejection', { reason: (err as Error)?.message ?? String(err), error: err }));
    });

  // `testnet` writes a network; `testnet start` (a subcommand) runs one. Commander checks required
  // options up the command chain, so --validators and --dir are checked here rather than declared required.
  const testnet = program.command('testnet')
    .description('write a local N-validator network (testnet start runs it)')
    .option('--validators <n>', `number of validators, 1-${MAX_TESTNET_VALIDATORS}`)
    .option('--dir <dir>', 'directory to write it in (one home per node: DIR/node0, DIR/node1, ...)')
    .option('--chain-id <id>', 'chain id', DEFAULT_TESTNET_CHAIN_ID)
    .option('--base-port <port>', `node i listens on base+${PORT_STRIDE}i (p2p), +1 (RPC), +2 (metrics)`, String(DEFAULT_TESTNET_BASE_PORT))
    .option('--force', 'replace the testnet already in DIR (its testnet.json and node*/ directories)')
    .allowExcessArguments(true)
    .action(async (opts: { validators?: string; dir?: string; chainId: string; basePort: string; force?: boolean }, cmd: Command) => {
      if (cmd.args.length > 0) throw new CliError('usage', `testnet: unknown command ${JSON.stringify(cmd.args[0])} (did you mean "testnet start"?)`);
      if (opts.validators === undefined) throw new CliError('usage', '--validators <n> is required (e.g. hallmark testnet --validators 4 --dir /tmp/tn)');
      if (opts.dir === undefined) throw new CliError('usage', '--dir <dir> is required (e.g. hallmark testnet --validators 4 --dir /tmp/tn)');
      const layout = await writeTestnet({
        dir: resolveHome(opts.dir, io.env), validators: parseSafeInt(opts.validators, '--validators'), chainId: opts.chainId,
        basePort: parseSafeInt(opts.basePort, '--base-port'), force: opts.force,
      });
      print(cmd, {
        dir: layout.dir, chain_id: layout.chainId, faucet_address: layout.faucetAddress, testnet_file: join(layout.dir, TESTNET_FILE),
        nodes: layout.nodes.map((n) => ({
          name: n.name, home: n.home, validator_address: n.validatorAddress, peer_id: n.peerId,
          p2p: n.p2pMultiaddr, rpc: n.rpcUrl, metrics: n.metricsUrl, log: n.logPath,
        })),
      }, () => `wrote a ${layout.nodes.length}-validator testnet in ${layout.dir} (chain ${layout.chainId})\n`
        + rows(layout.nodes.map((n) => [n.name, `rpc ${n.rpcUrl}  p2p ${n.p2pPort}  metrics ${n.metricsPort}  validator ${n.validatorAddress}`]), '  ')
        + `  faucet  ${layout.faucetAddress} (keys/faucet.json in every node's home)\n`
        + `start it with: hallmark testnet start --dir ${layout.dir}\n`);
    });

  testnet.command('start')
    .description("run every node of DIR's testnet as its own process until Ctrl-C (logs in DIR/node*/node.log)")
    .option('--dir <dir>', 'the directory hallmark testnet wrote')
    .addOption(new Option('--log-level <level>', "override each node's [log] level").choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', "override each node's [log] format").choices(LOG_FORMATS))
    .action(async (opts: { dir?: string; logLevel?: LogLevel; logFormat?: LogFormat }, cmd: Command) => {
      const dirText = opts.dir ?? globals(cmd).dir;
      if (dirText === undefined) throw new CliError('usage', '--dir <dir> is required (e.g. hallmark testnet start --dir /tmp/tn)');
      const nodeArgs = [...(opts.logLevel ? ['--log-level', opts.logLevel] : []), ...(opts.logFormat ? ['--log-format', opts.logFormat] : [])];
      const err = (s: string) => io.stderr.write(s);
      // Handlers first: a Ctrl-C while the nodes are being spawned must still stop them.
      let tn: RunningTestnet | null = null;
      let signalled: NodeJS.Signals | null = null;
      let onSignal: (s: NodeJS.Signals) => void = () => {};
      const gotSignal = new Promise<NodeJS.Signals>((r) => {
        onSignal = (s) => {
          if (signalled !== null) {
            err(`second ${s}: killing the nodes\n`);
            tn?.kill();
            return;
          }
          signalled = s;
          r(s);
        };
      });
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        let allGone: () => void = () => {};
        const allExited = new Promise<null>((r) => (allGone = () => r(null)));
        tn = await startTestnet({
          dir: resolveHome(dirText, io.env), nodeArgs, env: io.env,
          onExit: (e) => {
            const log = tn?.nodes.find((n) => n.name === e.name)?.logPath ?? `its ${NODE_LOG_FILE}`;
            err(`${e.name} (pid ${e.pid}) exited with ${e.signal ? `signal ${e.signal}` : `code ${e.code}`}; see ${log}\n`);
            if (tn && tn.running() === 0) allGone();
          },
        });
        const running = tn;
        print(cmd, {
          dir: running.layout.dir, chain_id: running.layout.chainId,
          nodes: running.nodes.map((n) => ({ name: n.name, pid: n.pid, rpc: n.rpcUrl, log: n.logPath })),
        }, () => `started ${running.nodes.length} nodes of ${running.layout.chainId} (Ctrl-C stops them)\n`
          + rows(running.nodes.map((n) => [n.name, `pid ${n.pid}  rpc ${n.rpcUrl}  log ${n.logPath}`]), '  '));
        // Nodes that died before `tn` was set.
        if (running.running() === 0) allGone();
        const why = await Promise.race([gotSignal, allExited]);
        if (why === null) {
          throw new TestnetError('testnet_exited', `every node of the testnet exited; see the logs in ${running.layout.dir}/node*/${NODE_LOG_FILE}`);
        }
        err(`${why}: stopping ${running.running()} nodes\n`);
        const exits = await running.stop();
        for (const e of exits.filter((x) => x.stopped && x.code !== 0)) {
          err(`${e.name} did not exit cleanly (${e.signal ? `signal ${e.signal}` : `code ${e.code}`}); see ${join(running.layout.dir, e.name, NODE_LOG_FILE)}\n`);
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  const keys = program.command('keys').description('named keys in <home>/keys');
  keys.command('add <name>')
    .description('generate a new key')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const k = await addKey(homeOf(cmd), name);
      print(cmd, keyJson(k), () => `added key ${k.name}\n` + rows([['address', k.address], ['public key', toHex(k.publicKey)]], '  '));
    });
  keys.command('list')
    .description('list the keys')
    .action(async (_opts: unknown, cmd: Command) => {
      const all = await listKeys(homeOf(cmd));
      print(cmd, all.map(keyJson), () => all.length === 0 ? 'no keys (hallmark init or hallmark keys add NAME makes some)\n'
        : rows(all.map((k) => [k.name, k.address])));
    });
  keys.command('show <name>')
    .description('show a key (address and public key; never the secret)')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const k = await showKey(homeOf(cmd), name);
      print(cmd, keyJson(k), () => rows([['name', k.name], ['address', k.address], ['public key', toHex(k.publicKey)]]));
    });

  program.command('status')
    .description("the node's chain, height and latest block")
    .action(async (_opts: unknown, cmd: Command) => {
      const s = obj(await (await rpcOf(cmd)).call('chain_status'));
      print(cmd, s, () => rows([
        ['chain id', s.chain_id], ['node id', s.node_id], ['validator', s.validator_address],
        ['height', s.latest_height], ['block hash', s.latest_block_hash], ['block time', s.latest_block_time],
        ['state root', s.latest_state_root], ['catching up', s.catching_up ? 'yes' : 'no'],
      ]));
    });

  program.command('account <address>')
    .description('balance and nonce of an address or of a named key')
    .action(async (who: string, _opts: unknown, cmd: Command) => {
      const address = await resolveAddress(homeOf(cmd), who, 'account');
      const a = obj(await (await rpcOf(cmd)).call('state_getAccount', { address }));
      print(cmd, a, () => rows([['address', a.address], ['balance', a.balance], ['nonce', a.nonce], ['height', a.height]]));
    });

  program.command('block [height]')
    .description('a block by height or hash (default: the latest)')
    .action(async (which: string | undefined, _opts: unknown, cmd: Command) => {
      const params = which === undefined ? {}
        : /^[0-9a-fA-F]{64}$/.test(which) ? { hash: which.toLowerCase() }
        : { height: parseSafeInt(which, 'height') };
      const b = obj(await (await rpcOf(cmd)).call('chain_getBlock', params));
      const h = obj(b.header);
      const txs = Array.isArray(b.txs) ? b.txs.map(obj) : [];
      print(cmd, b, () => rows([
        ['height', h.height], ['hash', b.hash], ['chain id', h.chain_id], ['time', h.time], ['proposer', h.proposer],
        ['txs', txs.length],
      ]) + txs.map((t) => `  ${String(t.hash)}\n`).join(''));
    });

  const tx = program.command('tx').description('transactions');
  tx.command('show <hash>')
    .description('a committed transaction and its receipt')
    .action(async (hash: string, _opts: unknown, cmd: Command) => {
      if (!/^(?:0x)?[0-9a-fA-F]{64}$/.test(hash)) throw new CliError('usage', `hash: expected 64 hex characters, got ${JSON.stringify(hash)}`);
      const r = obj(await (await rpcOf(cmd)).call('tx_get', { hash: hash.replace(/^0x/, '').toLowerCase() }));
      const t = obj(r.tx);
      const p = obj(t.payload);
      const rc = obj(r.receipt);
      print(cmd, r, () => rows([
        ['hash', r.hash], ['height', r.height], ['index', r.index], ['sender', t.sender], ['nonce', t.nonce], ['fee', t.fee],
        ['type', p.type], ['to', p.to], ['amount', p.amount], ['contract', p.contract], ['method', p.method], ['code hash', p.code_hash],
        ['value', p.value], ['status', rc.status], ['gas used', rc.gas_used], ['error', rc.error],
        ['return', p.type === 'call' ? returnText(rc.return_data) : undefined],
      ]) + eventsText(rc.events));
    });
  sendOptions(tx.command('transfer')
    .description('send base units from a key in the key store')
    .requiredOption('--to <address>', 'recipient: an hm1… address or a key name')
    .requiredOption('--amount <n>', 'base units to send'), 'exactly what a transfer uses')
    .action(async (opts: SendOpts & { to: string; amount: string }, cmd: Command) => {
      const amount = parseU64(opts.amount, '--amount');
      const to = parseAddress(await resolveAddress(homeOf(cmd), opts.to, '--to'));
      const { r, signed, nonce } = await send(cmd, opts, { kind: 'transfer', to, amount });
      print(cmd, r, () => rows([['hash', r.hash ?? toHex(signed.hash)], ['status', r.status], ['height', r.height], ['nonce', nonce]]));
      const failure = receiptFailed(r.receipt);
      if (failure) throw new CliError('tx_failed', `transaction ${String(r.hash)} was committed but failed: ${failure}`);
    });

  /**
   * Signs `payload` with the --from key and broadcasts it. The nonce is looked up unless given;
   * without --gas-limit a transfer declares exactly the gas it uses and a contract transaction
   * DEFAULT_CONTRACT_GAS; without --fee the fee is the gas limit times the node's minimum gas price.
   */
  async function send(cmd: Command, opts: SendOpts, payload: Payload) {
    const givenFee = opts.fee === undefined ? null : parseU64(opts.fee, '--fee');
    const givenGas = opts.gasLimit === undefined ? null : parseSafeInt(opts.gasLimit, '--gas-limit');
    const given = opts.nonce === undefined ? null : parseSafeInt(opts.nonce, '--nonce');
    const key = await getKey(homeOf(cmd), opts.from);
    const rpc = await rpcOf(cmd);
    const status = obj(await rpc.call('chain_status'));
    if (typeof status.chain_id !== 'string') throw new CliError('rpc_error', 'chain_status returned no chain_id');
    const params = obj(await rpc.call('chain_getParams'));
    if (typeof params.admission_min_gas_price !== 'string') throw new CliError('rpc_error', 'chain_getParams returned no admission_min_gas_price');
    const price = BigInt(params.admission_min_gas_price);
    let nonce = given;
    if (nonce === null) {
      const acct = obj(await rpc.call('state_getAccount', { address: formatAddress(addressOf(key.publicKey)) }));
      nonce = parseSafeInt(String(acct.nonce ?? 0), 'account nonce');
    }
    const base = { chainId: status.chain_id, sender: key.publicKey, nonce, payload };
    const priced = (gasLimit: number): Transaction => ({ ...base, gasLimit, fee: givenFee ?? BigInt(gasLimit) * price });
    const t = priced(givenGas ?? (payload.kind === 'transfer' ? exactTransferGas(priced) : DEFAULT_CONTRACT_GAS));
    const signed = signTransaction(t, key.secretKey);
    key.secretKey.fill(0);
    const r = obj(await rpc.call('tx_broadcast', { tx: toHex(signed.bytes), wait: opts.wait ? 'committed' : 'checked' }));
    return { r, signed, nonce, sender: addressOf(t.sender) };
  }

  const contract = program.command('contract').description('deploy, call and query WebAssembly contracts (docs/contracts.md)');
  sendOptions(contract.command('deploy <file> [args...]')
    .description('deploy a module; ARGS go to its init: 42 is a u64, true/false a bool, hm1… an address, 0x… bytes, anything else a string; ' +
      'u64:, bool:, addr: (an address or a key name), bytes: and str: pick the type'), String(DEFAULT_CONTRACT_GAS))
    .action(async (file: string, args: string[], opts: SendOpts, cmd: Command) => {
      let code: Uint8Array;
      try {
        code = new Uint8Array(await readFile(file));
      } catch (err) {
        throw new CliError('usage', `cannot read ${file}: ${(err as Error).message}`);
      }
      const { r, signed, nonce, sender } = await send(cmd, opts, { kind: 'deploy', code, args: await abiArgs(homeOf(cmd), args) });
      const address = formatAddress(contractAddress(sender, nonce));
      printOutcome(cmd, { ...r, address }, [['address', address], ['hash', r.hash ?? toHex(signed.hash)]], false);
    });
  sendOptions(contract.command('call <address> <method> [args...]')
    .description('call a contract method in a transaction; ARGS as for deploy')
    .option('--value <n>', 'base units sent with the call', '0'), String(DEFAULT_CONTRACT_GAS))
    .action(async (address: string, method: string, args: string[], opts: SendOpts & { value: string }, cmd: Command) => {
      const to = parseAddress(await resolveAddress(homeOf(cmd), address, 'address'));
      const value = parseU64(opts.value, '--value');
      const { r, signed } = await send(cmd, opts, { kind: 'call', contract: to, method, args: await abiArgs(homeOf(cmd), args), value });
      printOutcome(cmd, r, [['hash', r.hash ?? toHex(signed.hash)]], true);
    });
  contract.command('query <address> <method> [args...]')
    .description('run a contract method read-only on the latest state (nothing is written, no fee)')
    .option('--gas-limit <n>', 'gas limit (at most the node\'s cap)')
    .option('--caller <address>', 'the caller the method sees')
    .action(async (address: string, method: string, args: string[], opts: { gasLimit?: string; caller?: string }, cmd: Command) => {
      const home = homeOf(cmd);
      const params: Obj = { address: await resolveAddress(home, address, 'address'), method, args: toHex(await abiArgs(home, args)) };
      if (opts.gasLimit !== undefined) params.gas_limit = parseSafeInt(opts.gasLimit, '--gas-limit');
      if (opts.caller !== undefined) params.caller = await resolveAddress(home, opts.caller, '--caller');
      const r = obj(await (await rpcOf(cmd)).call('contract_query', params));
      print(cmd, r, () => rows([['ok', r.ok], ['gas used', r.gas_used], ['error', r.error], ['return', returnText(r.return_data)]]) + eventsText(r.events));
      if (r.ok !== true) throw new CliError('tx_failed', `the query failed: ${String(r.error)}`);
    });
  contract.command('code <address>')
    .description('a deployed contract: code hash, creator, methods; --out writes the module to a file')
    .option('--out <file>', 'write the module here')
    .action(async (address: string, opts: { out?: string }, cmd: Command) => {
      const r = obj(await (await rpcOf(cmd)).call('contract_getCode', { address: await resolveAddress(homeOf(cmd), address, 'address') }));
      if (opts.out !== undefined) await writeFile(opts.out, Buffer.from(String(r.code), 'hex'));
      print(cmd, r, () => rows([
        ['address', r.address], ['code hash', r.code_hash], ['size', r.size], ['creator', r.creator],
        ['methods', Array.isArray(r.methods) ? r.methods.join(', ') : ''], ['written to', opts.out],
      ]));
    });

  /** A committed deploy or call: status, gas, return value and events; exits 1 if it failed. */
  function printOutcome(cmd: Command, r: Obj, head: [string, unknown][], showReturn: boolean): void {
    const rc = obj(r.receipt);
    print(cmd, r, () => rows([
      ...head, ['status', r.receipt === undefined ? r.status : rc.status], ['height', r.height], ['gas used', rc.gas_used],
      ['error', rc.error], ['return', showReturn && rc.status === 'ok' ? returnText(rc.return_data) : undefined],
    ]) + eventsText(rc.events));
    const failure = receiptFailed(r.receipt);
    if (failure) throw new CliError('tx_failed', `transaction ${String(r.hash)} was committed but failed: ${failure}`);
  }

  return program;
}

/** The options of every command that signs and sends a transaction. */
function sendOptions(c: Command, defaultGas: string): Command {
  return c
    .option('--fee <n>', "fee in base units (default: the gas limit times the node's minimum gas price; unused gas is not refunded)")
    .option('--from <name>', 'key that signs and pays', FAUCET_KEY)
    .option('--nonce <n>', "sender nonce (default: the account's next nonce)")
    .option('--gas-limit <n>', `gas limit, at most the chain's max_gas (default: ${defaultGas})`)
    .option('--no-wait', 'return once the mempool admits it instead of waiting for the commit');
}

interface SendOpts {
  fee?: string;
  from: string;
  nonce?: string;
  gasLimit?: string;
  wait: boolean;
}

/**
 * The gas a transfer uses is its intrinsic gas, which depends on its encoded size, which depends
 * on the gas limit and fee it declares: iterate to the fixed point (sizes settle in a step or two).
 */
function exactTransferGas(priced: (gasLimit: number) => Transaction): number {
  let gas = 0;
  for (let i = 0; i < 8; i++) {
    const tx = priced(gas);
    const need = intrinsicGas(encodeSignedTransaction({ tx, signature: new Uint8Array(64) }).length, tx.payload);
    if (need <= gas) return gas;
    gas = need;
  }
  return gas;
}

/** CLI arguments in the contract ABI; `addr:NAME` names a key in the key store. */
async function abiArgs(home: string, args: readonly string[]): Promise<Uint8Array> {
  const resolved: string[] = [];
  for (const a of args) {
    resolved.push(a.startsWith('addr:') && !a.slice(5).toLowerCase().startsWith('hm1') ? `addr:${await resolveAddress(home, a.slice(5), a)}` : a);
  }
  try {
    return encodeValues(resolved.map(parseCliValue));
  } catch (err) {
    if (err instanceof AbiError) throw new CliError('usage', err.message);
    throw err;
  }
}

/** Return data as ABI values when it decodes as such, else as hex. */
function returnText(hex: unknown): string {
  if (typeof hex !== 'string' || hex === '') return '-';
  const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
  try {
    return decodeValues(bytes).map(formatValue).join(' ');
  } catch {
    return `0x${hex}`;
  }
}

function eventsText(events: unknown): string {
  if (!Array.isArray(events) || events.length === 0) return '';
  return 'events\n' + events.map((e) => {
    const ev = obj(e);
    const attrs = Array.isArray(ev.attributes) ? ev.attributes.map(obj).map((a) => `${String(a.key)}=${String(a.value)}`) : [];
    return `  ${String(ev.type)} ${attrs.join(' ')}\n`;
  }).join('');
}

/** Runs the CLI; resolves to the exit status (a running `start` keeps the process alive). */
export async function runCli(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has already printed its own one-line message (or the help).
    if (err instanceof CommanderError) return err.exitCode;
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`error: ${message.split('\n').join('; ')}\n`);
    if (io.env.HALLMARK_DEBUG && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
