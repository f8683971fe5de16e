/**
 * A local multi-validator network: `hallmark testnet` writes it, `hallmark testnet start` runs it.
 *
 *   DIR/testnet.json        what was written: chain, faucet, and per node its home, peer id,
 *                           validator address and addresses (paths relative to DIR)
 *   DIR/node<i>/            a full home (cli/home.ts) plus
 *     node_key.json         the node's libp2p identity (p2p/identity.ts), mode 0600
 *     node.log              the node's stdout and stderr while `testnet start` runs it (appended)
 *
 * Every home has its own validator key, the same faucet key and the same genesis.json (N validators
 * of equal power, one funded faucet). Node i listens on loopback: p2p base+10i, RPC base+10i+1,
 * metrics base+10i+2, and lists every other node as a persistent peer.
 */
import { PROTOCOL_VERSION } from '../chain/protocol.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { addressOf, formatAddress } from '../chain/address.ts';
import { writeFileDurably } from '../chain/durable-file.ts';
import { CodedError } from '../chain/errors.ts';
import { generateKeyPair, type RandomSource } from '../chain/keys.ts';
import { DEVNET_FAUCET_BALANCE, DEVNET_VALIDATOR_POWER, defaultConsensusParams } from '../genesis/devnet.ts';
import type { Genesis } from '../genesis/genesis.ts';
import { formatGenesis, MAX_TIMEOUT_MS, parseGenesis, toDocument } from '../genesis/schema.ts';
import { loadOrCreateNodeKey, NODE_KEY_FILE } from '../p2p/identity.ts';
import { checkChainId } from '../chain/chain-id.ts';
import { CONFIG_FILE, defaultConfig, formatConfig, formatListen } from '../node/config.ts';
import { DATA_DIR, GENESIS_FILE } from './home.ts';
import { ensureKeysDir, FAUCET_KEY, keyPath, VALIDATOR_KEY, writeKeyFile } from './keystore.ts';
import { NODE_PROCESS_FLAGS } from '../node/process-flags.ts';

export const TESTNET_FILE = 'testnet.json';
export const NODE_LOG_FILE = 'node.log';
export const DEFAULT_TESTNET_CHAIN_ID = 'hallmark-testnet';
/** Clear of the single devnet's 26656 (p2p), 26657 (RPC) and 26660 (metrics). */
export const DEFAULT_TESTNET_BASE_PORT = 27000;
export const PORT_STRIDE = 10;
export const MAX_TESTNET_VALIDATORS = 64;
const HOST = '127.0.0.1';
/** bin/hallmark.js, found from this file so it works from any working directory. */
export const HALLMARK_BIN = fileURLToPath(new URL('../bin/hallmark.js', import.meta.url));

export type TestnetErrorCode = 'testnet_invalid' | 'testnet_exists' | 'testnet_not_found' | 'testnet_file_invalid' | 'testnet_spawn_failed'
  | 'testnet_exited';

export class TestnetError extends CodedError<TestnetErrorCode> {}

/** Where a node keeps its libp2p identity. */
export function nodeKeyPath(home: string): string {
  return join(home, NODE_KEY_FILE);
}

export interface TestnetNode {
  /** node0, node1, … (also the home's directory name under DIR). */
  name: string;
  /** Absolute. */
  home: string;
  /** The validator's name in genesis: validator-0, … */
  validatorName: string;
  validatorAddress: string;
  peerId: string;
  p2pPort: number;
  rpcPort: number;
  metricsPort: number;
  /** /ip4/127.0.0.1/tcp/<p2p port>/p2p/<peer id>: what the other nodes list as a persistent peer. */
  p2pMultiaddr: string;
  rpcUrl: string;
  metricsUrl: string;
  /** Absolute. */
  logPath: string;
}

export interface TestnetLayout {
  /** Absolute. */
  dir: string;
  chainId: string;
  genesisTime: number;
  faucetAddress: string;
  nodes: TestnetNode[];
}

