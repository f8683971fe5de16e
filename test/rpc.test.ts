/**
 * Every JSON-RPC method over real HTTP against a real node (LevelDB, executor, mempool, signed
 * commits): each result is checked against the method's own result schema (the one the OpenRPC
 * document publishes) and against what the chain holds.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { addressOf, formatAddress } from '../chain/address.ts';
import { fromHex, toHex } from '../chain/bytes.ts';
import { generateKeyPair } from '../chain/keys.ts';
import { verifySignature } from '../chain/signature.ts';
import { signTransaction } from '../chain/tx.ts';
import { PRECOMMIT, PREVOTE, voteSignBytes } from '../chain/vote.ts';
import { accountKey } from '../execution/account.ts';
import { RPC_ERRORS, RPC_METHODS } from '../rpc/methods.ts';
import { startRpcServer, type RpcServer } from '../rpc/server.ts';
import { decodeStateProof, verifyStateProof } from '../state/proof.ts';
import { CHAIN_ID, GENESIS_TIME } from './fixtures/chain.ts';
import { openRpcTestNode, rpcRequest, type RpcTestNode } from './fixtures/rpc-node.ts';

const byName = new Map(RPC_METHODS.map((m) => [m.name, m]));
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

let node: RpcTestNode;
let server: RpcServer;

t.before(async () => {
  node = await openRpcTestNode();
  server = await startRpcServer(node.query, { host: '127.0.0.1', port: 0 });
  node.rpcUrl = server.url;
});
t.teardown(async () => {
  await server.close();
  await node.close();
});

/** Calls `method`; fails the test unless the result exists and matches the method's result schema. */
async function call(tt: Test, method: string, params?: unknown): Promise<any> {
  const { status, body } = await rpcRequest(server.url, method, params);
  tt.equal(status, 200, `${method}: HTTP 200`);
  if (body.error !== undefined) {
    tt.fail(`${method} failed: ${JSON.stringify(body.error)}`);
    throw new Error(body.error.message);
  }
  const check = byName.get(method)!.result.safeParse(body.result);
  tt.ok(check.success, `${method}: result matches its schema${check.success ? '' : `: ${JSON.stringify(check.error.issues)}`}`);
  return body.result;
}

/** Calls `method` expecting an error with `code`; returns the error object. */
async function callError(tt: Test, method: string, params: unknown, code: number): Promise<{ code: number; message: string; data?: any }> {
  const { body } = await rpcRequest(server.url, method, params);
  tt.equal(body.result, undefined, `${method}: no result`);
  tt.equal(body.error?.code, code, `${method}: error ${code} (${body.error?.message})`);
  return body.error!;
}

const recipient = addressOf(generateKeyPair().publicKey);

t.test('chain_status at genesis', async (t) => {
  const s = await call(t, 'chain_status');
  t.equal(s.chain_id, CHAIN_ID);
  t.equal(s.node_id, node.nodeId);
  t.equal(s.validator_address, formatAddress(node.validatorAddress!));
  t.equal(s.latest_height, 0);
  t.equal(s.latest_block_hash, '0'.repeat(64));
  t.equal(s.latest_block_time, new Date(GENESIS_TIME).toISOString());
  t.equal(s.latest_state_root, toHex(node.executor.head!.stateRoot));
  t.equal(s.catching_up, false);
  const e = await callError(t, 'chain_getBlock', {}, RPC_ERRORS.not_found.code);
  t.match(e.message, /genesis/);
});

let txHash = '';

