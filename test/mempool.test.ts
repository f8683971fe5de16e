import t, { type Test } from 'tap';
import { addressOf } from '../chain/address.ts';
import { toHex } from '../chain/bytes.ts';
import { publicKeyOf, secretKeyFromSeed } from '../chain/keys.ts';
import { encodeSignedTransaction, signTransaction, type SignedTransaction } from '../chain/tx.ts';
import { EMPTY_ACCOUNT, type Account, type AccountReader } from '../node/account.ts';
import { Mempool, MempoolError, type MempoolConfig, type MempoolErrorCode } from '../node/mempool.ts';

const CHAIN = 'hallmark-test';
const ALL = { maxTxs: 1e9, maxBytes: 1e12 };

interface Sender {
  name: string;
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  address: Uint8Array;
}

const senders = new Map<string, Sender>();
const namesByKey = new Map<string, string>();
function who(name: string): Sender {
  let s = senders.get(name);
  if (s === undefined) {
    const secretKey = secretKeyFromSeed(`mempool-test/${name}`);
    const publicKey = publicKeyOf(secretKey);
    s = { name, secretKey, publicKey, address: addressOf(publicKey) };
    senders.set(name, s);
    namesByKey.set(toHex(publicKey), name);
  }
  return s;
}

/** The mempool's only dependency: committed accounts, here a Map, optionally slow. */
class Accounts implements AccountReader {
  readonly map = new Map<string, Account>();
  delay: (() => Promise<void>) | undefined;
  set(name: string, a: Partial<Account>): void {
    const key = toHex(who(name).address);
    this.map.set(key, { ...(this.map.get(key) ?? EMPTY_ACCOUNT), ...a });
  }
  of(name: string): Account {
    return this.map.get(toHex(who(name).address)) ?? EMPTY_ACCOUNT;
  }
  async getAccount(address: Uint8Array): Promise<Account> {
    if (this.delay !== undefined) await this.delay();
    return { ...(this.map.get(toHex(address)) ?? EMPTY_ACCOUNT) };
  }
}

function setup(config: Partial<MempoolConfig> = {}, funded: string[] = ['a', 'b', 'c', 'd', 'e']) {
  const accounts = new Accounts();
  for (const name of funded) accounts.set(name, { balance: 1_000_000n, nonce: 0 });
  return { accounts, pool: new Mempool({ chainId: CHAIN, accounts, config }) };
}

function stx(name: string, nonce: number, fee: number | bigint, opts: { amount?: bigint; chainId?: string } = {}): SignedTransaction {
  const s = who(name);
  return signTransaction({
    chainId: opts.chainId ?? CHAIN, sender: s.publicKey, nonce, fee: BigInt(fee), gasLimit: 0,
    payload: { kind: 'transfer', to: who('sink').address, amount: opts.amount ?? 1n },
  }, s.secretKey);
}
function tx(name: string, nonce: number, fee: number | bigint, opts: { amount?: bigint; chainId?: string } = {}): Uint8Array {
  return stx(name, nonce, fee, opts).bytes;
}

function label(s: SignedTransaction): string {
  return `${namesByKey.get(toHex(s.tx.sender))}${s.tx.nonce}`;
}
function order(pool: Mempool, limits = ALL): string[] {
  return pool.reap(limits).map(label);
}
function snapshot(pool: Mempool) {
  return { size: pool.size, bytes: pool.bytes, reap: pool.reap(ALL).map((s) => toHex(s.hash)) };
}

async function refuse(t: Test, pool: Mempool, bytes: Uint8Array, code: MempoolErrorCode, message?: RegExp | string): Promise<void> {
  const before = snapshot(pool);
  const err = await pool.add(bytes).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof MempoolError, `refused with a MempoolError (${code})`);
  t.equal((err as MempoolError).code, code, `code ${code}: ${(err as Error).message}`);
  if (message !== undefined) t.match((err as Error).message, message);
  t.same(snapshot(pool), before, `${code}: the pool is unchanged`);
}

async function addAll(pool: Mempool, ...txs: Uint8Array[]): Promise<void> {
  for (const b of txs) await pool.add(b);
}

t.test('admits a valid transfer and indexes it by hash', async (t) => {
  const { pool } = setup();
  const s = stx('a', 0, 5);
  const got = await pool.add(s.bytes);
  t.equal(toHex(got.hash), toHex(s.hash));
  t.ok(pool.has(s.hash));
  t.equal(toHex(pool.get(s.hash)!.hash), toHex(s.hash));
  t.equal(pool.size, 1);
  t.equal(pool.bytes, s.bytes.length);
  t.same(order(pool), ['a0']);
  t.equal(pool.counters.admitted, 1);
  t.notOk(pool.has(stx('a', 1, 5).hash));
  t.equal(pool.get(new Uint8Array(32)), undefined);
});

