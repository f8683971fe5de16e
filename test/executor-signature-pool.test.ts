/**
 * The executor with a SignaturePool (ExecutorOptions.signatures): a chain of blocks of many sizes,
 * with bad transactions among them, gives the same receipts and state roots at every height as an
 * executor verifying inline; a block with a bad signature is refused with the same message (the
 * lowest bad index, and the checks before and after the signatures keep their order), writes
 * nothing, and the pool's valid answers feed the signature cache.
 */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { toHex } from '../chain/bytes.ts';
import { encodeReceipt } from '../chain/receipt.ts';
import { signTransaction } from '../chain/tx.ts';
import { SignaturePool } from '../chain/signature-pool.ts';
import { SignatureCache } from '../consensus/verify.ts';
import type { Executor } from '../execution/executor.ts';
import { CHAIN_ID, nextBlock, openChain, testAccounts, testGenesis, transfersFor } from './fixtures/chain.ts';

const accounts = testAccounts(40);
// Every request goes to the threads, in small parts, so blocks are split across both.
const pool = new SignaturePool({ threads: 2, inlineBelow: 0, maxBatch: 16 });
t.teardown(() => pool.close());

async function pair(t: Test): Promise<{ inline: Executor; pooled: Executor; cache: SignatureCache }> {
  const a = await openChain(join(t.testdir(), 'inline'));
  const cache = new SignatureCache();
  const b = await openChain(join(t.testdir(), 'pooled'), undefined, { signatures: pool, sigCache: cache });
  t.teardown(async () => {
    await a.db.close();
    await b.db.close();
  });
  await a.executor.initGenesis(testGenesis(accounts));
  await b.executor.initGenesis(testGenesis(accounts));
  return { inline: a.executor, pooled: b.executor, cache };
}

/** A transfer from accounts[0] signed by accounts[1]: its signature does not verify. */
function forged(nonce: number): Uint8Array {
  return signTransaction({
    chainId: CHAIN_ID, sender: accounts[0]!.publicKey, nonce, fee: 1n, gasLimit: 2_000_000,
    payload: { kind: 'transfer', to: accounts[2]!.publicKey.subarray(0, 20), amount: 1n },
  }, accounts[1]!.secretKey).bytes;
}

t.test('a chain of blocks: the same receipts and state roots with and without the pool', async (t) => {
  const { inline, pooled, cache } = await pair(t);
  const nonces = new Array<number>(accounts.length).fill(0);
  const sizes = [0, 1, 15, 16, 17, 64, 100, 256, 300, 3, 513];
  for (const [i, size] of sizes.entries()) {
    const txs = transfersFor(7, i + 1, accounts, nonces, size, 9);
    const a = await inline.applyBlock(nextBlock(inline, txs));
    const b = await pooled.applyBlock(nextBlock(pooled, txs));
    t.equal(toHex(b.stateRoot), toHex(a.stateRoot), `height ${i + 1} (${size} txs): the same state root`);
    t.same(b.receipts.map((r) => toHex(encodeReceipt(r))), a.receipts.map((r) => toHex(encodeReceipt(r))), `height ${i + 1}: the same receipts`);
  }
  t.equal(toHex(pooled.head!.blockHash), toHex(inline.head!.blockHash));
  const total = sizes.reduce((x, y) => x + y, 0);
  t.equal(cache.size, total, 'every valid signature the pool checked is cached');
  t.ok(pool.stats().pooled >= total, 'verified on the threads');
});

t.test('a bad signature: the same refusal, for the lowest bad index, nothing written', async (t) => {
  const { inline, pooled, cache } = await pair(t);
  const nonces = new Array<number>(accounts.length).fill(0);
  const txs = transfersFor(8, 1, accounts, nonces, 200);
  const cases: [string, Uint8Array[]][] = [
    ['first', [forged(0), ...txs]],
    ['in the middle', [...txs.slice(0, 100), forged(0), ...txs.slice(100)]],
    ['two, the later first in its part', [...txs.slice(0, 37), forged(0), ...txs.slice(37, 150), forged(1), ...txs.slice(150)]],
    ['last', [...txs, forged(0)]],
    ['every one', Array.from({ length: 64 }, (_, i) => forged(i))],
  ];
  for (const [name, block] of cases) {
    const a = nextBlock(inline, block);
    const b = nextBlock(pooled, block);
    const why = await inline.applyBlock(a).then(() => null, (e: Error) => e.message);
    t.match(why, /signature does not verify/, `${name}: refused inline`);
    await t.rejects(pooled.applyBlock(b), { code: 'invalid_block', message: why! }, `${name}: refused the same way with the pool`);
    t.equal(pooled.head!.height, 0, `${name}: nothing applied`);
  }
  // A check before the signatures still comes first; one after them still comes after.
  const early = nextBlock(pooled, [forged(0)]);
  early.header.time = pooled.head!.time;
  await t.rejects(pooled.applyBlock(early), /time .* is not after/);
  const late = nextBlock(pooled, [...txs.slice(0, 20), forged(0)]);
  late.header.evidenceHash = new Uint8Array(32).fill(7);
  await t.rejects(pooled.applyBlock(late), /txs\[20\]: signature does not verify/);
  const evidenceOnly = nextBlock(pooled, txs.slice(0, 20));
  evidenceOnly.header.evidenceHash = new Uint8Array(32).fill(7);
  const expected = nextBlock(inline, txs.slice(0, 20));
  expected.header.evidenceHash = new Uint8Array(32).fill(7);
  const inlineWhy = await inline.applyBlock(expected).then(() => null, (e: Error) => e.message);
  t.match(inlineWhy, /evidenceHash/);
  await t.rejects(pooled.applyBlock(evidenceOnly), { message: inlineWhy! });
  t.ok(cache.size >= 200, 'valid signatures below the bad ones were cached');
  t.equal((await pooled.applyBlock(nextBlock(pooled, txs))).height, 1, 'the good block applies');
});
