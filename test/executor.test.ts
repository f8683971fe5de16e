import t from 'tap';
import { addressOf } from '../chain/address.ts';
import { blockHash, decodeBlock, encodeBlock } from '../chain/block.ts';
import { sha256 } from '../chain/hash.ts';
import { equalBytes, toHex } from '../chain/bytes.ts';
import { TxStatus } from '../chain/receipt.ts';
import { decodeSignedTransaction, encodeSignedTransaction, signTransaction, type SignedTransaction, type Transaction } from '../chain/tx.ts';
import type { Block } from '../chain/block.ts';
import type { BlockLimits } from '../chain/block-rules.ts';
import { PROTOCOL_VERSION } from '../chain/protocol.ts';
import { keyPairFromSecret, secretKeyFromSeed, type KeyPair } from '../chain/keys.ts';
import { BlockError } from '../execution/executor.ts';
import { SignatureCache } from '../consensus/verify.ts';
import { GAS } from '../execution/transaction.ts';
import { CHAIN_ID, nextBlock, openChain, PROPOSER, testAccounts, testGenesis, transfersFor } from './fixtures/chain.ts';

const [alice, bob] = testAccounts(2) as [KeyPair, KeyPair];
const A = addressOf(alice.publicKey);
const B = addressOf(bob.publicKey);

function transfer(over: Partial<Transaction> & { amount?: bigint } = {}, key = alice): Uint8Array {
  const { amount = 100n, ...rest } = over;
  const tx: Transaction = {
    chainId: CHAIN_ID, sender: key.publicKey, nonce: 0, fee: 3n, gasLimit: 2_000_000,
    payload: { kind: 'transfer', to: B, amount }, ...rest,
  };
  return signTransaction(tx, key.secretKey).bytes;
}

t.test('transfers move balances, advance nonces and pay fees to the proposer', async (t) => {
  const { db, executor } = await openChain(t.testdir());
  t.teardown(() => db.close());
  await executor.initGenesis(testGenesis([alice, bob], 1000n));
  const txs = [transfer({ nonce: 0, amount: 100n }), transfer({ nonce: 1, amount: 50n, fee: 7n })];
  const block = nextBlock(executor, txs);
  const applied = await executor.applyBlock(block);
  t.equal(applied.height, 1);
  t.same(applied.receipts.map((r) => r.status), [TxStatus.ok, TxStatus.ok]);
  t.same(await executor.getAccount(A), { balance: 1000n - 150n - 10n, nonce: 2 });
  t.same(await executor.getAccount(B), { balance: 1150n, nonce: 0 });
  t.same(await executor.getAccount(PROPOSER), { balance: 10n, nonce: 0 });
  const r0 = applied.receipts[0]!;
  t.equal(r0.gasUsed, GAS.txBase + GAS.txByte * txs[0]!.length + GAS.transfer, 'gas is base + per byte + transfer');
  t.same(r0.events[0]!.type, 'transfer');
  t.same(r0.events[0]!.attributes.find(([k]) => k === 'amount'), ['amount', '100']);
  t.ok(equalBytes(executor.head!.blockHash, blockHash(block.header)));
  // The next header carries the state root and receipts root this block left.
  const next = nextBlock(executor, []);
  t.ok(equalBytes(next.header.stateRoot, applied.stateRoot));
});