t.test('every refusal code, each leaving the pool unchanged', async (t) => {
  const big = tx('c', 0, 1, { amount: 1n << 40n });
  const small = tx('c', 0, 1);
  t.ok(big.length > small.length);

  t.test('tx_too_large', async (t) => {
    const { pool } = setup({ maxTxBytes: small.length });
    await addAll(pool, tx('a', 0, 1), tx('b', 0, 2));
    await refuse(t, pool, big, 'tx_too_large', `transaction is ${big.length} bytes; the limit is ${small.length}`);
    await pool.add(small);
    t.equal(pool.size, 3);
  });

  t.test('malformed: garbage, truncated, trailing bytes, wrong shape', async (t) => {
    const { pool } = setup();
    await addAll(pool, tx('a', 0, 1), tx('b', 0, 2));
    const good = tx('c', 0, 3);
    await refuse(t, pool, Uint8Array.of(0xff, 0x00), 'malformed', /^transaction: /);
    await refuse(t, pool, good.subarray(0, good.length - 1), 'malformed');
    await refuse(t, pool, Uint8Array.of(...good, 0), 'malformed');
    await refuse(t, pool, new Uint8Array(), 'malformed');
    await refuse(t, pool, Uint8Array.of(0x82, 0x01, 0x02), 'malformed', /tx: expected a list/);
    t.equal(pool.counters.refused.malformed, 5);
  });

  t.test('wrong_chain', async (t) => {
    const { pool } = setup();
    await addAll(pool, tx('a', 0, 1));
    await refuse(t, pool, tx('b', 0, 1, { chainId: 'other-chain' }), 'wrong_chain', 'transaction is for chain "other-chain"; this node runs "hallmark-test"');
  });

  t.test('duplicate', async (t) => {
    const { pool } = setup();
    const a0 = tx('a', 0, 1);
    await addAll(pool, a0, tx('b', 0, 2));
    await refuse(t, pool, a0, 'duplicate', /already in the mempool/);
    await refuse(t, pool, Uint8Array.from(a0), 'duplicate');
  });

  t.test('invalid_signature: flipped bit, and a signature by another key', async (t) => {
    const { pool } = setup();
    await addAll(pool, tx('a', 0, 1));
    const flipped = Uint8Array.from(tx('b', 0, 1));
    flipped[flipped.length - 1]! ^= 0x01;
    await refuse(t, pool, flipped, 'invalid_signature');
    const byC = stx('c', 0, 1);
    const claimsB = encodeSignedTransaction({ tx: { ...byC.tx, sender: who('b').publicKey }, signature: byC.signature });
    await refuse(t, pool, claimsB, 'invalid_signature');
  });

  t.test('nonce_used', async (t) => {
    const { pool, accounts } = setup();
    accounts.set('a', { nonce: 5 });
    await addAll(pool, tx('a', 5, 1), tx('b', 0, 1));
    await refuse(t, pool, tx('a', 3, 9), 'nonce_used', 'nonce 3 already used: account nonce is 5');
    await refuse(t, pool, tx('a', 4, 9), 'nonce_used');
  });

  t.test('nonce_too_far', async (t) => {
    const { pool, accounts } = setup({ maxNonceGap: 64 });
    accounts.set('a', { nonce: 5 });
    await addAll(pool, tx('b', 0, 1));
    await refuse(t, pool, tx('a', 69, 1), 'nonce_too_far', 'nonce 69 too far ahead: account nonce is 5, so the mempool takes nonces up to 68');
    await pool.add(tx('a', 68, 1));
    t.equal(pool.size, 2);
    t.same(order(pool), ['b0'], 'the gapped one waits');
  });

  t.test('nonce_taken: a replacement without enough fee bump', async (t) => {
    const { pool } = setup();
    await addAll(pool, tx('a', 0, 100), tx('a', 1, 0), tx('b', 0, 1));
    await refuse(t, pool, tx('a', 0, 109), 'nonce_taken', 'nonce 0 is already pending with fee 100; a replacement needs a fee of at least 110');
    await refuse(t, pool, tx('a', 0, 100, { amount: 2n }), 'nonce_taken');
    await refuse(t, pool, tx('a', 0, 50), 'nonce_taken');
    await refuse(t, pool, tx('a', 1, 0, { amount: 2n }), 'nonce_taken', /at least 1$/);
  });

  t.test('fee_too_low', async (t) => {
    const { pool } = setup({ minFee: 10n });
    await addAll(pool, tx('a', 0, 10));
    await refuse(t, pool, tx('b', 0, 9), 'fee_too_low', "fee 9 is below this node's minimum of 10");
    await pool.add(tx('b', 0, 10));
  });

  t.test('insufficient_fee_balance', async (t) => {
    const { pool, accounts } = setup();
    accounts.set('a', { balance: 100n });
    await addAll(pool, tx('a', 0, 60), tx('b', 0, 1));
    await refuse(t, pool, tx('a', 1, 41), 'insufficient_fee_balance', 'fee 41 plus 60 for the sender\'s pending transactions before nonce 1 exceeds the balance 100');
    await refuse(t, pool, tx('z', 0, 1), 'insufficient_fee_balance', 'fee 1 exceeds the balance 0');
    await pool.add(tx('a', 1, 40));
    await pool.add(tx('z', 0, 0)); // a zero fee needs no balance
  });

  t.test('mempool_full', async (t) => {
    const { pool } = setup({ maxTxs: 2 });
    await addAll(pool, tx('a', 0, 10), tx('b', 0, 10));
    await refuse(t, pool, tx('c', 0, 10), 'mempool_full', /mempool is full \(2 transactions, \d+ bytes\)/);
    await refuse(t, pool, tx('c', 0, 5), 'mempool_full');
    t.equal(pool.counters.refused.mempool_full, 2);
  });
});