export interface WriteTestnetOptions {
  dir: string;
  validators: number;
  chainId?: string;
  /** Node i uses base+10i (p2p), base+10i+1 (RPC), base+10i+2 (metrics). */
  basePort?: number;
  /** Genesis time, Unix ms; now by default. */
  time?: number;
  /** Replace a testnet already in DIR (its testnet.json and node<i>/ directories; nothing else). */
  force?: boolean;
  /** Source of every key's randomness; the system's by default. */
  random?: RandomSource;
  /** [consensus] block_time_ms for every node; the genesis commit timeout when absent. */
  blockTimeMs?: number;
  /** [snapshot] interval for every node; the config default when absent. */
  snapshotInterval?: number;
}

function portsOf(basePort: number, i: number) {
  const p2p = basePort + PORT_STRIDE * i;
  return { p2p, rpc: p2p + 1, metrics: p2p + 2 };
}

function checkOptions(opts: WriteTestnetOptions): { n: number; basePort: number; chainId: string } {
  const n = opts.validators;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_TESTNET_VALIDATORS) {
    throw new TestnetError('testnet_invalid', `validators: expected a whole number from 1 to ${MAX_TESTNET_VALIDATORS}, got ${String(n)}`);
  }
  const basePort = opts.basePort ?? DEFAULT_TESTNET_BASE_PORT;
  if (!Number.isSafeInteger(basePort) || basePort < 1 || basePort > 65535) {
    throw new TestnetError('testnet_invalid', `base port: expected a port from 1 to 65535, got ${String(basePort)}`);
  }
  const highest = portsOf(basePort, n - 1).metrics;
  if (highest > 65535) {
    throw new TestnetError('testnet_invalid', `base port ${basePort} with ${n} validators needs ports up to ${highest}; the highest port is 65535 (use a base port of at most ${65535 - highest + basePort})`);
  }
  let chainId: string;
  try {
    chainId = checkChainId(opts.chainId ?? DEFAULT_TESTNET_CHAIN_ID);
  } catch (err) {
    throw new TestnetError('testnet_invalid', (err as Error).message);
  }
  const b = opts.blockTimeMs;
  if (b !== undefined && (!Number.isSafeInteger(b) || b < 0 || b > MAX_TIMEOUT_MS)) {
    throw new TestnetError('testnet_invalid', `block time: expected a whole number of ms from 0 to ${MAX_TIMEOUT_MS}, got ${String(b)}`);
  }
  const si = opts.snapshotInterval;
  if (si !== undefined && (!Number.isSafeInteger(si) || si < 0)) throw new TestnetError('testnet_invalid', `snapshot interval: expected a whole number of heights, got ${String(si)}`);
  const time = opts.time;
  if (time !== undefined && (!Number.isSafeInteger(time) || time < 0)) throw new TestnetError('testnet_invalid', 'time: must be a non-negative integer of Unix milliseconds');
  return { n, basePort, chainId };
}

const NODE_DIR = /^node[0-9]+$/;

/** What `force` removes: the testnet file and node<i> directories; other files in DIR stay. */
async function clearDir(dir: string, force: boolean): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new TestnetError('testnet_exists', `${dir} exists and is not a directory`);
    throw err;
  }
  if (entries.length === 0) return;
  if (!force) throw new TestnetError('testnet_exists', `${dir} is not empty; choose another --dir, or use --force to replace the testnet in it`);
  for (const e of entries) {
    if (e === TESTNET_FILE || NODE_DIR.test(e)) await rm(join(dir, e), { recursive: true, force: true });
  }
}