t.test('failed transactions: no trace before the fee, fee and nonce only after it', async (t) => {
  const { db, executor } = await openChain(t.testdir());
  t.teardown(() => db.close());
  await executor.initGenesis(testGenesis([alice, bob], 1000n));
  const poor = keyPairFromSecret(secretKeyFromSeed('poor'));
  const txs = [
    transfer({ nonce: 5 }),                               // bad nonce
    transfer({ nonce: 0, fee: 5n }, poor),                // cannot pay the fee
    transfer({ nonce: 0, fee: 2n, gasLimit: 10 }),        // out of gas: fee paid, nonce used
    transfer({ nonce: 1, fee: 2n, amount: 5000n }),       // insufficient funds: fee paid, nonce used
    transfer({ nonce: 2, fee: 1n, amount: 10n }),         // fine
  ];
  const { receipts } = await executor.applyBlock(nextBlock(executor, txs));
  t.same(receipts.map((r) => r.status), [
    TxStatus.bad_nonce, TxStatus.insufficient_fee_balance, TxStatus.out_of_gas, TxStatus.insufficient_funds, TxStatus.ok,
  ]);
  for (const r of receipts.slice(0, 4)) t.not(r.error, '', `status ${r.status} says why: ${r.error}`);
  t.equal(receipts[2]!.gasUsed, 10, 'out of gas uses the whole limit');
  t.same(await executor.getAccount(A), { balance: 1000n - 2n - 2n - 1n - 10n, nonce: 3 });
  t.same(await executor.getAccount(B), { balance: 1010n, nonce: 0 });
  t.same(await executor.getAccount(addressOf(poor.publicKey)), { balance: 0n, nonce: 0 });
  t.same(await executor.getAccount(PROPOSER), { balance: 5n, nonce: 0 });
});

t.test('blocks that do not link to the head are refused and change nothing', async (t) => {
  const { db, executor, tree } = await openChain(t.testdir());
  t.teardown(() => db.close());
  await executor.initGenesis(testGenesis([alice, bob], 1000n));
  await executor.applyBlock(nextBlock(executor, [transfer({ nonce: 0 })]));
  const good = nextBlock(executor, [transfer({ nonce: 1 })]);
  const head = executor.head!;
  const bad = (name: string, mutate: (b: typeof good) => void) => {
    const b = structuredClone(good);
    mutate(b);
    return [name, b] as const;
  };
  const cases = [
    bad('wrong height', (b) => { b.header.height = 3; }),
    bad('wrong chain', (b) => { b.header.chainId = 'other'; }),
    bad('wrong previous hash', (b) => { b.header.lastBlockHash = new Uint8Array(32); }),
    bad('wrong state root', (b) => { b.header.stateRoot = new Uint8Array(32).fill(1); }),
    bad('wrong results hash', (b) => { b.header.lastResultsHash = new Uint8Array(32); }),
    bad('txs not matching txsHash', (b) => { b.txs = [transfer({ nonce: 2 })]; }),
    bad('time going backwards', (b) => { b.header.time = 0; }),
    bad('time standing still', (b) => { b.header.time = head.time; }),
    bad('missing last commit', (b) => { b.lastCommit = null; }),
    bad('commit for another block', (b) => { b.lastCommit!.blockHash = new Uint8Array(32); }),
  ];
  for (const [name, b] of cases) {
    await t.rejects(executor.applyBlock(b), BlockError, name);
    t.same(executor.head, head, `${name}: head unchanged`);
    t.equal(tree.latestVersion, 1, `${name}: state unchanged`);
    t.equal(await executor.blocks.getBlock(2), undefined, `${name}: nothing stored`);
  }
  const applied = await executor.applyBlock(good);
  t.equal(applied.height, 2, 'the good block still applies afterwards');
});

t.test('block store: by height, by hash, transactions with receipts and position, commits', async (t) => {
  const { db, executor } = await openChain(t.testdir());
  t.teardown(() => db.close());
  await executor.initGenesis(testGenesis([alice, bob], 1000n));
  const b1 = nextBlock(executor, [transfer({ nonce: 0 }), transfer({ nonce: 1, amount: 9999n })]);
  const a1 = await executor.applyBlock(b1);
  const b2 = nextBlock(executor, [transfer({ nonce: 2 })]);
  await executor.applyBlock(b2, { height: 2, round: 1, blockHash: blockHash(b2.header), signatures: [] });
  t.ok(equalBytes((await executor.blocks.getBlockBytes(1))!, encodeBlock(b1)), 'block bytes by height');
  t.same(await executor.blocks.getBlock(2), b2);
  t.same(await executor.blocks.getBlockByHash(a1.blockHash), b1);
  t.equal(await executor.blocks.getBlockByHash(new Uint8Array(32)), undefined);
  const stored = await executor.blocks.getTx(a1.txHashes[1]!);
  t.equal(stored?.height, 1);
  t.equal(stored?.index, 1);
  t.equal(stored?.receipt.status, TxStatus.insufficient_funds);
  t.ok(equalBytes(stored!.raw, b1.txs[1]!), 'raw tx bytes');
  t.equal(stored?.tx?.tx.nonce, 1);
  t.equal(await executor.blocks.getTx(new Uint8Array(32)), undefined);
  t.same((await executor.blocks.getCommit(2))?.round, 1, 'the commit given with the block is stored');
  t.same((await executor.blocks.getCommit(1)), undefined);
  t.same((await executor.blocks.getReceipts(1))?.map((r) => r.status), [TxStatus.ok, TxStatus.insufficient_funds]);
});