t.test('replacement by fee bump', async (t) => {
  const { pool } = setup();
  const old = stx('a', 0, 100);
  await addAll(pool, old.bytes, tx('b', 0, 105));
  t.same(order(pool), ['b0', 'a0']);
  const repl = stx('a', 0, 110, { amount: 7n });
  await pool.add(repl.bytes);
  t.notOk(pool.has(old.hash));
  t.ok(pool.has(repl.hash));
  t.equal(pool.size, 2);
  t.equal(pool.bytes, repl.bytes.length + tx('b', 0, 105).length);
  t.same(order(pool), ['a0', 'b0']);
  t.equal(pool.reap(ALL)[0]!.tx.payload.amount, 7n);
  t.equal(pool.counters.removed.replaced, 1);

  t.test('a zero bump percent still needs a strictly higher fee', async (t) => {
    const { pool } = setup({ replaceFeeBumpPercent: 0 });
    await pool.add(tx('a', 0, 7));
    await refuse(t, pool, tx('a', 0, 7, { amount: 2n }), 'nonce_taken', /at least 8$/);
    await pool.add(tx('a', 0, 8));
    t.equal(pool.size, 1);
  });

  t.test('the bump rounds up: 10% of 15 needs 17', async (t) => {
    const { pool } = setup();
    await pool.add(tx('a', 0, 15));
    await refuse(t, pool, tx('a', 0, 16), 'nonce_taken', /at least 17$/);
    await pool.add(tx('a', 0, 17));
  });

  t.test('a replacement that raises the fee drops the later txs it leaves unfunded', async (t) => {
    const { pool, accounts } = setup();
    accounts.set('a', { balance: 100n });
    await addAll(pool, tx('a', 0, 30), tx('a', 1, 30), tx('a', 2, 30));
    await pool.add(tx('a', 0, 40)); // 40 + 30 + 30 = 100: all covered
    t.same(order(pool), ['a0', 'a1', 'a2']);
    await pool.add(tx('a', 0, 50)); // 50 + 30 = 80, + 30 = 110 > 100
    t.same(order(pool), ['a0', 'a1']);
    t.equal(pool.size, 2);
    t.equal(pool.counters.removed.unfunded, 1);
  });
});

t.test('fee balance: fees of the pending txs up to this nonce must fit the balance', async (t) => {
  const { pool, accounts } = setup();
  accounts.set('a', { balance: 100n });
  await addAll(pool, tx('a', 0, 40), tx('a', 1, 40));
  await refuse(t, pool, tx('a', 2, 30), 'insufficient_fee_balance');
  await pool.add(tx('a', 2, 20));
  t.same(order(pool), ['a0', 'a1', 'a2']);

  t.test('filling a gap counts only lower nonces, and drops later ones left unfunded', async (t) => {
    const { pool, accounts } = setup();
    accounts.set('a', { balance: 100n });
    await addAll(pool, tx('a', 0, 40), tx('a', 2, 50));
    await pool.add(tx('a', 1, 20)); // 40 + 20 = 60 fits; then 60 + 50 > 100
    t.same(order(pool), ['a0', 'a1']);
    t.equal(pool.size, 2);
  });
});

