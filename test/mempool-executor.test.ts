/**
 * The mempool and the executor together: what the mempool reaps executes cleanly, and after the
 * block the mempool drops what was committed and keeps what still waits.
 */
import t from 'tap';
import { addressOf } from '../chain/address.ts';
import { TxStatus } from '../chain/receipt.ts';
import { signTransaction } from '../chain/tx.ts';
import { SignatureCache } from '../consensus/verify.ts';
import { Executor } from '../execution/executor.ts';
import { Mempool } from '../mempool/mempool.ts';
import { CHAIN_ID, nextBlock, openChain, seeded, testAccounts, testGenesis } from './fixtures/chain.ts';

t.test('reaped transactions execute, and update() keeps the mempool in step with the chain', async (t) => {
  const { db, executor } = await openChain(t.testdir());
  t.teardown(() => db.close());
  const accounts = testAccounts(8);
  await executor.initGenesis(testGenesis(accounts, 10_000n));
  const mempool = new Mempool({ chainId: CHAIN_ID, accounts: executor });
  const r = seeded(5);
  const next = accounts.map(() => 0);
  const gapped: Uint8Array[] = [];
  for (let i = 0; i < 120; i++) {
    const from = r.int(accounts.length);
    const k = accounts[from]!;
    const stx = signTransaction({
      chainId: CHAIN_ID, sender: k.publicKey, nonce: next[from]!++, fee: BigInt(1 + r.int(20)), gasLimit: 2_000_000,
      payload: { kind: 'transfer', to: addressOf(accounts[r.int(accounts.length)]!.publicKey), amount: BigInt(r.int(50)) },
    }, k.secretKey);
    await mempool.add(stx.bytes);
  }
  // One sender also has a transaction beyond a nonce gap: it must wait.
  const k0 = accounts[0]!;
  const far = signTransaction({ chainId: CHAIN_ID, sender: k0.publicKey, nonce: next[0]! + 1, fee: 99n, gasLimit: 2_000_000, payload: { kind: 'transfer', to: addressOf(k0.publicKey), amount: 1n } }, k0.secretKey);
  await mempool.add(far.bytes);
  gapped.push(far.hash);
  t.equal(mempool.size, 121);

  let height = 0;
  while (mempool.size > 1) {
    const txs = mempool.reap({ maxTxs: 25, maxBytes: 1 << 20 });
    t.ok(txs.length > 0 && txs.length <= 25, `block ${height + 1}: reaped ${txs.length}`);
    const { receipts } = await executor.applyBlock(nextBlock(executor, txs.map((s) => s.bytes)));
    t.same(receipts.filter((x) => x.status !== TxStatus.ok).map((x) => x.error), [], 'every reaped transaction succeeds');
    await mempool.update(txs);
    for (const s of txs) t.notOk(mempool.has(s.hash), 'committed transactions leave the mempool');
    if (++height > 10) break;
  }
  t.equal(mempool.size, 1, 'only the gapped transaction is left');
  t.ok(mempool.has(gapped[0]!));
  t.same(mempool.reap({ maxTxs: 10, maxBytes: 1 << 20 }), [], 'and it is not reaped');
  // Once the gap is filled, both go through.
  const fill = signTransaction({ chainId: CHAIN_ID, sender: k0.publicKey, nonce: next[0]!, fee: 1n, gasLimit: 2_000_000, payload: { kind: 'transfer', to: addressOf(k0.publicKey), amount: 1n } }, k0.secretKey);
  await mempool.add(fill.bytes);
  t.same(mempool.reap({ maxTxs: 10, maxBytes: 1 << 20 }).map((s) => s.tx.nonce), [next[0]!, next[0]! + 1]);
});