/** Writes the testnet's homes, then DIR/testnet.json. Bad options are refused before anything is written. */
export async function writeTestnet(opts: WriteTestnetOptions): Promise<TestnetLayout> {
  const { n, basePort, chainId } = checkOptions(opts);
  const dir = resolve(opts.dir);
  const time = opts.time ?? Date.now();
  const validators = Array.from({ length: n }, () => generateKeyPair(opts.random));
  const faucet = generateKeyPair(opts.random);
  const faucetAddress = addressOf(faucet.publicKey);
  const g: Genesis = {
    protocolVersion: PROTOCOL_VERSION,
    chainId,
    time,
    consensusParams: defaultConsensusParams(),
    validators: validators.map((v, i) => ({ name: `validator-${i}`, publicKey: v.publicKey, address: addressOf(v.publicKey), power: DEVNET_VALIDATOR_POWER })),
    accounts: [{ address: faucetAddress, balance: DEVNET_FAUCET_BALANCE }],
  };
  // Through the document, so the file rules apply exactly as they will when each node reads it.
  const genesis = parseGenesis(toDocument(g));
  const genesisText = formatGenesis(genesis);

  await clearDir(dir, opts.force ?? false);
  await mkdir(dir, { recursive: true });
  const nodes: TestnetNode[] = [];
  for (let i = 0; i < n; i++) {
    const name = `node${i}`;
    const home = join(dir, name);
    await mkdir(home, { recursive: true });
    const nodeKey = await loadOrCreateNodeKey(nodeKeyPath(home), { random: opts.random });
    const ports = portsOf(basePort, i);
    nodes.push({
      name, home, validatorName: `validator-${i}`, validatorAddress: formatAddress(addressOf(validators[i]!.publicKey)),
      peerId: nodeKey.peerId, p2pPort: ports.p2p, rpcPort: ports.rpc, metricsPort: ports.metrics,
      p2pMultiaddr: `/ip4/${HOST}/tcp/${ports.p2p}/p2p/${nodeKey.peerId}`,
      rpcUrl: `http://${HOST}:${ports.rpc}`, metricsUrl: `http://${HOST}:${ports.metrics}/metrics`,
      logPath: join(home, NODE_LOG_FILE),
    });
  }
  // The nodes share this machine's cores: each gets its share of signature threads beside its own
  // thread, none when there are as many nodes as cores or more (threads would only contend).
  const signatureThreads = Math.max(0, Math.floor(availableParallelism() / n) - 1);
  for (const [i, node] of nodes.entries()) {
    const config = defaultConfig();
    config.execution.signatureThreads = signatureThreads;
    config.p2p = { ...config.p2p, host: HOST, port: node.p2pPort, persistentPeers: nodes.filter((o) => o !== node).map((o) => o.p2pMultiaddr) };
    config.rpc = { ...config.rpc, host: HOST, port: node.rpcPort };
    config.metrics = { ...config.metrics, host: HOST, port: node.metricsPort };
    if (opts.blockTimeMs !== undefined) config.consensus.blockTimeMs = opts.blockTimeMs;
    if (opts.snapshotInterval !== undefined) config.snapshot.interval = opts.snapshotInterval;
    await ensureKeysDir(node.home);
    await writeKeyFile(keyPath(node.home, VALIDATOR_KEY), validators[i]!, VALIDATOR_KEY);
    await writeKeyFile(keyPath(node.home, FAUCET_KEY), faucet, FAUCET_KEY);
    await mkdir(join(node.home, DATA_DIR), { recursive: true, mode: 0o700 });
    writeFileDurably(join(node.home, CONFIG_FILE), formatConfig(config));
    // Last in each home: its presence marks the home as initialized.
    writeFileDurably(join(node.home, GENESIS_FILE), genesisText);
  }
  for (const v of validators) v.secretKey.fill(0);
  faucet.secretKey.fill(0);
  const layout: TestnetLayout = { dir, chainId, genesisTime: genesis.time, faucetAddress: formatAddress(faucetAddress), nodes };
  writeFileDurably(join(dir, TESTNET_FILE), formatTestnetFile(layout));
  return layout;
}

// ---- testnet.json ----------------------------------------------------------------------------------