t.test('reap orders by fee, then arrival, across senders', async (t) => {
  const { pool } = setup();
  await addAll(pool, tx('a', 0, 5), tx('b', 0, 9), tx('c', 0, 5), tx('d', 0, 7), tx('e', 0, 9));
  t.same(order(pool), ['b0', 'e0', 'd0', 'a0', 'c0']);
});

t.test('reap keeps each sender in nonce order even when a later nonce pays more', async (t) => {
  const { pool } = setup();
  await addAll(pool, tx('a', 1, 100), tx('b', 0, 50), tx('a', 0, 1), tx('c', 0, 2));
  t.same(order(pool), ['b0', 'c0', 'a0', 'a1']);
});

t.test('a gapped tx is not reaped until the gap fills', async (t) => {
  const { pool, accounts } = setup();
  await addAll(pool, tx('a', 0, 1), tx('a', 2, 100));
  t.same(order(pool), ['a0']);
  await pool.add(tx('a', 1, 1));
  t.same(order(pool), ['a0', 'a1', 'a2']);
  accounts.set('b', { nonce: 3 });
  await pool.add(tx('b', 4, 1000));
  t.same(order(pool), ['a0', 'a1', 'a2'], 'b4 waits for b3');
});

t.test('reap limits: count and bytes', async (t) => {
  const { pool } = setup();
  const b0 = tx('b', 0, 9);
  const a0 = tx('a', 0, 5, { amount: 1n << 40n });
  const c0 = tx('c', 0, 1);
  await addAll(pool, b0, a0, tx('a', 1, 100), c0);
  t.same(order(pool), ['b0', 'a0', 'a1', 'c0']);
  t.same(order(pool, { maxTxs: 2, maxBytes: 1e9 }), ['b0', 'a0']);
  t.same(order(pool, { maxTxs: 0, maxBytes: 1e9 }), []);
  t.same(order(pool, { maxTxs: 2.5, maxBytes: 1e9 }), ['b0', 'a0']);
  t.same(order(pool, { maxTxs: 10, maxBytes: 0 }), []);
  t.ok(a0.length > c0.length);
  // After b0 the room is too small for a0 but fits c0: a0 blocks only its sender (a1 stays out).
  t.same(order(pool, { maxTxs: 10, maxBytes: b0.length + a0.length - 1 }), ['b0', 'c0']);
  t.same(order(pool, { maxTxs: 10, maxBytes: b0.length + a0.length }), ['b0', 'a0']);
  t.equal(pool.size, 4, 'reap removes nothing');
  t.throws(() => pool.reap({ maxTxs: -1, maxBytes: 1 }), RangeError);
});