t.test('genesis: refused twice and for duplicate accounts', async (t) => {
  const { db, executor } = await openChain(t.testdir());
  t.teardown(() => db.close());
  t.throws(() => executor.nextHeader({ txs: [], time: 0, proposer: A, lastCommit: null }), /no genesis/);
  await t.rejects(executor.initGenesis({ ...testGenesis([alice]), accounts: [{ address: A, balance: 1n }, { address: A, balance: 2n }] }), /listed twice/);
  await t.rejects(executor.initGenesis({ ...testGenesis([alice, bob]), accounts: [{ address: A, balance: 2n ** 63n }, { address: B, balance: 2n ** 63n }] }), /total supply/);
  await executor.initGenesis(testGenesis([alice]));
  await t.rejects(executor.initGenesis(testGenesis([alice])), /already holds chain/);
});

t.test('restart: a reopened database continues from its head', async (t) => {
  const dir = t.testdir();
  const accounts = testAccounts(5);
  const nonces = accounts.map(() => 0);
  let { db, executor } = await openChain(dir);
  await executor.initGenesis(testGenesis(accounts));
  for (let h = 1; h <= 5; h++) await executor.applyBlock(nextBlock(executor, transfersFor(1, h, accounts, nonces, 20)));
  const head = executor.head!;
  await db.close();
  ({ db, executor } = await openChain(dir));
  t.teardown(() => db.close());
  t.same(executor.head, head);
  const applied = await executor.applyBlock(nextBlock(executor, transfersFor(1, 6, accounts, nonces, 20)));
  t.equal(applied.height, 6);
  t.same(applied.receipts.filter((r) => r.status !== TxStatus.ok), [], 'nonces line up after the restart');
});

t.test('determinism: independent stores fed the same blocks agree at every height', async (t) => {
  const accounts = testAccounts(12);
  // Node A builds blocks; nodes B and C (with a different prune window and cache) only apply them.
  const a = await openChain(t.testdir({ a: {} }) + '/a');
  const b = await openChain(t.testdir({ b: {} }) + '/b', { keepVersions: 3, cacheNodes: 16 });
  const c = await openChain(t.testdir({ c: {} }) + '/c', { cacheNodes: 0 });
  t.teardown(async () => { await a.db.close(); await b.db.close(); await c.db.close(); });
  for (const n of [a, b, c]) await n.executor.initGenesis(testGenesis(accounts));
  const nonces = accounts.map(() => 0);
  const roots = new Set<string>();
  for (let h = 1; h <= 25; h++) {
    const block = nextBlock(a.executor, transfersFor(77, h, accounts, nonces, 1 + (h % 7) * 10, 5));
    const ra = await a.executor.applyBlock(block);
    const rb = await b.executor.applyBlock(block);
    const rc = await c.executor.applyBlock(block);
    t.same(toHex(rb.stateRoot), toHex(ra.stateRoot), `height ${h}: B has A's state root`);
    t.same(toHex(rc.stateRoot), toHex(ra.stateRoot), `height ${h}: C has A's state root`);
    t.same(rb.receipts, ra.receipts, `height ${h}: same receipts`);
    t.same(b.executor.head, a.executor.head);
    roots.add(toHex(ra.stateRoot));
  }
  t.equal(roots.size, 25, 'every height changed the state');
});

