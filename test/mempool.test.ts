import t from 'tap';
import { cborHeaderBytes, CODEC_LIMITS, type BlockLimits } from '../chain/block-rules.ts';
import { fromHex, toHex } from '../chain/bytes.ts';
import { encodeSignedTransaction, signTransaction } from '../chain/tx.ts';
import { registerOp } from './fixtures/models.ts';
import { Mempool, MempoolError } from '../mempool/mempool.ts';
import { Accounts, ALL, addAll, CHAIN, label, order, refuse, setup, stx, tx, who } from './fixtures/mempool.ts';

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
    await refuse(t, pool, big, 'tx_too_large', `transaction is ${big.length} bytes; the largest this node takes is ${small.length}`);
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

  t.test('mempool_full is decided before the signature and the account read when nothing can make room', async (t) => {
    const { pool, accounts } = setup({ maxTxs: 2 });
    await addAll(pool, tx('a', 0, 10), tx('b', 0, 10));
    let reads = 0;
    accounts.delay = async () => { reads++; };
    const forged = (bytes: Uint8Array) => {
      const out = Uint8Array.from(bytes);
      out[out.length - 1]! ^= 0x01;
      return out;
    };
    await refuse(t, pool, forged(tx('c', 0, 10)), 'mempool_full', /mempool is full \(2 transactions/);
    await refuse(t, pool, forged(tx('a', 1, 10)), 'mempool_full'); // after its sender's pending one
    t.equal(reads, 0, 'no account read for a transaction that cannot get room');
    // One that pays more could evict a tail: its signature is checked, and this one is forged.
    await refuse(t, pool, forged(tx('c', 0, 11)), 'invalid_signature');
    // A sender with one pending could replace it: that is decided with the account, as before.
    await refuse(t, pool, forged(tx('a', 0, 11)), 'invalid_signature');
    await pool.add(tx('a', 0, 11));
    t.equal(reads, 1);
    t.same(order(pool), ['a0', 'b0']);
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
  const reaped = pool.reap(ALL)[0]!.tx.payload;
  t.equal(reaped.kind === 'transfer' && reaped.amount, 7n);
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
  // Each transaction takes its bytes and their CBOR header in the block.
  const cost = (b: Uint8Array) => b.length + cborHeaderBytes(b.length);
  t.equal(cost(b0), b0.length + 2);
  // After b0 the room is too small for a0 but fits c0: a0 blocks only its sender (a1 stays out).
  t.same(order(pool, { maxTxs: 10, maxBytes: cost(b0) + cost(a0) - 1 }), ['b0', 'c0']);
  t.same(order(pool, { maxTxs: 10, maxBytes: cost(b0) + cost(a0) }), ['b0', 'a0']);
  t.equal(pool.size, 4, 'reap removes nothing');
  t.throws(() => pool.reap({ maxTxs: -1, maxBytes: 1 }), RangeError);
});

t.test('gas: the cap, the price floor (the chain\'s and this node\'s), reaping by declared gas, ordering by gas price', async (t) => {
  const limits: BlockLimits = { ...CODEC_LIMITS, maxGas: 1000, minGasPrice: 2n };
  t.test('gas_limit_too_high and fee_too_low, at the chain\'s price and at a higher node floor', async (t) => {
    const { pool } = setup({}, undefined, { limits });
    t.equal(pool.minGasPrice, 2n);
    await refuse(t, pool, tx('a', 0, 10_000, { gasLimit: 1001 }), 'gas_limit_too_high', 'gas limit 1001 exceeds the block gas limit of 1000; no block can take it');
    await refuse(t, pool, tx('a', 0, 1999, { gasLimit: 1000 }), 'fee_too_low', /^fee 1999 is below gas limit 1000 × minimum gas price 2 = 2000/);
    await pool.add(tx('a', 0, 2000, { gasLimit: 1000 }));
    const strict = setup({ minGasPrice: 3n }, undefined, { limits }).pool;
    t.equal(strict.minGasPrice, 3n, 'a node may ask more than the chain');
    await refuse(t, strict, tx('a', 0, 2999, { gasLimit: 1000 }), 'fee_too_low', /minimum gas price 3 = 3000/);
    const lax = setup({ minGasPrice: 1n }, undefined, { limits }).pool;
    t.equal(lax.minGasPrice, 2n, 'but never less');
  });
  t.test('invalid_sender_key: small-order and non-canonical keys own no account', async (t) => {
    const { pool } = setup({}, undefined, { limits });
    const body = { chainId: CHAIN, nonce: 0, fee: 0n, gasLimit: 0, payload: { kind: 'transfer' as const, to: who('sink').address, amount: 1n } };
    const smallOrder = encodeSignedTransaction({ tx: { ...body, sender: Uint8Array.of(1, ...new Array<number>(31).fill(0)) }, signature: new Uint8Array(64) });
    await refuse(t, pool, smallOrder, 'invalid_sender_key', /small-order/);
    const nonCanonical = encodeSignedTransaction({ tx: { ...body, sender: fromHex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f') }, signature: new Uint8Array(64) });
    await refuse(t, pool, nonCanonical, 'invalid_sender_key', /not the canonical encoding/);
  });
  t.test('payload_not_enabled: a model registry transaction on a protocol-1 chain', async (t) => {
    const a = who('a');
    const model = signTransaction({
      chainId: CHAIN, sender: a.publicKey, nonce: 0, fee: 0n, gasLimit: 0, payload: { kind: 'model', op: registerOp('m') },
    }, a.secretKey).bytes;
    await refuse(t, setup({}, undefined, { limits: { ...limits, protocolVersion: 1 } }).pool, model, 'payload_not_enabled', /need protocol version 2; this chain runs version 1/);
    await setup({}, undefined, { limits: { ...limits, protocolVersion: 2 } }).pool.add(model);
  });
  t.test('tx_too_large when no block has room for it, whatever the node takes', async (t) => {
    const one = tx('a', 0, 0);
    const { pool } = setup({}, undefined, { maxBlockTxBytes: one.length - 1 });
    await refuse(t, pool, one, 'tx_too_large', `transaction is ${one.length} bytes; the largest the chain's blocks have room for is ${one.length - 1}`);
  });
  t.test('reap by declared gas: a transaction over the gas left holds back only its sender', async (t) => {
    const { pool } = setup();
    await addAll(pool, tx('a', 0, 900, { gasLimit: 600 }), tx('a', 1, 900, { gasLimit: 10 }), tx('b', 0, 400, { gasLimit: 500 }), tx('c', 0, 50, { gasLimit: 100 }));
    t.same(order(pool, { ...ALL, maxGas: 1000 }), ['a0', 'a1', 'c0'], 'b0 (500 gas) does not fit after a0 and a1; c0 does');
    t.same(order(pool, { ...ALL, maxGas: 599 }), ['b0'], 'a0 alone is over the room, so its sender waits (a1 too); then c0 no longer fits beside b0');
    t.throws(() => pool.reap({ ...ALL, maxGas: -1 }), RangeError);
  });
  t.test('order by gas price, not fee: a big fee spread over a big gas limit comes after', async (t) => {
    const { pool } = setup();
    await addAll(pool, tx('a', 0, 1000, { gasLimit: 1000 }), tx('b', 0, 300, { gasLimit: 100 }), tx('c', 0, 10, { gasLimit: 0 }));
    t.same(order(pool), ['c0', 'b0', 'a0'], 'prices 10/1, 3, 1');
  });
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
  t.equal(pool.config.maxTxBytes, 320 * 1024, 'a deploy of the largest module (256 KiB) with its arguments fits');
  t.equal(pool.config.maxNonceGap, 64);
  t.equal(pool.config.minFee, 0n);
  t.equal(pool.config.replaceFeeBumpPercent, 10);
  await t.rejects(pool.add('nope' as unknown as Uint8Array), TypeError);
});

/** A small seeded generator (mulberry32), so a failure replays from its seed. */