t.test('tx_broadcast with wait committed returns the receipt', async (t) => {
  node.autoProduce = true;
  t.teardown(() => { node.autoProduce = false; });
  const stx = await node.transfer(0, recipient, 12_345n, { fee: 7n });
  const r = await call(t, 'tx_broadcast', { tx: toHex(stx.bytes), wait: 'committed', timeout_ms: 5000 });
  txHash = toHex(stx.hash);
  t.same(r, {
    hash: txHash, status: 'committed', height: 1, index: 0,
    receipt: {
      status: 'ok', code: 0, gas_used: r.receipt.gas_used,
      events: [{ type: 'transfer', attributes: [
        { key: 'from', value: formatAddress(addressOf(node.accounts[0]!.publicKey)) },
        { key: 'to', value: formatAddress(recipient) },
        { key: 'amount', value: '12345' },
      ] }],
      return_data: '',
    },
  });
  t.ok(r.receipt.gas_used > 0, 'gas was used');
  t.equal(node.executor.head!.height, 1);

  // Sent again with wait committed: already committed, so answered from the chain, not refused.
  const again = await call(t, 'tx_broadcast', { tx: toHex(stx.bytes), wait: 'committed', timeout_ms: 1000 });
  t.same({ ...again }, { ...r }, 'resubmitting a committed transaction waits (and finds it) rather than failing');
  // With wait checked the mempool's refusal is the answer.
  const refused = await callError(t, 'tx_broadcast', { tx: toHex(stx.bytes) }, RPC_ERRORS.tx_refused.code);
  t.same(refused.data, { reason: 'nonce_used' });
});

t.test('tx_get and state_getAccount show the committed transfer', async (t) => {
  const g = await call(t, 'tx_get', { hash: txHash });
  t.equal(g.hash, txHash);
  t.equal(g.height, 1);
  t.equal(g.index, 0);
  t.same(g.tx, {
    chain_id: CHAIN_ID,
    sender: formatAddress(addressOf(node.accounts[0]!.publicKey)),
    public_key: toHex(node.accounts[0]!.publicKey),
    nonce: 0, fee: '7', gas_limit: 2_000_000,
    payload: { type: 'transfer', to: formatAddress(recipient), amount: '12345' },
  });
  t.equal(g.receipt.status, 'ok');
  t.equal(g.receipt.code, 0);
  t.notOk('error' in g.receipt, 'no error on success');
  // Upper-case and 0x-prefixed hashes are the same hash.
  t.same(await call(t, 'tx_get', { hash: `0x${txHash.toUpperCase()}` }), g);

  const to = await call(t, 'state_getAccount', { address: formatAddress(recipient) });
  t.same(to, { address: formatAddress(recipient), balance: '12345', nonce: 0, height: 1 });
  const from = await call(t, 'state_getAccount', { address: formatAddress(addressOf(node.accounts[0]!.publicKey)) });
  t.same(from, { address: formatAddress(addressOf(node.accounts[0]!.publicKey)), balance: String(1_000_000_000n - 12_345n - 7n), nonce: 1, height: 1 });
  const stranger = formatAddress(addressOf(generateKeyPair().publicKey));
  t.same(await call(t, 'state_getAccount', { address: stranger }), { address: stranger, balance: '0', nonce: 0, height: 1 });
});

t.test('state_getProof verifies against its root, and fails for a tampered value', async (t) => {
  const status = await call(t, 'chain_status');
  const p = await call(t, 'state_getProof', { address: formatAddress(recipient) });
  const key = accountKey(recipient);
  t.equal(p.key, toHex(key));
  t.equal(p.height, 1);
  t.equal(p.root, status.latest_state_root, 'the root is the latest state root');
  t.not(p.value, null);
  const proof = decodeStateProof(fromHex(p.proof));
  const value = fromHex(p.value);
  t.ok(verifyStateProof(fromHex(p.root), key, value, proof), 'inclusion proof verifies');
  const tampered = value.slice();
  tampered[tampered.length - 1]! ^= 1;
  t.notOk(verifyStateProof(fromHex(p.root), key, tampered, proof), 'a tampered value does not verify');
  t.notOk(verifyStateProof(fromHex(p.root), key, undefined, proof), 'nor does claiming absence');

  t.same(await call(t, 'state_getProof', { key: toHex(key) }), p, 'by key and by address agree');

  // At genesis the recipient did not exist: an exclusion proof against the genesis root.
  const g = await call(t, 'state_getProof', { address: formatAddress(recipient), height: 0 });
  t.equal(g.value, null);
  t.not(g.root, p.root);
  t.ok(verifyStateProof(fromHex(g.root), key, undefined, decodeStateProof(fromHex(g.proof))), 'exclusion proof verifies');
  t.notOk(verifyStateProof(fromHex(g.root), key, value, decodeStateProof(fromHex(g.proof))), 'and does not prove the later value');

  const e = await callError(t, 'state_getProof', { key: toHex(key), height: 99 }, RPC_ERRORS.not_found.code);
  t.match(e.message, /latest height is 1/);
  const both = await callError(t, 'state_getProof', { key: toHex(key), address: formatAddress(recipient) }, RPC_ERRORS.invalid_params.code);
  t.same(both.data.issues, [{ path: 'key', message: 'give exactly one of key and address' }]);
});