t.test('a block validated from its bytes, or with transactions already decoded, applies as one decoded afresh', async (t) => {
  const accounts = testAccounts(8);
  // A decodes everything itself; B validates each block from its bytes, then commits those bytes,
  // with every transaction known decoded (as a node's mempool knows them); C validates one block
  // and then applies another.
  const a = await openChain(t.testdir({ a: {} }) + '/a');
  const sigCache = new SignatureCache();
  const b = await openChain(t.testdir({ b: {} }) + '/b', undefined, { sigCache });
  const c = await openChain(t.testdir({ c: {} }) + '/c');
  t.teardown(async () => { await a.db.close(); await b.db.close(); await c.db.close(); });
  for (const n of [a, b, c]) await n.executor.initGenesis(testGenesis(accounts));
  const decoded = new Map<string, SignedTransaction>();
  let lookups = 0;
  b.executor.knownTx = (hash) => {
    lookups++;
    return decoded.get(toHex(hash));
  };
  const nonces = accounts.map(() => 0);
  for (let h = 1; h <= 6; h++) {
    const block = nextBlock(a.executor, transfersFor(91, h, accounts, nonces, 5 + h * 3, 4));
    const encoded = encodeBlock(block);
    // Half the transactions are known (decoded from copies of their bytes: other objects).
    block.txs.forEach((raw, i) => { if (i % 2 === 0) decoded.set(toHex(sha256(raw)), decodeSignedTransaction(Uint8Array.from(raw))); });
    const ra = await a.executor.applyBlock(block);
    const before = lookups;
    const checked = sigCache.stats();
    b.executor.validateBlock(block, { encoded });
    t.equal(lookups - before, block.txs.length, `height ${h}: validate looked up every transaction`);
    const after = sigCache.stats();
    t.equal(after.hits + after.misses - checked.hits - checked.misses, Math.floor(block.txs.length / 2), `height ${h}: only the signatures of transactions not known were checked`);
    const rb = await b.executor.applyBlock(decodeBlock(encoded), undefined, encoded);
    t.equal(lookups - before, block.txs.length, `height ${h}: apply took the validated transactions`);
    t.same(sigCache.stats(), after, `height ${h}: and checked no signature again`);
    t.same(toHex(rb.stateRoot), toHex(ra.stateRoot), `height ${h}: B has A's state root`);
    t.same(rb.receipts, ra.receipts);
    t.same(rb.txHashes.map(toHex), ra.txHashes.map(toHex));
    // C validates a block with one transaction fewer, then applies the real one: nothing is reused.
    const shorter = nextBlock(c.executor, block.txs.slice(1));
    c.executor.validateBlock(shorter, { encoded: encodeBlock(shorter) });
    const rc = await c.executor.applyBlock(block);
    t.same(toHex(rc.stateRoot), toHex(ra.stateRoot), `height ${h}: C has A's state root`);
  }
  t.same(b.executor.head, a.executor.head);
  // Known transactions are skipped, the others still checked: the bad one is named.
  const more = transfersFor(92, 99, accounts, nonces, 3);
  const forged = Uint8Array.from(more[2]!);
  forged[forged.length - 1]! ^= 1;
  decoded.set(toHex(sha256(more[0]!)), decodeSignedTransaction(more[0]!));
  t.throws(() => b.executor.validateBlock(nextBlock(b.executor, [more[0]!, more[1]!, forged])), /txs\[2\]: signature does not verify/);
  // A block B validated on an older head is checked again in full: its parent link now fails.
  const stale = nextBlock(b.executor, []);
  b.executor.validateBlock(stale, { encoded: encodeBlock(stale) });
  await b.executor.applyBlock(stale);
  await t.rejects(b.executor.applyBlock(stale, undefined, encodeBlock(stale)), BlockError);
});

/** A sender whose key is the small-order point (0, 1) encoded canonically. */
const SMALL_ORDER_KEY = Uint8Array.of(1, ...new Array<number>(31).fill(0));