t.test('with a shared signature cache, the executor does not verify again what the mempool admitted', async (t) => {
  const { db, tree } = await openChain(t.testdir());
  t.teardown(() => db.close());
  const cache = new SignatureCache();
  const executor = await Executor.open(db, tree, { sigCache: cache });
  const accounts = testAccounts(4);
  await executor.initGenesis(testGenesis(accounts, 10_000n));
  const mempool = new Mempool({ chainId: CHAIN_ID, accounts: executor, sigCache: cache });
  const admitted = accounts.map((k, i) => signTransaction({
    chainId: CHAIN_ID, sender: k.publicKey, nonce: 0, fee: 1n, gasLimit: 2_000_000,
    payload: { kind: 'transfer', to: addressOf(accounts[(i + 1) % accounts.length]!.publicKey), amount: 5n },
  }, k.secretKey));
  for (const stx of admitted) await mempool.add(stx.bytes);
  // One more transaction the mempool never saw, and one with a broken signature.
  const k = accounts[0]!;
  const unseen = signTransaction({ chainId: CHAIN_ID, sender: k.publicKey, nonce: 1, fee: 1n, gasLimit: 2_000_000, payload: { kind: 'transfer', to: addressOf(k.publicKey), amount: 1n } }, k.secretKey);
  const forged = signTransaction({ chainId: CHAIN_ID, sender: k.publicKey, nonce: 2, fee: 1n, gasLimit: 2_000_000, payload: { kind: 'transfer', to: addressOf(k.publicKey), amount: 1n } }, accounts[1]!.secretKey);
  // A block with the broken signature is invalid whole; it costs one verification.
  let before = cache.stats();
  await t.rejects(executor.applyBlock(nextBlock(executor, [...admitted.map((s) => s.bytes), forged.bytes])), { code: 'invalid_block', message: /txs\[4\]: signature does not verify/ });
  let after = cache.stats();
  t.equal(after.misses - before.misses, 1, 'the forged signature is the only one verified');
  before = cache.stats();
  const { receipts } = await executor.applyBlock(nextBlock(executor, [...admitted.map((s) => s.bytes), unseen.bytes]));
  after = cache.stats();
  t.equal(after.hits - before.hits, admitted.length, 'admitted signatures are answered from the cache');
  t.equal(after.misses - before.misses, 1, 'only the unseen signature is verified');
  t.same(receipts.map((r) => r.status), [...admitted.map(() => TxStatus.ok), TxStatus.ok], 'and the answers are the same as without the cache');
});

t.test('update() with the accounts the block wrote reads nothing and leaves the mempool as a full recheck would', async (t) => {
  const { db, executor } = await openChain(t.testdir());
  t.teardown(() => db.close());
  const accounts = testAccounts(6);
  await executor.initGenesis(testGenesis(accounts, 10_000n));
  let reads = 0;
  const counting = { getAccount: (a: Uint8Array) => (reads++, executor.getAccount(a)) };
  const told = new Mempool({ chainId: CHAIN_ID, accounts: counting });
  const reread = new Mempool({ chainId: CHAIN_ID, accounts: executor });
  const transfer = (from: number, nonce: number, amount: bigint, fee = 1n) => signTransaction({
    chainId: CHAIN_ID, sender: accounts[from]!.publicKey, nonce, fee, gasLimit: 2_000_000,
    payload: { kind: 'transfer', to: addressOf(accounts[(from + 1) % accounts.length]!.publicKey), amount },
  }, accounts[from]!.secretKey);
  // Pending in both pools: three transactions of each sender.
  for (let from = 0; from < accounts.length; from++) {
    for (let nonce = 0; nonce < 3; nonce++) {
      const stx = transfer(from, nonce, 10n);
      await told.add(stx.bytes);
      await reread.add(stx.bytes);
    }
  }
  const pending = (m: Mempool) => m.reap({ maxTxs: 1000, maxBytes: 1 << 24 }).map((s) => Buffer.from(s.hash).toString('hex')).sort();
  // Blocks the pools did not build: sender 0 replaces its nonce 0 (its pooled one goes stale),
  // sender 4 spends nearly everything (its later ones go unfunded), sender 2 pays sender 3.
  const blocks = [
    [transfer(0, 0, 1n, 2n), transfer(4, 0, 9_998n)],
    [transfer(2, 0, 10n), transfer(0, 1, 5n, 3n)],
  ];
  for (const txs of blocks) {
    const applied = await executor.applyBlock(nextBlock(executor, txs.map((s) => s.bytes)));
    t.ok(applied.accounts.size >= txs.length, 'the block reports the accounts it wrote');
    reads = 0;
    await told.update(txs, applied.accounts);
    t.equal(reads, 0, 'no account is read');
    await reread.update(txs);
    t.same(pending(told), pending(reread), 'the same transactions wait in both');
    t.same(told.counters.removed, reread.counters.removed, 'and the same were dropped, for the same reasons');
  }
  t.ok(told.counters.removed.stale > 0 && told.counters.removed.unfunded > 0, 'the blocks made some pooled transactions stale and some unfunded');
});