t.test('chain_getBlock by height, by hash and latest agree; chain_getCommit matches the signed commit', async (t) => {
  const status = await call(t, 'chain_status');
  const byHeight = await call(t, 'chain_getBlock', { height: 1 });
  const byHash = await call(t, 'chain_getBlock', { hash: byHeight.hash });
  const latest = await call(t, 'chain_getBlock', {});
  t.same(byHash, byHeight);
  t.same(latest, byHeight);
  t.equal(byHeight.hash, status.latest_block_hash);
  t.equal(byHeight.header.height, 1);
  t.equal(byHeight.header.chain_id, CHAIN_ID);
  t.equal(byHeight.header.proposer, formatAddress(node.validatorAddress!));
  t.equal(byHeight.header.time, new Date(GENESIS_TIME + 1000).toISOString());
  t.equal(byHeight.last_commit, null, 'the first block has no last commit');
  t.same(byHeight.evidence, []);
  t.equal(byHeight.txs.length, 1);
  t.equal(byHeight.txs[0].hash, txHash);
  t.equal(byHeight.txs[0].payload.amount, '12345');

  await node.produceBlock();
  const b2 = await call(t, 'chain_getBlock', { height: 2 });
  t.equal(b2.header.last_block_hash, byHeight.hash);
  t.same(b2.txs, []);
  const commit = await call(t, 'chain_getCommit', { height: 1 });
  t.same(commit, b2.last_commit, 'the stored commit is the one block 2 carries');
  t.equal(commit.block_hash, byHeight.hash);
  t.equal(commit.signatures.length, 1);
  const sig = commit.signatures[0];
  t.equal(sig.validator, formatAddress(node.validatorAddress!));
  const signed = voteSignBytes(CHAIN_ID, { type: PRECOMMIT, height: 1, round: 0, blockHash: fromHex(commit.block_hash) });
  t.ok(verifySignature(node.validatorKey.publicKey, signed, fromHex(sig.signature)), 'the commit signature verifies');
  t.same(await call(t, 'chain_getCommit', {}), await call(t, 'chain_getCommit', { height: 2 }), 'latest commit is height 2');

  await callError(t, 'chain_getBlock', { height: 3 }, RPC_ERRORS.not_found.code);
  await callError(t, 'chain_getBlock', { hash: 'ab'.repeat(32) }, RPC_ERRORS.not_found.code);
  await callError(t, 'chain_getBlock', { height: 0 }, RPC_ERRORS.not_found.code);
  await callError(t, 'chain_getCommit', { height: 3 }, RPC_ERRORS.not_found.code);
  const both = await callError(t, 'chain_getBlock', { height: 1, hash: byHeight.hash }, RPC_ERRORS.invalid_params.code);
  t.same(both.data.issues, [{ path: 'hash', message: 'give height or hash, not both' }]);
});