t.test('eviction', async (t) => {
  t.test('evicts the cheapest tail, never a cheaper tx in the middle of a sender', async (t) => {
    const { pool } = setup({ maxTxs: 3 });
    const b0 = stx('b', 0, 20);
    await addAll(pool, tx('a', 0, 1), tx('a', 1, 100), b0.bytes);
    await pool.add(tx('c', 0, 30));
    t.notOk(pool.has(b0.hash));
    t.same(order(pool), ['c0', 'a0', 'a1']);
    t.equal(pool.counters.removed.evicted, 1);
  });

  t.test('refuses when nothing strictly cheaper is evictable', async (t) => {
    const { pool } = setup({ maxTxs: 3 });
    await addAll(pool, tx('a', 0, 1), tx('a', 1, 100), tx('b', 0, 20));
    await refuse(t, pool, tx('c', 0, 20), 'mempool_full');
    t.equal(pool.counters.removed.evicted, 0);
  });

  t.test('latest arrival goes first among equal fees', async (t) => {
    const { pool } = setup({ maxTxs: 2 });
    await addAll(pool, tx('a', 0, 5), tx('b', 0, 5));
    await pool.add(tx('c', 0, 6));
    t.same(order(pool), ['c0', 'a0']);
  });

  t.test("never evicts the incoming sender's own txs", async (t) => {
    const { pool } = setup({ maxTxs: 2 });
    await addAll(pool, tx('a', 0, 1), tx('a', 1, 1));
    await refuse(t, pool, tx('a', 2, 100), 'mempool_full');
    await addAll(pool, tx('a', 1, 2)); // a replacement needs no room
    t.same(order(pool), ['a0', 'a1']);
    // With b's cheap tail around, a's txs stay and b's goes.
    const { pool: p2 } = setup({ maxTxs: 3 });
    await addAll(p2, tx('a', 0, 1), tx('a', 1, 1), tx('b', 0, 3));
    await p2.add(tx('a', 2, 100));
    t.same(order(p2), ['a0', 'a1', 'a2']);
  });

  t.test('bytes cap: evicts a tail, then the tx that became the tail', async (t) => {
    const small = tx('a', 0, 2).length;
    const { pool } = setup({ maxTxs: 100, maxBytes: 3 * small, maxTxBytes: 3 * small });
    await addAll(pool, tx('a', 0, 2), tx('a', 1, 1), tx('b', 0, 3));
    t.equal(pool.bytes, 3 * small);
    const big = tx('c', 0, 10, { amount: 1n << 40n });
    t.ok(big.length > small && big.length < 2 * small);
    await pool.add(big);
    t.same(order(pool), ['c0', 'b0'], 'a1 (fee 1) went, then a0 (fee 2, now a tail) before b0 (fee 3)');
    t.ok(pool.bytes <= 3 * small);
    t.equal(pool.counters.removed.evicted, 2);
  });

  t.test('bytes cap: refuses and evicts nothing when the cheaper txs do not free enough', async (t) => {
    const small = tx('a', 0, 2).length;
    const { pool } = setup({ maxTxs: 100, maxBytes: 3 * small, maxTxBytes: 3 * small });
    await addAll(pool, tx('a', 0, 2), tx('a', 1, 1), tx('b', 0, 3));
    // Only a1 (fee 1) is cheaper than fee 2; freeing its bytes is not enough for the bigger tx.
    await refuse(t, pool, tx('c', 0, 2, { amount: 1n << 40n }), 'mempool_full');
    t.same(order(pool), ['b0', 'a0', 'a1']);
    t.equal(pool.counters.removed.evicted, 0);
  });

  t.test('count cap: each admission evicts the cheapest tail at that moment', async (t) => {
    const { pool } = setup({ maxTxs: 4 });
    await addAll(pool, tx('a', 0, 1), tx('b', 0, 4), tx('b', 1, 2), tx('c', 0, 3));
    await pool.add(tx('d', 0, 5));
    t.same(order(pool), ['d0', 'b0', 'c0', 'b1'], 'a0 went (fee 1)');
    await pool.add(tx('e', 0, 5));
    t.same(order(pool), ['d0', 'e0', 'b0', 'c0'], 'then b1 (fee 2), a tail');
  });
});

t.test('update() after a block', async (t) => {
  const { pool, accounts } = setup();
  accounts.set('c', { balance: 30n });
  await addAll(pool,
    tx('a', 0, 5), tx('a', 1, 5), tx('a', 2, 5), tx('a', 3, 5),
    tx('b', 0, 7), tx('b', 1, 7),
    tx('c', 0, 10), tx('c', 1, 10), tx('c', 2, 10),
    tx('d', 0, 1), tx('d', 1, 1), tx('d', 2, 1), tx('d', 3, 1),
  );
  const block = pool.reap({ maxTxs: 3, maxBytes: 1e9 }).map((s) => s);
  t.same(block.map(label), ['c0', 'c1', 'c2']);
  const committed = [stx('a', 0, 5), stx('a', 1, 5), stx('b', 0, 7)];
  accounts.set('a', { nonce: 2 });
  accounts.set('b', { nonce: 1 });
  accounts.set('c', { balance: 15n }); // c's txs not in the block; c's balance fell: covers only c0
  accounts.set('d', { nonce: 2 }); // d0, d1 committed from another node's mempool (different bytes)
  const before = pool.size;
  await pool.update(committed);
  t.same(order(pool), ['c0', 'b1', 'a2', 'a3', 'd2', 'd3']);
  t.equal(pool.size, before - 3 - 2 - 2);
  for (const s of committed) t.notOk(pool.has(s.hash));
  t.notOk(pool.has(stx('c', 1, 10).hash));
  t.same(pool.counters.removed, { committed: 3, replaced: 0, evicted: 0, stale: 2, unfunded: 2 });

  await pool.update([]);
  t.same(order(pool), ['c0', 'b1', 'a2', 'a3', 'd2', 'd3'], 'a quiet block changes nothing');
  accounts.set('a', { nonce: 4 });
  accounts.set('b', { nonce: 2 });
  accounts.set('c', { nonce: 1 });
  accounts.set('d', { nonce: 4 });
  await pool.update([]);
  t.equal(pool.size, 0);
  t.equal(pool.bytes, 0);
  t.same(order(pool), []);
});

t.test('an add re-reads the account and drops its sender\'s txs that became stale', async (t) => {
  const { pool, accounts } = setup();
  await addAll(pool, tx('a', 0, 1), tx('a', 1, 1));
  accounts.set('a', { nonce: 1 }); // committed, update() not yet called
  await refuse(t, pool, tx('a', 0, 50), 'nonce_used');
  await pool.add(tx('a', 2, 1));
  t.same(order(pool), ['a1', 'a2']);
  t.equal(pool.counters.removed.stale, 1);
});

