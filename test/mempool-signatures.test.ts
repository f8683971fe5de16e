/**
 * The mempool with a SignaturePool (mempool/signatures.ts): adds made together have their
 * signatures verified in one request on the threads, and the mempool ends in the same state as one
 * verifying inline — the same admissions and refusals (bad signatures among them), the same
 * order, replacements and evictions decided in call order — and the valid signatures are cached.
 * What "together" means is one turn's slice of admission (mempool/gate.ts): the tests that count
 * requests run the gate on a clock they control, so the slices do not depend on this machine.
 */
import t from 'tap';
import { toHex } from '../chain/bytes.ts';
import { SignaturePool } from '../chain/signature-pool.ts';
import { signTransaction } from '../chain/tx.ts';
import { SignatureCache } from '../consensus/verify.ts';
import type { AdmissionGateOptions } from '../mempool/gate.ts';
import { Mempool, MempoolError } from '../mempool/mempool.ts';
import { Accounts, CHAIN, order, snapshot, tx, who } from './fixtures/mempool.ts';

const signatures = new SignaturePool({ threads: 2, inlineBelow: 0, maxBatch: 8 });
t.teardown(() => signatures.close());

const names = Array.from({ length: 12 }, (_, i) => `s${i}`);

/** A clock that never moves: every add of a turn fits its slice. */
const FROZEN = { now: () => 0 };

function pair(config: ConstructorParameters<typeof Mempool>[0]['config'] = {}, gate: AdmissionGateOptions = FROZEN) {
  const accounts = new Accounts();
  for (const name of names) accounts.set(name, { balance: 1_000_000n, nonce: 0 });
  const inline = new Mempool({ chainId: CHAIN, accounts, config, sigCache: new SignatureCache() });
  const cache = new SignatureCache();
  const pooled = new Mempool({ chainId: CHAIN, accounts, config, sigCache: cache, signatures, gate });
  return { inline, pooled, cache };
}

/** A transfer by `name` whose signature is someone else's: refused as invalid_signature. */
function forged(name: string, nonce: number): Uint8Array {
  const s = who(name);
  return signTransaction({
    chainId: CHAIN, sender: s.publicKey, nonce, fee: 5n, gasLimit: 0, payload: { kind: 'transfer', to: who('sink').address, amount: 1n },
  }, who('mallory').secretKey).bytes;
}

/** Adds `txs` all at once (as a JSON-RPC batch does); each outcome: the admitted hash or the refusal code. */
async function addTogether(pool: Mempool, txs: readonly Uint8Array[]): Promise<string[]> {
  return Promise.all(txs.map((b) => pool.add(b).then((s) => toHex(s.hash), (e: unknown) => {
    if (!(e instanceof MempoolError)) throw e;
    return e.code;
  })));
}

/** Transfers of every sender, a forged one among every fifth sender's, a duplicate, a malformed one and a replacement. */
function mixedBatch(): Uint8Array[] {
  const txs: Uint8Array[] = [];
  for (const [i, name] of names.entries()) {
    for (let nonce = 0; nonce < 6; nonce++) txs.push(i % 5 === 2 && nonce === 3 ? forged(name, nonce) : tx(name, nonce, 10 + nonce));
  }
  txs.push(tx('s0', 0, 10), Uint8Array.of(1, 2, 3), tx('s1', 1, 100));
  return txs;
}

t.test('a batch of adds: one request on the pool, the same outcomes and pool as inline', async (t) => {
  const { inline, pooled, cache } = pair();
  const txs = mixedBatch();
  const before = signatures.stats();
  const want = await addTogether(inline, txs);
  const got = await addTogether(pooled, txs);
  t.same(got, want, 'every add answered the same');
  t.ok(want.filter((x) => x === 'invalid_signature').length >= 2, 'bad signatures among them');
  t.ok(want.includes('duplicate') && want.includes('malformed'));
  t.same(snapshot(pooled), snapshot(inline), 'the same transactions, bytes and reap order');
  t.same(order(pooled), order(inline));
  t.equal(cache.stats().batches, 1, 'one verification request for the whole batch');
  t.ok(signatures.stats().jobs - before.jobs >= 2, 'shared by the threads');
  t.equal(cache.size, want.filter((x) => x.length === 64).length, 'every valid signature is cached (the replaced one too)');
});

t.test('a batch sliced over turns: one request a turn, the same outcomes and pool as inline', async (t) => {
  // A clock that moves 1 ms each time the gate reads it, and 5 ms slices: a few adds a turn.
  let ms = 0;
  const { inline, pooled, cache } = pair({}, { now: () => ms++, sliceMs: 5 });
  const txs = mixedBatch();
  const want = await addTogether(inline, txs);
  t.same(await addTogether(pooled, txs), want, 'every add answered the same');
  t.same(snapshot(pooled), snapshot(inline));
  const { batches } = cache.stats();
  t.ok(batches > 1 && batches < txs.length / 4, `the adds of each turn shared a request: ${batches} requests for ${txs.length} adds`);
});

t.test('adds in separate turns keep their call order: replacements and evictions as inline', async (t) => {
  const small = tx('s0', 0, 1).length;
  const { inline, pooled } = pair({ maxTxs: 10, maxBytes: 100 * small, maxTxBytes: 2 * small });
  const turns: Uint8Array[][] = [
    names.slice(0, 6).map((n) => tx(n, 0, 10)),
    [tx('s0', 0, 11), tx('s0', 0, 12), forged('s6', 0), tx('s6', 0, 50)], // a bump too small, then enough
    names.slice(6).map((n) => tx(n, 1, 40)),
    names.slice(6).map((n) => tx(n, 0, 30)), // evicts the cheapest of others
  ];
  const run = async (pool: Mempool) => {
    const pending = turns.map(async (txs, i) => {
      await new Promise((resolve) => setTimeout(resolve, i)); // each its own turn, started in order
      return addTogether(pool, txs);
    });
    return Promise.all(pending);
  };
  t.same(await run(pooled), await run(inline));
  t.same(snapshot(pooled), snapshot(inline));
  t.same(pooled.counters, inline.counters, 'the same admissions, refusals and removals');
  const c = inline.counters;
  t.ok(c.removed.replaced > 0 && c.removed.evicted > 0 && c.refused.nonce_taken > 0 && c.refused.invalid_signature > 0, 'replacements, evictions and refusals happened');
});

t.test('a lone add goes through the same path', async (t) => {
  const { inline, pooled } = pair();
  for (const b of [tx('s3', 0, 7), forged('s4', 0), tx('s4', 0, 7)]) t.same(await addTogether(pooled, [b]), await addTogether(inline, [b]));
  t.same(snapshot(pooled), snapshot(inline));
});

t.test('adds one after another (below the inline threshold) never yield to the event loop within a slice, as without the pool', async (t) => {
  const lone = new SignaturePool({ threads: 1 });
  t.teardown(() => lone.close());
  const accounts = new Accounts();
  accounts.set('s5', { balance: 1_000_000n, nonce: 0 });
  const pool = new Mempool({ chainId: CHAIN, accounts, sigCache: new SignatureCache(), signatures: lone, gate: FROZEN });
  let turned = false;
  setImmediate(() => (turned = true));
  for (let nonce = 0; nonce < 5; nonce++) await pool.add(tx('s5', nonce, 9));
  t.notOk(turned, 'no turn of the event loop between them (a timer cannot reap between two adds)');
  t.equal(pool.size, 5);
  t.equal(lone.stats().inline, 5, 'verified inline');
});