t.test('tx_broadcast: checked, none, refusals and wait timeout', async (t) => {
  const a = await node.transfer(1, recipient, 1n);
  const checked = await call(t, 'tx_broadcast', { tx: toHex(a.bytes) });
  t.same(checked, { hash: toHex(a.hash), status: 'checked' });
  t.ok(node.mempool.has(a.hash), 'admitted to the mempool');

  const dup = await callError(t, 'tx_broadcast', { tx: toHex(a.bytes), wait: 'checked' }, RPC_ERRORS.tx_refused.code);
  t.same(dup.data, { reason: 'duplicate' });
  t.match(dup.message, /already in the mempool/);

  // tx_get of a pending transaction: not found, and says it is pending.
  const pending = await callError(t, 'tx_get', { hash: toHex(a.hash) }, RPC_ERRORS.not_found.code);
  t.same(pending.data, { hash: toHex(a.hash), pending: true });
  const unknown = await callError(t, 'tx_get', { hash: 'cd'.repeat(32) }, RPC_ERRORS.not_found.code);
  t.same(unknown.data, { hash: 'cd'.repeat(32), pending: false });

  // wait none: answered after decoding; admission follows.
  const b = await node.transfer(2, recipient, 2n);
  const none = await call(t, 'tx_broadcast', { tx: toHex(b.bytes), wait: 'none' });
  t.same(none, { hash: toHex(b.hash), status: 'submitted' });
  for (let i = 0; i < 1000 && !node.mempool.has(b.hash); i++) await new Promise((r) => setImmediate(r));
  t.ok(node.mempool.has(b.hash), 'admitted in the background');

  // A bad signature is refused by the mempool with its code.
  const c = await node.transfer(3, recipient, 3n);
  const forged = c.bytes.slice();
  forged[forged.length - 1]! ^= 1;
  const bad = await callError(t, 'tx_broadcast', { tx: toHex(forged) }, RPC_ERRORS.tx_refused.code);
  t.same(bad.data, { reason: 'invalid_signature' });
  // Bytes that are not a transaction: refused as malformed, even with wait none.
  const junk = await callError(t, 'tx_broadcast', { tx: 'deadbeef', wait: 'none' }, RPC_ERRORS.tx_refused.code);
  t.same(junk.data, { reason: 'malformed' });
  // Wrong chain.
  const k = node.accounts[3]!;
  const other = signTransaction({ chainId: 'other-chain', sender: k.publicKey, nonce: 0, fee: 1n, gasLimit: 2_000_000, payload: { kind: 'transfer', to: recipient, amount: 1n } }, k.secretKey);
  t.same((await callError(t, 'tx_broadcast', { tx: toHex(other.bytes) }, RPC_ERRORS.tx_refused.code)).data, { reason: 'wrong_chain' });

  // wait committed with no block coming: the wait times out and names the hash.
  const d = await node.transfer(3, recipient, 4n);
  const timeout = await callError(t, 'tx_broadcast', { tx: toHex(d.bytes), wait: 'committed', timeout_ms: 20 }, RPC_ERRORS.wait_timeout.code);
  t.same(timeout.data, { hash: toHex(d.hash), timeout_ms: 20 });
  t.ok(node.mempool.has(d.hash), 'the transaction stays in the mempool');
  const tooLong = await callError(t, 'tx_broadcast', { tx: toHex(d.bytes), wait: 'committed', timeout_ms: 10_001 }, RPC_ERRORS.invalid_params.code);
  t.equal(tooLong.data.issues[0].path, 'timeout_ms');

  const applied = await node.produceBlock();
  t.equal(applied.txHashes.length, 3, 'the pending transfers are committed');
  t.equal((await call(t, 'tx_get', { hash: toHex(d.hash) })).height, applied.height);
});