t.test('one validity rule: a block breaking a limit or carrying a transaction no block may hold is refused whole, before anything runs', async (t) => {
  // Every transaction declares G, more than a transfer uses.
  const G = 2_000_000;
  const limits: BlockLimits = { protocolVersion: PROTOCOL_VERSION, maxBytes: 4096, maxTxs: 3, maxGas: 3 * G, minGasPrice: 1n };
  const { db, executor, tree } = await openChain(t.testdir(), undefined, { limits });
  t.teardown(() => db.close());
  await executor.initGenesis(testGenesis([alice, bob], 10_000_000n));
  const ok = (nonce: number, over: Partial<Transaction> = {}) => transfer({ nonce, fee: BigInt(G), gasLimit: G, ...over });
  const forged = signTransaction({ chainId: CHAIN_ID, sender: alice.publicKey, nonce: 0, fee: 2_000_000n, gasLimit: 2_000_000, payload: { kind: 'transfer', to: B, amount: 1n } }, bob.secretKey).bytes;
  const smallOrder = encodeSignedTransaction({
    tx: { chainId: CHAIN_ID, sender: SMALL_ORDER_KEY, nonce: 0, fee: 2_000_000n, gasLimit: 2_000_000, payload: { kind: 'transfer', to: B, amount: 1n } },
    signature: new Uint8Array(64),
  });
  const cases: [string, Uint8Array[], RegExp, ((b: Block) => void)?][] = [
    ['too many transactions', [ok(0), ok(1), ok(2), ok(3, { gasLimit: 1 })], /4 transactions exceed the limit of 3/],
    ['too many bytes', [ok(0, { payload: { kind: 'deploy', code: new Uint8Array(5000), args: new Uint8Array(0) } })], /bytes exceed the block size limit of 4096/],
    ['too much declared gas', [ok(0, { gasLimit: 2 * G, fee: BigInt(2 * G) }), ok(1, { gasLimit: 2 * G, fee: BigInt(2 * G) })], /declare more than the block gas limit of 6000000/],
    ['one transaction over the gas cap', [ok(0, { gasLimit: 3 * G + 1, fee: BigInt(3 * G + 1) })], /gas limit 6000001 exceeds the block gas limit of 6000000/],
    ['a fee below gas limit × price', [ok(0, { fee: BigInt(G - 1) })], /fee 1999999 is below gas limit 2000000 × minimum gas price 1 = 2000000/],
    ['another chain\'s transaction', [ok(0, { chainId: 'other-chain' })], /txs\[0\] is for chain other-chain/],
    ['a bad signature', [ok(0), forged], /txs\[1\]: signature does not verify/],
    ['bytes that are not a transaction', [Uint8Array.of(0x82, 0x01)], /txs\[0\] is malformed/],
    ['a small-order sender key', [smallOrder], /sender key .* small-order/],
    ['another protocol version', [ok(0)], new RegExp(`protocol version ${PROTOCOL_VERSION + 1}; this chain runs version ${PROTOCOL_VERSION}`), (b) => { b.header.protocolVersion = PROTOCOL_VERSION + 1; }],
  ];
  for (const [name, txs, reason, edit] of cases) {
    const b = nextBlock(executor, txs);
    edit?.(b);
    t.throws(() => executor.validateBlock(b), { name: 'BlockError', message: reason }, `${name}: validateBlock refuses it`);
    await t.rejects(executor.applyBlock(b), { code: 'invalid_block', message: reason }, `${name}: applyBlock refuses it`);
    t.equal(executor.head!.height, 0, `${name}: nothing applied`);
    t.equal(tree.latestVersion, 0, `${name}: state unchanged`);
  }
  // The same limits exactly met are fine.
  const full = nextBlock(executor, [ok(0), ok(1), ok(2)]);
  t.doesNotThrow(() => executor.validateBlock(full));
  t.same((await executor.applyBlock(full)).receipts.map((r) => r.status), [TxStatus.ok, TxStatus.ok, TxStatus.ok]);
  const a = await executor.getAccount(A);
  t.equal(a.balance, 10_000_000n - 3n * (BigInt(G) + 100n), 'each paid its whole fee: unused gas is not refunded');
});