t.test('concurrent adds', async (t) => {
  t.test('consecutive nonces of one sender, with slow account reads, are all admitted', async (t) => {
    const { pool, accounts } = setup();
    let n = 0;
    accounts.delay = () => new Promise((r) => setTimeout(r, [7, 1, 4, 0, 9, 2][n++ % 6]));
    const txs = Array.from({ length: 10 }, (_, i) => tx('a', i, 10));
    const got = await Promise.all(txs.map((b) => pool.add(b)));
    t.equal(got.length, 10);
    t.same(order(pool), txs.map((_, i) => `a${i}`));
  });

  t.test('a balance that covers 6 of 10 admits exactly the first 6', async (t) => {
    const { pool, accounts } = setup();
    accounts.set('a', { balance: 60n });
    let n = 0;
    accounts.delay = () => new Promise((r) => setTimeout(r, 10 - (n++ % 10)));
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => pool.add(tx('a', i, 10))));
    t.same(results.map((r) => r.status), [...Array(6).fill('fulfilled'), ...Array(4).fill('rejected')]);
    for (const r of results.slice(6)) t.equal(((r as PromiseRejectedResult).reason as MempoolError).code, 'insufficient_fee_balance');
    t.same(order(pool), ['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
  });

  t.test('the same tx twice at once: one admitted, one duplicate', async (t) => {
    const { pool, accounts } = setup();
    accounts.delay = () => new Promise((r) => setTimeout(r, 2));
    const b = tx('a', 0, 1);
    const results = await Promise.allSettled([pool.add(b), pool.add(b)]);
    t.same(results.map((r) => r.status), ['fulfilled', 'rejected']);
    t.equal(((results[1] as PromiseRejectedResult).reason as MempoolError).code, 'duplicate');
    t.equal(pool.size, 1);
  });

  t.test('update() waits for the adds before it and goes before the adds after it', async (t) => {
    const { pool, accounts } = setup();
    accounts.delay = () => new Promise((r) => setTimeout(r, 3));
    await pool.add(tx('a', 0, 1));
    const first = pool.add(tx('a', 1, 1));
    accounts.set('a', { nonce: 1 }); // a0 is committed; the queued add of a1 still reads it
    const updated = pool.update([stx('a', 0, 1)]);
    const late = pool.add(tx('a', 0, 9)).then(() => 'admitted', (e: MempoolError) => e.code);
    await Promise.all([first, updated]);
    t.equal(await late, 'nonce_used');
    t.same(order(pool), ['a1']);
  });
});

t.test('config is validated', async (t) => {
  const accounts = new Accounts();
  t.throws(() => new Mempool({ chainId: CHAIN, accounts, config: { maxTxs: 0 } }), RangeError);
  t.throws(() => new Mempool({ chainId: CHAIN, accounts, config: { maxTxBytes: 100, maxBytes: 50 } }), RangeError);
  t.throws(() => new Mempool({ chainId: CHAIN, accounts, config: { minFee: -1n } }), RangeError);
  t.throws(() => new Mempool({ chainId: CHAIN, accounts, config: { replaceFeeBumpPercent: 1.5 } }), RangeError);
  const pool = new Mempool({ chainId: CHAIN, accounts });
  t.equal(pool.config.maxTxs, 5000);
  t.equal(pool.config.maxBytes, 32 * 1024 * 1024);
  t.equal(pool.config.maxTxBytes, 64 * 1024);
  t.equal(pool.config.maxNonceGap, 64);
  t.equal(pool.config.minFee, 0n);
  t.equal(pool.config.replaceFeeBumpPercent, 10);
  await t.rejects(pool.add('nope' as unknown as Uint8Array), TypeError);
});

/** A small seeded generator (mulberry32), so a failure replays from its seed. */
function random(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 4294967296) * n);
  };
}