t.test('invalid params name each field and why', async (t) => {
  const ip = RPC_ERRORS.invalid_params.code;
  const neg = await callError(t, 'chain_getBlock', { height: -1 }, ip);
  t.equal(neg.data.issues[0].path, 'height');
  const str = await callError(t, 'chain_getBlock', { height: '1' }, ip);
  t.match(str.data.issues[0], { path: 'height', message: /expected number/ });
  const frac = await callError(t, 'chain_getCommit', { height: 1.5 }, ip);
  t.equal(frac.data.issues[0].path, 'height');
  const shortHash = await callError(t, 'tx_get', { hash: 'abcd' }, ip);
  t.same(shortHash.data.issues, [{ path: 'hash', message: 'expected 32 bytes as hex (64 hex digits)' }]);
  const missing = await callError(t, 'tx_get', {}, ip);
  t.equal(missing.data.issues[0].path, 'hash');
  // The last checksum character changed (to another one: the address is random, and may end in q).
  const good = formatAddress(recipient);
  const addr = await callError(t, 'state_getAccount', { address: good.slice(0, -1) + (good.endsWith('q') ? 'p' : 'q') }, ip);
  t.match(addr.data.issues[0], { path: 'address', message: /checksum/ });
  const prefix = await callError(t, 'state_getAccount', { address: 'cosmos1qqqq' }, ip);
  t.match(prefix.data.issues[0], { path: 'address', message: /must start with "hm1"/ });
  const typo = await callError(t, 'chain_getBlock', { hieght: 1 }, ip);
  t.same(typo.data.issues, [{ path: 'hieght', message: 'unknown parameter' }]);
  t.match(typo.message, /hieght: unknown parameter/);
  const wait = await callError(t, 'tx_broadcast', { tx: '00', wait: 'soon' }, ip);
  t.equal(wait.data.issues[0].path, 'wait');
  const oddHex = await callError(t, 'tx_broadcast', { tx: 'abc' }, ip);
  t.same(oddHex.data.issues, [{ path: 'tx', message: 'expected hex: pairs of digits 0-9a-f' }]);
  const several = await callError(t, 'state_getProof', { key: 'zz', height: -2, extra: true }, ip);
  t.same(several.data.issues.map((i: { path: string }) => i.path).sort(), ['extra', 'height', 'key']);
});

t.test('params by position, in the order rpc.discover lists them', async (t) => {
  const ip = RPC_ERRORS.invalid_params.code;
  t.same(await call(t, 'rpc.discover', []), await call(t, 'rpc.discover'), 'rpc.discover with params []');
  t.same(await call(t, 'chain_getBlock', [2]), await call(t, 'chain_getBlock', { height: 2 }), 'chain_getBlock [2] is height 2');
  t.same(await call(t, 'chain_getCommit', []), await call(t, 'chain_getCommit', {}), 'an empty array is no params');
  t.same(await call(t, 'tx_get', [txHash]), await call(t, 'tx_get', { hash: txHash }));
  const key = toHex(accountKey(recipient));
  t.same(await call(t, 'state_getProof', [key]), await call(t, 'state_getProof', { key }));
  const stx = await node.transfer(0, recipient, 1n);
  t.same(await call(t, 'tx_broadcast', [toHex(stx.bytes), 'checked']), { hash: toHex(stx.hash), status: 'checked' }, 'tx and wait by position');

  const three = await callError(t, 'chain_getBlock', [1, txHash, 3], ip);
  t.same(three.data.issues, [{ path: 'params', message: 'expected at most 2 (height, hash) by position, got 3' }]);
  t.match(three.message, /^invalid params: params: expected at most 2 \(height, hash\) by position, got 3$/);
  const none = await callError(t, 'chain_status', [1], ip);
  t.same(none.data.issues, [{ path: 'params', message: 'expected no params by position, got 1' }]);
  const missing = await callError(t, 'tx_get', [], ip);
  t.same(missing.data.issues.map((i: { path: string }) => i.path), ['hash'], 'a required param left out is named');
  const wrong = await callError(t, 'chain_getBlock', ['1'], ip);
  t.match(wrong.data.issues, [{ path: 'height', message: /expected number/ }], 'a bad value is named after its position\'s param');
});

