/**
 * The `hallmark` CLI as a user runs it: bin/hallmark.js in a child process, real home directories.
 * RPC commands run against a small HTTP server in this test that answers JSON-RPC with the shapes
 * the real server uses, and records what it was asked; and against a port where nothing listens.
 */
import { intrinsicGas } from '../execution/transaction.ts';
import t, { type Test } from 'tap';
import { execFile, spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { addressOf, formatAddress, parseAddress } from '../chain/address.ts';
import { equalBytes, fromHex, toHex } from '../chain/bytes.ts';
import { decodeSignedTransaction, verifyTransactionSignature } from '../chain/tx.ts';
import { parseGenesis } from '../genesis/schema.ts';
import { liveDir } from './fixtures/dirs.ts';

const BIN = fileURLToPath(new URL('../bin/hallmark.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function hallmark(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The shape every user mistake must have: exit 1, nothing on stdout, one `error:` line, no stack. */
function assertOneLineError(t: Test, r: Run, pattern: RegExp | string, what: string) {
  t.equal(r.code, 1, `${what}: exit 1`);
  t.equal(r.stdout, '', `${what}: nothing on stdout`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  t.equal(lines.length, 1, `${what}: one line (${JSON.stringify(r.stderr)})`);
  t.match(lines[0], /^error: /, `${what}: starts with error:`);
  t.match(lines[0], pattern, what);
  t.notMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
}

/** A port nothing listens on: bound once, then closed. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

interface RpcCall {
  method: string;
  params: Record<string, unknown>;
}

/** A JSON-RPC 2.0 server answering with `handler`; a thrown {code, message} is an RPC error. */
async function rpcServer(t: Test, handler: (call: RpcCall) => unknown): Promise<{ url: string; calls: RpcCall[] }> {
  const calls: RpcCall[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const msg = JSON.parse(body) as { id: number; method: string; params: Record<string, unknown> };
      calls.push({ method: msg.method, params: msg.params });
      let reply: unknown;
      try {
        reply = { jsonrpc: '2.0', id: msg.id, result: handler({ method: msg.method, params: msg.params }) };
      } catch (err) {
        const e = err as { code: number; message: string };
        reply = { jsonrpc: '2.0', id: msg.id, error: { code: e.code, message: e.message } };
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

/** An address to fill results with; the client checks every result against its schema. */
const SOMEONE = formatAddress(new Uint8Array(20).fill(7));
const RECEIPT_OK = { status: 'ok', code: 0, gas_used: 1500, events: [], return_data: '' };

const STATUS = {
  chain_id: 'hallmark-devnet', node_id: 'ab'.repeat(32), validator_address: 'hm1xyz', latest_height: 42,
  latest_block_hash: 'cd'.repeat(32), latest_block_time: '2026-11-23T10:00:00.000Z', latest_state_root: 'ef'.repeat(32), catching_up: false,
  earliest_block_height: 1, latest_snapshot_height: null,
};

t.test('init writes a home and prints where and the faucet address', async (t) => {
  const home = join(liveDir(t), 'h');
  const r = await hallmark(['--home', home, 'init']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  const faucet = JSON.parse(readFileSync(join(home, 'keys', 'faucet.json'), 'utf8'));
  t.match(r.stdout, `initialized ${home} (chain hallmark-devnet)`);
  t.match(r.stdout, faucet.address);
  t.equal(statSync(join(home, 'keys', 'faucet.json')).mode & 0o777, 0o600);

  assertOneLineError(t, await hallmark(['--home', home, 'init']), /already initialized.*--force/, 'second init');

  const forced = await hallmark(['--home', home, 'init', '--force', '--chain-id', 'hallmark-test', '--json']);
  t.equal(forced.code, 0, forced.stderr);
  const doc = JSON.parse(forced.stdout);
  t.equal(doc.home, home);
  t.equal(doc.chain_id, 'hallmark-test');
  t.equal(parseGenesis(readFileSync(join(home, 'genesis.json'), 'utf8')).chainId, 'hallmark-test');
  t.equal(doc.faucet_address, JSON.parse(readFileSync(join(home, 'keys', 'faucet.json'), 'utf8')).address);
  t.not(doc.faucet_address, faucet.address);

  assertOneLineError(t, await hallmark(['--home', join(home, 'x'), 'init', '--chain-id', 'Bad Id']), /chain id "Bad Id"/, 'bad chain id');
});

t.test('HALLMARK_HOME picks the home when --home is absent', async (t) => {
  const home = join(liveDir(t), 'env-home');
  const r = await hallmark(['init', '--json'], { HALLMARK_HOME: home });
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).home, home);
});

t.test('keys add, list, show with --json', async (t) => {
  const home = liveDir(t);
  t.equal((await hallmark(['--home', home, 'init'])).code, 0);
  const added = await hallmark(['--home', home, 'keys', 'add', 'bob', '--json']);
  t.equal(added.code, 0, added.stderr);
  const bob = JSON.parse(added.stdout);
  t.same(Object.keys(bob).sort(), ['address', 'name', 'public_key']);
  t.equal(bob.name, 'bob');
  t.equal(bob.address, formatAddress(addressOf(fromHex(bob.public_key))));

  const listed = await hallmark(['--home', home, '--json', 'keys', 'list']);
  t.equal(listed.code, 0, listed.stderr);
  t.same(JSON.parse(listed.stdout).map((k: { name: string }) => k.name), ['bob', 'faucet', 'validator']);

  const shown = await hallmark(['--home', home, 'keys', 'show', 'bob', '--json']);
  t.same(JSON.parse(shown.stdout), bob);
  t.notMatch(shown.stdout, /secret/);

  const human = await hallmark(['--home', home, 'keys', 'show', 'bob']);
  t.match(human.stdout, /^name +bob$/m);
  t.match(human.stdout, new RegExp(`^address +${bob.address}$`, 'm'));

  const text = await hallmark(['--home', home, 'keys', 'list']);
  t.match(text.stdout, new RegExp(`^bob +${bob.address}$`, 'm'));

  assertOneLineError(t, await hallmark(['--home', home, 'keys', 'add', 'bob']), /a key named "bob" already exists/, 'duplicate key');
  assertOneLineError(t, await hallmark(['--home', home, 'keys', 'add', 'Bad']), /key name "Bad": use 1-32 characters/, 'bad key name');
  assertOneLineError(t, await hallmark(['--home', home, 'keys', 'show', 'carol']), /no key named "carol"/, 'missing key');
});

t.test('RPC commands with no node listening: one line, exit 1', async (t) => {
  const home = liveDir(t);
  t.equal((await hallmark(['--home', home, 'init'])).code, 0);
  const url = `http://127.0.0.1:${await deadPort()}`;
  const want = `error: no node at ${url}: is it running? (start one with npm start)\n`;
  const commands = [['status'], ['account', 'faucet'], ['block'], ['tx', 'show', 'ab'.repeat(32)], ['tx', 'transfer', '--to', 'validator', '--amount', '5']];
  const runs = await Promise.all(commands.map((args) => hallmark(['--home', home, '--rpc', url, ...args])));
  commands.forEach((args, i) => {
    assertOneLineError(t, runs[i]!, /no node at/, args.join(' '));
    t.equal(runs[i]!.stderr, want, args.join(' '));
  });
  // Without --rpc, the address comes from the home's config.
  const port = await deadPort();
  writeFileSync(join(home, 'config.toml'), `[rpc]\nlisten = "0.0.0.0:${port}"\n`);
  const r = await hallmark(['--home', home, 'status']);
  t.equal(r.stderr, `error: no node at http://127.0.0.1:${port}: is it running? (start one with npm start)\n`);
});

t.test('user mistakes: one line and a non-zero exit, never a stack trace', async (t) => {
  const home = liveDir(t);
  t.equal((await hallmark(['--home', home, 'init'])).code, 0);
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['keys', 'remove', 'x'], /unknown command 'remove'/],
    [['status', '--verbose'], /unknown option '--verbose'/],
    [['tx', 'transfer', '--amount', '5'], /required option '--to <address>' not specified/],
    [['tx', 'transfer', '--to', 'faucet'], /required option '--amount <n>' not specified/],
    [['tx', 'transfer', '--to', 'faucet', '--amount', '1.5'], /--amount: expected a whole number of base units, got "1\.5"/],
    [['tx', 'transfer', '--to', 'faucet', '--amount', '18446744073709551616'], /--amount: exceeds 2\^64-1/],
    [['tx', 'transfer', '--to', 'nobody', '--amount', '5'], /--to: "nobody" is neither an hm1… address nor a key/],
    [['tx', 'transfer', '--to', 'faucet', '--amount', '5', '--from', 'carol'], /no key named "carol"/],
    [['tx', 'transfer', '--to', 'faucet', '--amount', '5', '--nonce', '-1'], /--nonce: expected a non-negative whole number/],
    [['account', 'hm1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq'], /account: address "hm1q+": checksum does not match \(typo\?\)/],
    [['tx', 'show', 'xyz'], /hash: expected 64 hex characters, got "xyz"/],
    [['block', 'latest'], /height: expected a non-negative whole number, got "latest"/],
    [['--rpc', 'not a url', 'status'], /--rpc: not a URL/],
    [['--rpc', 'ftp://127.0.0.1:1', 'status'], /--rpc: expected an http/],
    [['start', '--log-level', 'loud'], /option '--log-level <level>' argument 'loud' is invalid/],
  ];
  const runs = await Promise.all(cases.map(([args]) => hallmark(['--home', home, ...args])));
  cases.forEach(([args, pattern], i) => assertOneLineError(t, runs[i]!, pattern, args.join(' ')));
});

t.test('a broken home is reported by file, in one line', async (t) => {
  const home = liveDir(t);
  t.equal((await hallmark(['--home', home, 'init'])).code, 0);
  writeFileSync(join(home, 'config.toml'), '[rpc]\nmax_bach = 3\nlisten = "127.0.0.1:99999"\n');
  const cfg = join(home, 'config.toml');
  assertOneLineError(t, await hallmark(['--home', home, 'status']),
    `error: ${cfg}: rpc.listen: port 99999 is out of range (0-65535); rpc.max_bach: unknown key (did you mean "max_batch"?)`, 'bad config, status');
  assertOneLineError(t, await hallmark(['--home', home, 'start']), `${cfg}: rpc.listen`, 'bad config, start');
  writeFileSync(join(home, 'config.toml'), '');
  writeFileSync(join(home, 'genesis.json'), '{"protocol_version": 1, "chain_id": 5}');
  assertOneLineError(t, await hallmark(['--home', home, 'start']), `${join(home, 'genesis.json')}: chain_id: expected a string`, 'bad genesis, start');
});

t.test('no command prints the help and exits non-zero; --help exits 0', async (t) => {
  const none = await hallmark([]);
  t.not(none.code, 0);
  t.match(none.stderr, /Usage: hallmark/);
  const help = await hallmark(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /Commands:/);
  for (const c of ['init', 'start', 'keys', 'status', 'account', 'block', 'tx']) t.match(help.stdout, new RegExp(`^  ${c}\\b`, 'm'));
});

// ---- against a JSON-RPC server ---------------------------------------------------------------------

t.test('status, account, block and tx show print the RPC results', async (t) => {
  const home = liveDir(t);
  t.equal((await hallmark(['--home', home, 'init'])).code, 0);
  const faucet = JSON.parse(readFileSync(join(home, 'keys', 'faucet.json'), 'utf8'));
  const block = {
    hash: '11'.repeat(32),
    header: {
      protocol_version: 1, chain_id: 'hallmark-devnet', height: 7, time: '2026-11-23T10:00:07.000Z', last_block_hash: '01'.repeat(32),
      last_commit_hash: '02'.repeat(32), txs_hash: '03'.repeat(32), state_root: '04'.repeat(32), last_results_hash: '05'.repeat(32),
      validators_hash: '06'.repeat(32), proposer: SOMEONE, evidence_hash: '07'.repeat(32),
    },
    txs: [{ hash: '22'.repeat(32), raw: 'abcd', error: 'not a transaction' }], last_commit: null, evidence: [],
  };
  const txResult = {
    hash: '22'.repeat(32), height: 7, index: 0,
    tx: {
      chain_id: 'hallmark-devnet', sender: faucet.address, public_key: faucet.public_key, nonce: 3, fee: '1', gas_limit: 2000,
      payload: { type: 'transfer', to: SOMEONE, amount: '500' },
    },
    receipt: { ...RECEIPT_OK, gas_used: 2000 },
  };
  const { url, calls } = await rpcServer(t, ({ method, params }) => {
    if (method === 'chain_status') return STATUS;
    if (method === 'state_getAccount') return { address: params.address, balance: '1000000000000000000', nonce: 3, height: 42 };
    if (method === 'chain_getBlock') {
      if (params.height === 999) throw { code: -32004, message: 'no block at height 999 (latest is 42)' };
      return block;
    }
    if (method === 'tx_get') return txResult;
    throw { code: -32601, message: `method not found: ${method}` };
  });
  const run = (...args: string[]) => hallmark(['--home', home, '--rpc', url, ...args]);

  const s = await run('status', '--json');
  t.equal(s.code, 0, s.stderr);
  t.same(JSON.parse(s.stdout), STATUS);
  const sh = await run('status');
  t.match(sh.stdout, /^chain id +hallmark-devnet$/m);
  t.match(sh.stdout, /^height +42$/m);
  t.match(sh.stdout, /^catching up +no$/m);
  t.match(sh.stdout, /^earliest block +1\nsnapshot +none$/m);

  const a = await run('account', 'faucet', '--json');
  t.equal(a.code, 0, a.stderr);
  t.same(JSON.parse(a.stdout), { address: faucet.address, balance: '1000000000000000000', nonce: 3, height: 42 });
  t.same(calls.at(-1), { method: 'state_getAccount', params: { address: faucet.address } }, 'a key name resolves to its address');
  const upper = await run('account', faucet.address.toUpperCase());
  t.equal(upper.code, 0, upper.stderr);
  t.match(upper.stdout, /^balance +1000000000000000000$/m);
  t.same(calls.at(-1)?.params, { address: faucet.address }, 'addresses are sent in their canonical form');

  t.same(JSON.parse((await run('block', '--json')).stdout), block);
  t.same(calls.at(-1), { method: 'chain_getBlock', params: {} }, 'no height: the latest block');
  const b7 = await run('block', '7');
  t.match(b7.stdout, /^height +7$/m);
  t.match(b7.stdout, new RegExp(`^  ${'22'.repeat(32)}$`, 'm'));
  t.same(calls.at(-1)?.params, { height: 7 });
  await run('block', 'AB'.repeat(32));
  t.same(calls.at(-1)?.params, { hash: 'ab'.repeat(32) });
  assertOneLineError(t, await run('block', '999'), /^error: no block at height 999 \(latest is 42\)$/, 'an RPC error');

  const tx = await run('tx', 'show', '22'.repeat(32));
  t.equal(tx.code, 0, tx.stderr);
  t.match(tx.stdout, /^amount +500$/m);
  t.match(tx.stdout, /^status +ok$/m);
  t.same(JSON.parse((await run('tx', 'show', '22'.repeat(32), '--json')).stdout), txResult);
});

t.test('tx transfer signs with the key store and broadcasts', async (t) => {
  const home = liveDir(t);
  t.equal((await hallmark(['--home', home, 'init'])).code, 0);
  const faucet = JSON.parse(readFileSync(join(home, 'keys', 'faucet.json'), 'utf8'));
  const bob = JSON.parse((await hallmark(['--home', home, 'keys', 'add', 'bob', '--json'])).stdout);
  let failNext = false;
  const { url, calls } = await rpcServer(t, ({ method, params }) => {
    if (method === 'chain_status') return { ...STATUS, chain_id: 'hallmark-cli-test' };
    if (method === 'chain_getParams') {
      return {
        protocol_version: 1, max_bytes: 1 << 20, max_txs: 1000, max_gas: 250_000_000, min_gas_price: '1', admission_min_gas_price: '2',
        max_tx_bytes: 1 << 19, precision_ms: 500, message_delay_ms: 2000, evidence_max_age_heights: 100_000,
      };
    }
    if (method === 'state_getAccount') return { address: params.address, balance: '100', nonce: 4, height: 42 };
    if (method === 'tx_broadcast') {
      const stx = decodeSignedTransaction(fromHex(params.tx as string));
      if (!verifyTransactionSignature(stx)) throw { code: -32010, message: 'invalid_signature: bad signature' };
      const hash = toHex(stx.hash);
      if (params.wait === 'checked') return { hash, status: 'checked' };
      if (failNext) return { hash, status: 'committed', height: 43, index: 0, receipt: { ...RECEIPT_OK, status: 'insufficient_funds', code: 5, error: 'balance 100 is below 1000' } };
      return { hash, status: 'committed', height: 43, index: 0, receipt: RECEIPT_OK };
    }
    throw { code: -32601, message: `method not found: ${method}` };
  });
  const run = (...args: string[]) => hallmark(['--home', home, '--rpc', url, ...args]);

  const r = await run('tx', 'transfer', '--to', 'bob', '--amount', '25', '--json');
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.equal(out.status, 'committed');
  t.equal(out.height, 43);
  const broadcast = calls.find((c) => c.method === 'tx_broadcast')!;
  t.equal(broadcast.params.wait, 'committed');
  const stx = decodeSignedTransaction(fromHex(broadcast.params.tx as string));
  t.equal(out.hash, toHex(stx.hash));
  t.equal(stx.tx.chainId, 'hallmark-cli-test', 'chain id from chain_status');
  t.equal(stx.tx.nonce, 4, 'nonce from state_getAccount');
  t.same(calls.find((c) => c.method === 'state_getAccount')?.params, { address: faucet.address }, 'the faucet pays by default');
  t.ok(equalBytes(stx.tx.sender, fromHex(faucet.public_key)));
  t.equal(stx.tx.gasLimit, intrinsicGas(stx.bytes.length, stx.tx.payload), 'a transfer declares exactly the gas it uses');
  t.equal(stx.tx.fee, BigInt(stx.tx.gasLimit) * 2n, 'and pays it at the node\'s minimum gas price');
  const p = stx.tx.payload;
  t.ok(p.kind === 'transfer' && equalBytes(p.to, parseAddress(bob.address)) && p.amount === 25n, 'a transfer of 25 to bob');

  calls.length = 0;
  const r2 = await run('tx', 'transfer', '--to', faucet.address, '--amount', '7', '--from', 'bob', '--fee', '3', '--nonce', '9', '--no-wait');
  t.equal(r2.code, 0, r2.stderr);
  t.match(r2.stdout, /^status +checked$/m);
  t.match(r2.stdout, /^hash +[0-9a-f]{64}$/m);
  t.same(calls.map((c) => c.method), ['chain_status', 'chain_getParams', 'tx_broadcast'], 'a given nonce is not looked up');
  const stx2 = decodeSignedTransaction(fromHex(calls[2]!.params.tx as string));
  t.equal(calls[2]!.params.wait, 'checked');
  t.ok(equalBytes(stx2.tx.sender, fromHex(bob.public_key)));
  t.equal(stx2.tx.nonce, 9);
  t.equal(stx2.tx.fee, 3n, 'a given fee is used as it is');
  t.equal(stx2.tx.gasLimit, intrinsicGas(stx2.bytes.length, stx2.tx.payload));
  t.equal(stx2.tx.payload.kind === 'transfer' && stx2.tx.payload.amount, 7n);

  failNext = true;
  const r3 = await run('tx', 'transfer', '--to', 'bob', '--amount', '1000');
  t.equal(r3.code, 1, 'a committed but failed transfer exits 1');
  t.match(r3.stdout, /^status +committed$/m);
  t.match(r3.stderr, /^error: transaction [0-9a-f]{64} was committed but failed: balance 100 is below 1000\n$/);
});

t.test('a node whose result does not match the method\'s result schema: one line naming what is wrong', async (t) => {
  const { url } = await rpcServer(t, ({ method }) => {
    if (method === 'chain_status') return { ...STATUS, latest_height: -1 };
    if (method === 'chain_getBlock') return { hash: '11'.repeat(32) };
    throw { code: -32601, message: `method not found: ${method}` };
  });
  const home = liveDir(t);
  assertOneLineError(t, await hallmark(['--home', home, '--rpc', url, 'status']),
    /^error: http:\/\/\S+ answered chain_status with a result that does not match its schema: latest_height: .+ \(is --rpc a Hallmark node of this version\?\)$/, 'a bad field');
  assertOneLineError(t, await hallmark(['--home', home, '--rpc', url, 'block', '--json']),
    /^error: \S+ answered chain_getBlock with a result that does not match its schema: header: /, 'a missing field');
});

t.test('an HTTP server that is not a JSON-RPC node', async (t) => {
  const server = createServer((_req, res) => {
    res.statusCode = 404;
    res.end('<html>not found</html>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const r = await hallmark(['--home', liveDir(t), '--rpc', url, 'status']);
  assertOneLineError(t, r, `error: ${url} answered HTTP 404 without JSON-RPC (is --rpc a Hallmark node?)`, 'not json-rpc');
});

// ---- against a real node ---------------------------------------------------------------------------

t.test('end to end: start a node, transfer, read it back, stop it with SIGTERM', async (t) => {
  const home = liveDir(t);
  t.equal((await hallmark(['--home', home, 'init'])).code, 0);
  const [rpcPort, p2pPort] = [await deadPort(), await deadPort()];
  writeFileSync(join(home, 'config.toml'),
    `[rpc]\nlisten = "127.0.0.1:${rpcPort}"\n[p2p]\nlisten = "127.0.0.1:${p2pPort}"\n[metrics]\nenabled = false\n[consensus]\nblock_time_ms = 20\n[log]\nformat = "json"\n`);
  const node = spawn(process.execPath, [BIN, '--home', home, 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  node.stdout.on('data', (d) => (logs += d));
  node.stderr.on('data', (d) => (logs += d));
  const exited = new Promise<number | null>((resolve) => node.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (node.exitCode === null) node.kill('SIGKILL');
  });

  // Ready once chain_status answers (the CLI finds the node through the home's config).
  let ready = false;
  for (let i = 0; i < 300 && !ready && node.exitCode === null; i++) {
    ready = (await hallmark(['--home', home, 'status'])).code === 0;
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(ready, `the node answers (logs: ${logs.slice(-500)})`);

  const bob = JSON.parse((await hallmark(['--home', home, 'keys', 'add', 'bob', '--json'])).stdout);
  const sent = await hallmark(['--home', home, 'tx', 'transfer', '--to', 'bob', '--amount', '1234', '--json']);
  t.equal(sent.code, 0, sent.stderr);
  const result = JSON.parse(sent.stdout);
  t.equal(result.status, 'committed');
  t.ok(result.height > 0);

  const acct = JSON.parse((await hallmark(['--home', home, 'account', 'bob', '--json'])).stdout);
  t.equal(acct.address, bob.address);
  t.equal(acct.balance, '1234');
  const shown = JSON.parse((await hallmark(['--home', home, 'tx', 'show', result.hash, '--json'])).stdout);
  t.equal(shown.height, result.height);
  t.equal(shown.tx.payload.amount, '1234');
  const block = JSON.parse((await hallmark(['--home', home, 'block', String(result.height), '--json'])).stdout);
  t.ok(block.txs.some((x: { hash: string }) => x.hash === result.hash), 'the block holds the transaction');

  const replay = await hallmark(['--home', home, 'tx', 'transfer', '--to', 'bob', '--amount', '1', '--nonce', '0']);
  assertOneLineError(t, replay, /nonce 0/, 'a used nonce is refused by the node');

  node.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM closes the node and exits 0');
  const lines = logs.split('\n').filter((l) => l !== '');
  t.ok(lines.length > 0);
  t.same(lines.filter((l) => { try { JSON.parse(l); return false; } catch { return true; } }), [], 'every log line is JSON ([log] format = "json")');
});
