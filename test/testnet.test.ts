/**
 * `hallmark testnet`: the homes it writes (keys, one genesis, ports, peer lists), the options it
 * refuses, the CLI command, and `testnet start` supervising real node processes: logs written, RPC
 * answering, a node that dies on its own noticed, every node stopped.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { formatAddress } from '../chain/address.ts';
import { equalBytes } from '../chain/bytes.ts';
import { runCli, type CliIo } from '../cli/main.ts';
import { loadHome } from '../cli/home.ts';
import { readKeyFile } from '../cli/keystore.ts';
import { readNodeKey } from '../p2p/identity.ts';
import { BIN, freeBasePort } from './fixtures/processes.ts';
import {
  DEFAULT_TESTNET_BASE_PORT, nodeKeyPath, readTestnet, startTestnet, TestnetError, writeTestnet, type NodeExit,
} from '../cli/testnet.ts';
import { liveDir } from './fixtures/dirs.ts';

const TIME = Date.UTC(2026, 10, 23);

function capture(): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: { PATH: process.env.PATH },
    out: () => out,
    err: () => err,
  };
}

/**
 * Polls `probe` until it returns a value, at most `tries` times, `everyMs` apart; gives up at once
 * when `dead` names a reason (a node process that already exited).
 */
async function poll<T>(what: string, probe: () => Promise<T | undefined>, dead: () => string | null = () => null, tries = 300, everyMs = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const reason = dead();
    if (reason !== null) throw new Error(`gave up waiting for ${what}: ${reason}`);
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function chainStatus(url: string): Promise<Record<string, unknown> | undefined> {
  const res = await fetch(url, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_status', params: {} }),
  });
  const body = await res.json() as { result?: Record<string, unknown> };
  return body.result;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const logOf = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');

/** Why waiting on a node is pointless: its process is gone (with its log, to see why). */
const exitedNode = (pid: number, log: string) => () => (alive(pid) ? null : `the node exited; its log:\n${logOf(log)}`);

t.test('writeTestnet: N homes with their own keys, one genesis, distinct ports and full peer lists', async (t) => {
  const dir = join(liveDir(t), 'tn');
  const n = 3;
  const layout = await writeTestnet({ dir, validators: n, time: TIME, basePort: 40_000 });
  t.same(readdirSync(dir).sort(), ['node0', 'node1', 'node2', 'testnet.json']);
  t.same(await readTestnet(dir), layout, 'testnet.json reads back as the layout');
  t.equal(layout.chainId, 'hallmark-testnet');

  const genesisText = readFileSync(join(dir, 'node0', 'genesis.json'), 'utf8');
  const faucetText = readFileSync(join(dir, 'node0', 'keys', 'faucet.json'), 'utf8');
  const ports: number[] = [];
  const peerIds = layout.nodes.map((node) => node.peerId);
  for (const [i, node] of layout.nodes.entries()) {
    t.equal(node.home, join(dir, `node${i}`));
    for (const f of ['keys/validator.json', 'keys/faucet.json', 'node_key.json']) {
      t.equal(statSync(join(node.home, f)).mode & 0o777, 0o600, `${node.name}/${f} is 0600`);
    }
    t.equal(statSync(join(node.home, 'keys')).mode & 0o777, 0o700, `${node.name}/keys is 0700`);
    t.ok(statSync(join(node.home, 'data')).isDirectory());
    t.equal(readFileSync(join(node.home, 'genesis.json'), 'utf8'), genesisText, `${node.name}: same genesis.json`);
    t.equal(readFileSync(join(node.home, 'keys', 'faucet.json'), 'utf8'), faucetText, `${node.name}: same faucet key`);

    const home = await loadHome(node.home);
    const g = home.genesis;
    t.equal(g.time, TIME);
    t.same(g.validators.map((v) => v.name), ['validator-0', 'validator-1', 'validator-2']);
    t.equal(new Set(g.validators.map((v) => v.power)).size, 1, 'equal power');
    t.ok(equalBytes(g.validators[i]!.publicKey, home.validatorKey!.publicKey), `${node.name}: its validator key is validators[${i}]`);
    t.equal(home.validatorKey!.address, node.validatorAddress);
    t.equal(g.accounts.length, 1);
    t.equal(formatAddress(g.accounts[0]!.address), layout.faucetAddress, 'the faucet is the funded account');
    t.equal((await readKeyFile(join(node.home, 'keys', 'faucet.json'), 'faucet')).address, layout.faucetAddress);

    const key = await readNodeKey(nodeKeyPath(node.home));
    t.equal(key.peerId, node.peerId, `${node.name}: peer id is node_key.json's`);
    const c = home.config;
    t.same([c.p2p.host, c.rpc.host, c.metrics.host], ['127.0.0.1', '127.0.0.1', '127.0.0.1']);
    t.equal(c.execution.signatureThreads, Math.max(0, Math.floor(availableParallelism() / n) - 1), `${node.name}: its share of the cores for signature threads`);
    t.same([c.p2p.port, c.rpc.port, c.metrics.port], [40_000 + 10 * i, 40_001 + 10 * i, 40_002 + 10 * i]);
    t.equal(node.rpcUrl, `http://127.0.0.1:${c.rpc.port}`);
    ports.push(c.p2p.port, c.rpc.port, c.metrics.port);
    const others = layout.nodes.map((o, j) => ({ o, j })).filter(({ j }) => j !== i);
    const expected = await Promise.all(others.map(async ({ o, j }) =>
      `/ip4/127.0.0.1/tcp/${40_000 + 10 * j}/p2p/${(await readNodeKey(join(o.home, 'node_key.json'))).peerId}`));
    t.same(c.p2p.persistentPeers, expected, `${node.name}: every other node, by its real peer id`);
  }
  t.equal(new Set(ports).size, 3 * n, 'every port distinct');
  t.equal(new Set(peerIds).size, n, 'every peer id distinct');
  t.equal(new Set(layout.nodes.map((x) => x.validatorAddress)).size, n, 'every validator key distinct');
  // None of the single devnet's ports, by default.
  const dflt = await writeTestnet({ dir: join(liveDir(t), 'default'), validators: 1 });
  t.equal(dflt.nodes[0]!.p2pPort, DEFAULT_TESTNET_BASE_PORT);
  t.notOk([26656, 26657, 26660].includes(dflt.nodes[0]!.rpcPort));
});

t.test('bad options and a taken directory are refused with one clear error, nothing written', async (t) => {
  const root = liveDir(t);
  const cases: [Parameters<typeof writeTestnet>[0], RegExp][] = [
    [{ dir: join(root, 'a'), validators: 0 }, /^validators: expected a whole number from 1 to 64, got 0$/],
    [{ dir: join(root, 'a'), validators: 65 }, /^validators: expected a whole number from 1 to 64, got 65$/],
    [{ dir: join(root, 'a'), validators: 1.5 }, /validators: expected a whole number/],
    [{ dir: join(root, 'a'), validators: 2, basePort: 0 }, /^base port: expected a port from 1 to 65535, got 0$/],
    [{ dir: join(root, 'a'), validators: 2, basePort: 65_530 }, /^base port 65530 with 2 validators needs ports up to 65542; the highest port is 65535 \(use a base port of at most 65523\)$/],
    [{ dir: join(root, 'a'), validators: 2, chainId: 'Bad Id' }, /^chain id "Bad Id": use 1-/],
    [{ dir: join(root, 'a'), validators: 2, blockTimeMs: -1 }, /^block time: /],
  ];
  for (const [opts, pattern] of cases) {
    await t.rejects(writeTestnet(opts), { name: 'TestnetError', code: 'testnet_invalid', message: pattern }, JSON.stringify(opts));
  }
  t.notOk(existsSync(join(root, 'a')), 'nothing written for bad options');

  const taken = join(root, 'taken');
  mkdirSync(taken);
  writeFileSync(join(taken, 'notes.txt'), 'mine');
  await t.rejects(writeTestnet({ dir: taken, validators: 2 }), { code: 'testnet_exists', message: /taken is not empty; choose another --dir, or use --force/ });
  t.same(readdirSync(taken), ['notes.txt'], 'nothing written into a taken directory');

  // --force replaces a testnet (new keys) and leaves files that are not the testnet's alone.
  const first = await writeTestnet({ dir: taken, validators: 3, force: true });
  const second = await writeTestnet({ dir: taken, validators: 2, force: true });
  t.same(readdirSync(taken).sort(), ['node0', 'node1', 'notes.txt', 'testnet.json']);
  t.not(second.nodes[0]!.peerId, first.nodes[0]!.peerId);
  t.equal((await readNodeKey(nodeKeyPath(second.nodes[0]!.home))).peerId, second.nodes[0]!.peerId);
  t.equal((await loadHome(second.nodes[1]!.home)).genesis.validators.length, 2);

  await t.rejects(readTestnet(join(root, 'nowhere')), { code: 'testnet_not_found', message: /has no testnet\.json: write a testnet first/ });
  writeFileSync(join(taken, 'testnet.json'), '{"nodes": []}');
  await t.rejects(readTestnet(taken), { code: 'testnet_file_invalid', message: /testnet\.json: / });
  t.ok(new TestnetError('testnet_invalid', 'x') instanceof Error);
});

t.test('the testnet command through runCli', async (t) => {
  const root = liveDir(t);
  const dir = join(root, 'tn');
  const io = capture();
  t.equal(await runCli(['testnet', '--validators', '2', '--dir', dir, '--base-port', '41000', '--chain-id', 'my-testnet', '--json'], io), 0, io.err());
  t.equal(io.err(), '');
  const doc = JSON.parse(io.out());
  t.equal(doc.dir, dir);
  t.equal(doc.chain_id, 'my-testnet');
  t.same(doc.nodes.map((x: { rpc: string }) => x.rpc), ['http://127.0.0.1:41001', 'http://127.0.0.1:41011']);
  t.equal(doc.nodes[1].peer_id, (await readNodeKey(join(dir, 'node1', 'node_key.json'))).peerId);
  t.equal(doc.nodes[0].log, join(dir, 'node0', 'node.log'));
  t.equal((await loadHome(join(dir, 'node1'))).genesis.chainId, 'my-testnet');

  const text = capture();
  t.equal(await runCli(['testnet', '--validators', '1', '--dir', join(root, 'text')], text), 0, text.err());
  t.match(text.out(), /^wrote a 1-validator testnet in .*text \(chain hallmark-testnet\)$/m);
  t.match(text.out(), /^ {2}node0 +rpc http:\/\/127\.0\.0\.1:27001 /m);
  t.match(text.out(), `start it with: hallmark testnet start --dir ${join(root, 'text')}`);

  const help = capture();
  t.equal(await runCli(['testnet', '--help'], help), 0);
  t.match(help.out(), /--validators <n>/);
  t.match(help.out(), /^ {2}start \[options\] +run every node/m);
  const startHelp = capture();
  t.equal(await runCli(['testnet', 'start', '--help'], startHelp), 0);
  t.match(startHelp.out(), /Usage: hallmark testnet start \[options\]/);

  const mistakes: [string[], RegExp][] = [
    [['testnet', '--dir', join(root, 'x')], /^error: --validators <n> is required/],
    [['testnet', '--validators', '4'], /^error: --dir <dir> is required/],
    [['testnet', '--validators', 'four', '--dir', join(root, 'x')], /^error: --validators: expected a non-negative whole number, got "four"$/],
    [['testnet', '--validators', '65', '--dir', join(root, 'x')], /^error: validators: expected a whole number from 1 to 64, got 65$/],
    [['testnet', '--validators', '2', '--dir', dir], /^error: .*tn is not empty; choose another --dir, or use --force/],
    [['testnet', 'stop'], /^error: testnet: unknown command "stop" \(did you mean "testnet start"\?\)$/],
    [['testnet', 'start'], /^error: --dir <dir> is required/],
    [['testnet', 'start', '--dir', join(root, 'x')], /^error: .*x has no testnet\.json: write a testnet first/],
  ];
  for (const [args, pattern] of mistakes) {
    const e = capture();
    t.equal(await runCli(args, e), 1, args.join(' '));
    t.equal(e.out(), '', `${args.join(' ')}: nothing on stdout`);
    t.equal(e.err().split('\n').filter((l) => l !== '').length, 1, `${args.join(' ')}: one line`);
    t.match(e.err().trimEnd(), pattern, args.join(' '));
  }
  t.notOk(existsSync(join(root, 'x')), 'no directory left by refused commands');
});

t.test('testnet add-node writes a following home: the testnet\'s genesis and settings, every validator as a peer, its own ports, not in testnet.json', async (t) => {
  const root = liveDir(t);
  const dir = join(root, 'tn');
  const w = capture();
  t.equal(await runCli(['testnet', '--validators', '3', '--dir', dir, '--base-port', '42000', '--snapshot-interval', '25'], w), 0, w.err());
  t.equal((await loadHome(join(dir, 'node0'))).config.snapshot.interval, 25, '--snapshot-interval reaches every node');
  const io = capture();
  t.equal(await runCli(['testnet', 'add-node', '--dir', dir, '--json'], io), 0, io.err());
  const added = JSON.parse(io.out());
  t.match(added, { name: 'node3', home: join(dir, 'node3'), p2p_port: 42030, rpc: 'http://127.0.0.1:42031', metrics_port: 42032, peers: 3 });
  const home = await loadHome(join(dir, 'node3'));
  const layout = await readTestnet(dir);
  t.same(home.config.p2p.persistentPeers, layout.nodes.map((n) => n.p2pMultiaddr), 'it dials every validator');
  t.equal(home.config.snapshot.interval, 25, 'with the validators\' settings');
  t.equal(home.validatorKey, null, 'it validates nothing');
  t.equal(readFileSync(join(dir, 'node3', 'genesis.json'), 'utf8'), readFileSync(join(dir, 'node0', 'genesis.json'), 'utf8'), 'the same genesis');
  t.equal(added.peer_id, (await readNodeKey(join(dir, 'node3', 'node_key.json'))).peerId);
  t.equal(layout.nodes.length, 3, 'testnet.json still lists the validators only');
  const text = capture();
  t.equal(await runCli(['testnet', 'add-node', '--dir', dir], text), 0, text.err());
  t.match(text.out(), `join the running testnet with: hallmark --home ${join(dir, 'node4')} start --sync snapshot`, 'the next one is node4');
  const none = capture();
  t.equal(await runCli(['testnet', 'add-node', '--dir', join(root, 'nothing')], none), 1);
  t.match(none.err(), /has no testnet\.json/);
});

t.test('startTestnet runs a node per home, logs to node.log, notices a node that dies, stops the rest', async (t) => {
  const dir = join(liveDir(t), 'tn');
  const layout = await writeTestnet({ dir, validators: 2, basePort: await freeBasePort(2) });
  const unexpected: NodeExit[] = [];
  let noticed: (e: NodeExit) => void = () => {};
  const died = new Promise<NodeExit>((r) => (noticed = r));
  const tn = await startTestnet({ dir, graceMs: 20_000, onExit: (e) => { unexpected.push(e); noticed(e); } });
  let stopped = false;
  t.teardown(async () => { if (!stopped) await tn.stop(); });

  t.same(tn.nodes.map((x) => [x.name, x.rpcUrl, x.logPath]), layout.nodes.map((x) => [x.name, x.rpcUrl, join(x.home, 'node.log')]));
  t.equal(new Set(tn.nodes.map((x) => x.pid)).size, 2);
  for (const [i, node] of tn.nodes.entries()) {
    const status = await poll(`${node.name} RPC`, () => chainStatus(node.rpcUrl), exitedNode(node.pid, node.logPath));
    t.equal(status.chain_id, layout.chainId, `${node.name} answers chain_status`);
    t.equal(status.validator_address, layout.nodes[i]!.validatorAddress, `${node.name} runs its own home`);
    await poll(`${node.name} log`, async () => (/node started/.test(logOf(node.logPath)) ? true : undefined));
    t.match(logOf(node.logPath), /^--- hallmark testnet: starting node\d at /, `${node.name}: log starts with the supervisor's line`);
  }
  t.equal(tn.running(), 2);

  // node1 dies on its own: reported, node0 keeps running.
  process.kill(tn.nodes[1]!.pid, 'SIGKILL');
  const exit = await died;
  t.match(exit, { name: 'node1', pid: tn.nodes[1]!.pid, signal: 'SIGKILL', stopped: false });
  t.equal(tn.running(), 1);
  t.ok(alive(tn.nodes[0]!.pid), 'node0 still running');
  t.equal((await chainStatus(tn.nodes[0]!.rpcUrl))?.chain_id, layout.chainId, 'node0 still answers');
  t.match(logOf(tn.nodes[1]!.logPath), /--- hallmark testnet: node1 exited \(signal SIGKILL\) ---/);

  const exits = await tn.stop();
  stopped = true;
  t.match(exits[0], { name: 'node0', code: 0, signal: null, stopped: true }, 'node0 shut down cleanly on SIGINT');
  t.match(exits[1], { name: 'node1', signal: 'SIGKILL', stopped: false });
  t.equal(tn.running(), 0);
  t.notOk(alive(tn.nodes[0]!.pid), 'node0 is gone');
  t.match(logOf(tn.nodes[0]!.logPath), /node stopped/);
  t.equal(unexpected.length, 1, 'only the killed node was reported as exiting on its own');
  t.equal(await tn.stop(), exits, 'stop() twice is the same stop');
});

t.test('hallmark testnet start stays in the foreground and stops every node on SIGTERM', async (t) => {
  const dir = join(liveDir(t), 'tn');
  await writeTestnet({ dir, validators: 2, basePort: await freeBasePort(2) });
  const child = spawn(process.execPath, [BIN, 'testnet', 'start', '--dir', dir, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });

  const doc = await poll('testnet start output', async () => {
    try {
      return JSON.parse(out) as { nodes: { name: string; pid: number; rpc: string; log: string }[] };
    } catch {
      return undefined;
    }
  }, () => (child.exitCode === null ? null : `testnet start exited with ${child.exitCode}: ${err}`));
  t.same(doc.nodes.map((x) => x.name), ['node0', 'node1']);
  for (const node of doc.nodes) {
    const status = await poll(`${node.name} RPC`, () => chainStatus(node.rpc), exitedNode(node.pid, node.log));
    t.equal(status.chain_id, 'hallmark-testnet');
  }
  t.equal(child.exitCode, null, 'still in the foreground');
  child.kill('SIGTERM');
  t.equal(await exited, 0, `exit 0 (${err})`);
  t.match(err, /SIGTERM: stopping 2 nodes/);
  t.notMatch(err, /did not exit cleanly/);
  for (const node of doc.nodes) {
    t.notOk(alive(node.pid), `${node.name} is gone`);
    t.match(logOf(node.log), /node stopped/);
  }
});