t.test('consensus_validators, consensus_state, net_info', async (t) => {
  const v = await call(t, 'consensus_validators');
  t.same(v, {
    height: node.executor.head!.height + 1,
    total_power: 10,
    validators: [{ address: formatAddress(node.validatorAddress!), name: 'validator-0', public_key: toHex(node.validatorKey.publicKey), power: 10 }],
  });
  const s = await call(t, 'consensus_state');
  t.same(s, {
    height: node.executor.head!.height + 1, round: 0, step: 'propose', locked_round: -1, valid_round: -1,
    proposer: formatAddress(node.validatorAddress!), prevote_power: 0, precommit_power: 0, total_power: 10,
  });
  const n = await call(t, 'net_info');
  t.same(n, { listening: true, listen_addresses: { rpc: server.url, p2p: null }, peers: [], n_peers: 0 });
});

t.test('consensus_evidence: pending, then committed in a block', async (t) => {
  t.same(await call(t, 'consensus_evidence'), { committed: [], pending: [] });
  const ev = node.equivocation(1, 0, PREVOTE);
  node.pendingEvidence.push(ev);
  const expected = {
    validator: formatAddress(node.validatorAddress!), height: 1, round: 0, type: 'prevote',
    first_block_hash: toHex(ev.first.blockHash!), second_block_hash: toHex(ev.second.blockHash!),
    first_signature: toHex(ev.first.signature), second_signature: toHex(ev.second.signature),
  };
  t.same(await call(t, 'consensus_evidence'), { committed: [], pending: [expected] });
  const applied = await node.produceBlock();
  t.same(await call(t, 'consensus_evidence'), { committed: [{ height: applied.height, evidence: expected }], pending: [] });
  const block = await call(t, 'chain_getBlock', { height: applied.height });
  t.same(block.evidence, [expected], 'the block lists it');
  t.not(block.header.evidence_hash, (await call(t, 'chain_getBlock', { height: 1 })).header.evidence_hash);
});

t.test('rpc.discover lists exactly the registered methods, with JSON Schemas', async (t) => {
  const doc = await call(t, 'rpc.discover');
  t.equal(doc.openrpc, '1.2.6');
  t.same(doc.info.title, 'Hallmark JSON-RPC');
  t.equal(doc.info.version, pkg.version);
  const names = doc.methods.map((m: { name: string }) => m.name);
  t.same(names, RPC_METHODS.map((m) => m.name));
  t.equal(new Set(names).size, names.length, 'no duplicates');
  for (const m of doc.methods) {
    t.equal(m.paramStructure, 'either');
    for (const p of m.params) {
      t.type(p.name, 'string');
      t.type(p.required, 'boolean');
      t.ok(p.schema !== null && typeof p.schema === 'object' && !Array.isArray(p.schema), `${m.name}.${p.name}: schema is an object`);
      t.ok(typeof p.schema.type === 'string' || Array.isArray(p.schema.anyOf), `${m.name}.${p.name}: schema has a type`);
    }
    t.equal(m.result.schema.type, 'object', `${m.name}: result schema is an object schema`);
    t.ok(m.errors.some((e: { code: number }) => e.code === RPC_ERRORS.invalid_params.code), `${m.name}: lists invalid params`);
  }
  const getBlock = doc.methods.find((m: { name: string }) => m.name === 'chain_getBlock');
  t.same(getBlock.params.map((p: { name: string; required: boolean }) => [p.name, p.required]), [['height', false], ['hash', false]]);
  t.equal(getBlock.params[1].schema.pattern, '^(?:0x)?[0-9a-fA-F]{64}$');
  const broadcast = doc.methods.find((m: { name: string }) => m.name === 'tx_broadcast');
  t.same(broadcast.params.map((p: { name: string; required: boolean }) => [p.name, p.required]), [['tx', true], ['wait', false], ['timeout_ms', false]]);
  t.ok(broadcast.errors.some((e: { code: number }) => e.code === RPC_ERRORS.tx_refused.code));
  t.same(Object.keys(doc.components.errors).sort(), Object.keys(RPC_ERRORS).sort());
});