t.test('randomized adds, blocks and updates keep the invariants', async (t) => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const rnd = random(seed);
    const names = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
    const accounts = new Accounts();
    for (const name of names) accounts.set(name, { balance: BigInt(rnd(300)), nonce: rnd(3) });
    const small = tx('r1', 0, 1).length;
    const config = { maxTxs: 12, maxBytes: 10 * small, maxTxBytes: 2 * small, maxNonceGap: 6 };
    const pool = new Mempool({ chainId: CHAIN, accounts, config });
    const seen = new Map<string, SignedTransaction>(); // every tx ever admitted, by hash
    const sent: Uint8Array[] = [];
    let failures = 0;
    const arrival = new Map<string, number>();
    const admitted = (s: SignedTransaction) => {
      seen.set(toHex(s.hash), s);
      arrival.set(toHex(s.hash), arrival.size);
    };
    /** Brute force: evict the cheapest (then latest) tail of another sender until the new tx fits. */
    const referenceEviction = (before: SignedTransaction[], s: SignedTransaction, ownGone: SignedTransaction[]): string[] | undefined => {
      let overCount = before.length - ownGone.length + 1 - config.maxTxs;
      let overBytes = before.reduce((n, x) => n + x.bytes.length, 0) - ownGone.reduce((n, x) => n + x.bytes.length, 0) + s.bytes.length - config.maxBytes;
      const queues = new Map<string, SignedTransaction[]>();
      for (const x of before) {
        const k = toHex(x.tx.sender);
        if (k !== toHex(s.tx.sender)) queues.set(k, [...(queues.get(k) ?? []), x].sort((p, q) => p.tx.nonce - q.tx.nonce));
      }
      const plan: string[] = [];
      while (overCount > 0 || overBytes > 0) {
        let pick: SignedTransaction[] | undefined;
        for (const q of queues.values()) {
          const a = q.at(-1);
          const b = pick?.at(-1);
          if (a === undefined) continue;
          if (b === undefined || a.tx.fee < b.tx.fee || (a.tx.fee === b.tx.fee && arrival.get(toHex(a.hash))! > arrival.get(toHex(b.hash))!)) pick = q;
        }
        const e = pick?.pop();
        if (e === undefined || e.tx.fee >= s.tx.fee) return undefined;
        plan.push(toHex(e.hash));
        overCount--;
        overBytes -= e.bytes.length;
      }
      return plan;
    };
    const live = () => [...seen.values()].filter((s) => pool.has(s.hash));
    const bySender = () => {
      const m = new Map<string, SignedTransaction[]>();
      for (const s of live()) {
        const name = namesByKey.get(toHex(s.tx.sender))!;
        m.set(name, [...(m.get(name) ?? []), s].sort((x, y) => x.tx.nonce - y.tx.nonce));
      }
      return m;
    };
    const check = (step: string) => {
      const ok = (cond: boolean, what: string) => {
        if (!cond) {
          failures++;
          t.fail(`seed ${seed}, ${step}: ${what}`);
        }
      };
      ok(pool.size <= config.maxTxs && pool.bytes <= config.maxBytes, 'caps hold');
      const l = live();
      ok(l.length === pool.size, `size ${pool.size} matches the live txs ${l.length}`);
      ok(l.reduce((n, s) => n + s.bytes.length, 0) === pool.bytes, 'bytes match the live txs');
      const c = pool.counters;
      const removed = Object.values(c.removed).reduce((x, y) => x + y, 0);
      ok(c.admitted - removed === pool.size, 'counters add up');
      for (const [name, txs] of bySender()) {
        const acct = accounts.of(name);
        let fees = 0n;
        for (let i = 0; i < txs.length; i++) {
          const s = txs[i]!;
          ok(i === 0 || s.tx.nonce > txs[i - 1]!.tx.nonce, `${name}: one tx per nonce`);
          ok(s.tx.nonce >= acct.nonce && s.tx.nonce < acct.nonce + config.maxNonceGap, `${name}${s.tx.nonce}: nonce in the window`);
          fees += s.tx.fee;
          ok(fees <= acct.balance, `${name}${s.tx.nonce}: fees up to it covered by the balance`);
        }
      }
      // Reap everything: per sender consecutive from the account nonce; each pick the best head.
      const reaped = pool.reap(ALL);
      const ready = new Map<string, SignedTransaction[]>();
      for (const [name, txs] of bySender()) {
        const run: SignedTransaction[] = [];
        for (const s of txs) if (s.tx.nonce === accounts.of(name).nonce + run.length) run.push(s);
        if (run.length > 0) ready.set(name, run);
      }
      ok(reaped.length === [...ready.values()].reduce((n, r) => n + r.length, 0), 'reap takes exactly the ready txs');
      for (const s of reaped) {
        const name = namesByKey.get(toHex(s.tx.sender))!;
        const run = ready.get(name);
        ok(run?.[0] !== undefined && toHex(run[0].hash) === toHex(s.hash), `${label(s)} reaped in nonce order`);
        let best = -1n;
        for (const r of ready.values()) if (r[0] !== undefined && r[0].tx.fee > best) best = r[0].tx.fee;
        ok(s.tx.fee === best, `${label(s)} has the best fee among the heads`);
        run?.shift();
      }
      // Limited reaps respect their limits and are a prefix-compatible subset.
      const maxTxs = rnd(6);
      const maxBytes = rnd(6 * small);
      const part = pool.reap({ maxTxs, maxBytes });
      ok(part.length <= maxTxs && part.reduce((n, s) => n + s.bytes.length, 0) <= maxBytes, 'reap limits hold');
    };

    for (let step = 0; step < 300 && failures === 0; step++) {
      const op = rnd(10);
      if (op < 6) {
        const name = names[rnd(names.length)]!;
        const nonce = Math.max(0, accounts.of(name).nonce + rnd(9) - 1);
        let bytes: Uint8Array = tx(name, nonce, rnd(60), { amount: rnd(4) === 0 ? 1n << 40n : BigInt(rnd(20)) });
        if (rnd(10) === 0 && sent.length > 0) bytes = sent[rnd(sent.length)]!;
        sent.push(bytes);
        const before = live();
        const beforeState = snapshot(pool);
        try {
          const s = await pool.add(bytes);
          admitted(s);
          if (!pool.has(s.hash)) t.fail(`seed ${seed}: admitted tx not in the pool`);
          // Whatever left: own txs (replaced, stale, unfunded later nonces) or others' cheaper tails.
          const gone = before.filter((x) => !pool.has(x.hash));
          const own = gone.filter((g) => toHex(g.tx.sender) === toHex(s.tx.sender));
          const evicted = gone.filter((g) => toHex(g.tx.sender) !== toHex(s.tx.sender));
          for (const g of evicted) {
            if (!(g.tx.fee < s.tx.fee)) t.fail(`seed ${seed}: evicted ${label(g)} is not cheaper than ${label(s)}`);
            const still = before.filter((x) => toHex(x.tx.sender) === toHex(g.tx.sender) && x.tx.nonce > g.tx.nonce && pool.has(x.hash));
            if (still.length > 0) t.fail(`seed ${seed}: evicted ${label(g)} was not a tail`);
          }
          const expected = referenceEviction(before, s, own);
          const got = evicted.map((g) => toHex(g.hash)).sort();
          if (expected === undefined || JSON.stringify(got) !== JSON.stringify(expected.sort())) {
            t.fail(`seed ${seed}: evicted ${JSON.stringify(evicted.map(label))}, the reference expects ${expected?.length ?? 'a refusal'}`);
          }
        } catch (err) {
          if (!(err instanceof MempoolError)) throw err;
          const after = snapshot(pool);
          if (JSON.stringify(after) !== JSON.stringify(beforeState)) t.fail(`seed ${seed}: refusal ${err.code} changed the pool`);
        }
        check(`step ${step} add`);
      } else if (op < 8) {
        // A block: execute a reaped prefix against the accounts, then maybe outside changes.
        const block = pool.reap({ maxTxs: 1 + rnd(5), maxBytes: (2 + rnd(4)) * small });
        for (const s of block) {
          const name = namesByKey.get(toHex(s.tx.sender))!;
          const a = accounts.of(name);
          if (a.nonce !== s.tx.nonce || a.balance < s.tx.fee) t.fail(`seed ${seed}: reaped ${label(s)} does not execute`);
          accounts.set(name, { nonce: a.nonce + 1, balance: a.balance - s.tx.fee });
        }
        if (rnd(2) === 0) {
          const name = names[rnd(names.length)]!;
          const a = accounts.of(name);
          if (rnd(2) === 0) accounts.set(name, { balance: BigInt(rnd(300)) });
          else accounts.set(name, { nonce: a.nonce + 1 });
        }
        await pool.update(block);
        check(`step ${step} update`);
      } else {
        // A burst of concurrent adds with slow reads.
        accounts.delay = () => new Promise((r) => setTimeout(r, rnd(3)));
        const burst = Array.from({ length: 1 + rnd(5) }, () => {
          const name = names[rnd(names.length)]!;
          return tx(name, accounts.of(name).nonce + rnd(5), rnd(60));
        });
        // Admission order is call order (adds are serialised), so arrivals are recorded as they resolve.
        const results = await Promise.allSettled(burst.map((b) => pool.add(b).then((s) => (admitted(s), s))));
        accounts.delay = undefined;
        for (const r of results) {
          if (r.status === 'fulfilled') continue;
          else if (!(r.reason instanceof MempoolError)) throw r.reason;
        }
        check(`step ${step} burst`);
      }
    }
    t.equal(failures, 0, `seed ${seed}: invariants held (${pool.counters.admitted} admitted, ${pool.counters.removed.evicted} evicted)`);
  }
});