const nodeSchema = z.strictObject({
  name: z.string().regex(NODE_DIR),
  home: z.string().min(1),
  validator_name: z.string(),
  validator_address: z.string(),
  peer_id: z.string(),
  p2p: z.string(),
  p2p_multiaddr: z.string(),
  rpc: z.string(),
  metrics: z.string(),
  log: z.string().min(1),
});

const fileSchema = z.strictObject({
  chain_id: z.string(),
  genesis_time: z.string(),
  faucet_address: z.string(),
  nodes: z.array(nodeSchema).min(1),
});

/** testnet.json text; paths in it are relative to DIR so the directory can be moved. */
export function formatTestnetFile(layout: TestnetLayout): string {
  const rel = (p: string) => p.startsWith(`${layout.dir}/`) ? p.slice(layout.dir.length + 1) : p;
  return `${JSON.stringify({
    chain_id: layout.chainId,
    genesis_time: new Date(layout.genesisTime).toISOString(),
    faucet_address: layout.faucetAddress,
    nodes: layout.nodes.map((n) => ({
      name: n.name, home: rel(n.home), validator_name: n.validatorName, validator_address: n.validatorAddress, peer_id: n.peerId,
      p2p: formatListen(HOST, n.p2pPort), p2p_multiaddr: n.p2pMultiaddr, rpc: n.rpcUrl, metrics: n.metricsUrl, log: rel(n.logPath),
    })),
  }, null, 2)}\n`;
}

const portOf = (s: string) => Number(/:([0-9]+)(?:\/|$)/.exec(s)?.[1] ?? NaN);

/** Reads DIR/testnet.json back; every problem is a TestnetError naming the file. */
export async function readTestnet(dirText: string): Promise<TestnetLayout> {
  const dir = resolve(dirText);
  const path = join(dir, TESTNET_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new TestnetError('testnet_not_found', `${dir} has no ${TESTNET_FILE}: write a testnet first with "hallmark testnet --validators N --dir ${dirText}"`);
    }
    throw new TestnetError('testnet_file_invalid', `${path}: cannot read: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TestnetError('testnet_file_invalid', `${path}: not valid JSON: ${(err as Error).message}`);
  }
  const r = fileSchema.safeParse(doc);
  if (!r.success) {
    const iss = r.error.issues[0]!;
    throw new TestnetError('testnet_file_invalid', `${path}: ${iss.path.join('.') || '(document)'}: ${iss.message}`);
  }
  const d = r.data;
  return {
    dir, chainId: d.chain_id, genesisTime: Date.parse(d.genesis_time), faucetAddress: d.faucet_address,
    nodes: d.nodes.map((n) => ({
      name: n.name, home: resolve(dir, n.home), validatorName: n.validator_name, validatorAddress: n.validator_address, peerId: n.peer_id,
      p2pPort: portOf(n.p2p), rpcPort: portOf(n.rpc), metricsPort: portOf(n.metrics),
      p2pMultiaddr: n.p2p_multiaddr, rpcUrl: n.rpc, metricsUrl: n.metrics, logPath: resolve(dir, n.log),
    })),
  };
}

// ---- running it ------------------------------------------------------------------------------------

export interface NodeExit {
  name: string;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** False when the node exited on its own, true when stop() asked it to. */
  stopped: boolean;
}

export interface RunningNodeProcess {
  name: string;
  pid: number;
  rpcUrl: string;
  logPath: string;
  /** Settles when the process exits, for whatever reason. */
  exited: Promise<NodeExit>;
}

export interface RunningTestnet {
  layout: TestnetLayout;
  nodes: RunningNodeProcess[];
  /** Nodes that have not exited yet. */
  running(): number;
  /** SIGINT to every node still running, SIGKILL to any still there after graceMs; resolves once all have exited. */
  stop(): Promise<NodeExit[]>;
  /** SIGKILL to every node still running (a second Ctrl-C); stop() still resolves when they are gone. */
  kill(): void;
}

export interface StartTestnetOptions {
  dir: string;
  /** Extra arguments after `start` (e.g. ['--log-level', 'debug']). */
  nodeArgs?: string[];
  /** The nodes' environment; this process's by default. */
  env?: NodeJS.ProcessEnv;
  /** How long stop() waits after SIGINT before SIGKILL; 10 s by default. */
  graceMs?: number;
  /** Called when a node exits without stop() having asked it to; the others keep running. */
  onExit?: (exit: NodeExit) => void;
}

/**
 * Runs every node of DIR's testnet as its own process, `node bin/hallmark.js --home DIR/node<i>
 * start`, with stdout and stderr appended to DIR/node<i>/node.log. The nodes get their own process
 * group, so a Ctrl-C at the terminal reaches only this supervisor, which then stops each node once.
 */
export async function startTestnet(opts: StartTestnetOptions): Promise<RunningTestnet> {
  const layout = await readTestnet(opts.dir);
  const graceMs = opts.graceMs ?? 10_000;
  let stopping = false;
  const children: { child: ChildProcess; node: RunningNodeProcess; done: boolean }[] = [];

  const killAll = () => {
    for (const c of children) if (!c.done) c.child.kill('SIGKILL');
  };
  // If this process goes away without stop() (an uncaught error), the nodes must not linger.
  process.on('exit', killAll);

  try {
    for (const n of layout.nodes) {
      const args = [HALLMARK_BIN, '--home', n.home, 'start', ...(opts.nodeArgs ?? [])];
      let fd: number;
      try {
        fd = openSync(n.logPath, 'a', 0o600);
      } catch (err) {
        throw new TestnetError('testnet_spawn_failed', `${n.name}: cannot open its log ${n.logPath}: ${(err as Error).message}`);
      }
      let child: ChildProcess;
      try {
        appendFileSync(fd, `--- hallmark testnet: starting ${n.name} at ${new Date().toISOString()} ---\n`);
        child = spawn(process.execPath, [...NODE_PROCESS_FLAGS, ...args], { stdio: ['ignore', fd, fd], env: opts.env ?? process.env, detached: true });
        await new Promise<void>((res, rej) => {
          child.once('spawn', res);
          child.once('error', rej);
        });
      } catch (err) {
        throw new TestnetError('testnet_spawn_failed', `${n.name}: cannot start ${process.execPath}: ${(err as Error).message}`);
      } finally {
        closeSync(fd);
      }
      const entry = { child, done: false, node: undefined as unknown as RunningNodeProcess };
      const exited = new Promise<NodeExit>((res) => {
        child.once('exit', (code, signal) => {
          entry.done = true;
          const exit: NodeExit = { name: n.name, pid: child.pid!, code, signal, stopped: stopping };
          try {
            appendFileSync(n.logPath, `--- hallmark testnet: ${n.name} exited (${signal ? `signal ${signal}` : `code ${code}`}) ---\n`);
          } catch {
            // The log is a convenience; a node that exited is reported either way.
          }
          if (!stopping) opts.onExit?.(exit);
          res(exit);
        });
      });
      entry.node = { name: n.name, pid: child.pid!, rpcUrl: n.rpcUrl, logPath: n.logPath, exited };
      children.push(entry);
    }
  } catch (err) {
    stopping = true;
    killAll();
    await Promise.all(children.map((c) => c.node.exited));
    process.off('exit', killAll);
    throw err;
  }

  let stopped: Promise<NodeExit[]> | null = null;
  return {
    layout,
    nodes: children.map((c) => c.node),
    running: () => children.filter((c) => !c.done).length,
    kill: () => {
      stopping = true;
      killAll();
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        const exits = await Promise.all(children.map(async (c) => {
          if (c.done) return c.node.exited;
          c.child.kill('SIGINT');
          const timer = setTimeout(() => c.child.kill('SIGKILL'), graceMs);
          try {
            return await c.node.exited;
          } finally {
            clearTimeout(timer);
          }
        }));
        process.off('exit', killAll);
        return exits;
      })();
      return stopped;
    },
  };
}
