/**
 * The admission gate (mempool/gate.ts).
 *   - Held while the node commits a block: an add made meanwhile does no work (not even an account
 *     read) until the last hold is released, then is admitted or refused as ever; the commit's own
 *     recheck goes first. The node holds admissions around each commit (node/node.ts).
 *   - Sliced: one turn of the event loop admits for at most sliceMs; the adds past it wait for later
 *     turns in arrival order, and other work (a proposal, a timer) runs in between. Measured here on
 *     a clock the test moves, so the slices do not depend on this machine's speed.
 */
import t from 'tap';
import { AdmissionGate } from '../mempool/gate.ts';
import { Mempool } from '../mempool/mempool.ts';
import { Accounts, CHAIN, label, setup, stx, tx } from './fixtures/mempool.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));

t.test('an add waits for every hold to be released, reading nothing meanwhile', async (t) => {
  const { pool, accounts } = setup();
  let reads = 0;
  accounts.delay = async () => void reads++;
  const first = pool.admissions.hold();
  const second = pool.admissions.hold();
  t.ok(pool.admissions.held);
  let admitted = false;
  const adding = pool.add(tx('a', 0, 10)).then(() => (admitted = true));
  await turn();
  t.same({ admitted, size: pool.size, reads }, { admitted: false, size: 0, reads: 0 }, 'held: no work done');
  first();
  first(); // a second call of the same release does not count
  await turn();
  t.same({ admitted, size: pool.size, held: pool.admissions.held }, { admitted: false, size: 0, held: true }, 'one hold left');
  second();
  await adding;
  t.same({ admitted, size: pool.size, reads, held: pool.admissions.held }, { admitted: true, size: 1, reads: 1, held: false }, 'released: admitted');
});

t.test('what the commit rechecks is done before the held adds, which are then judged on the new accounts', async (t) => {
  const { pool, accounts } = setup();
  await pool.add(tx('a', 0, 10));
  const release = pool.admissions.hold();
  const stale = pool.add(tx('a', 0, 20)).then(() => 'admitted', (err: Error) => err.message);
  const next = pool.add(tx('a', 1, 10)).then(() => 'admitted', (err: Error) => err.message);
  // The block took a0: the account's nonce is now 1.
  accounts.set('a', { nonce: 1 });
  await pool.update([stx('a', 0, 10)], new Map());
  t.equal(pool.size, 0, 'the recheck ran while adds were held');
  release();
  t.match(await stale, /nonce/, 'the replacement of a committed nonce is refused after the hold');
  t.equal(await next, 'admitted');
  t.equal(pool.size, 1);
});

t.test('nothing held: an add goes through at once', async (t) => {
  const { pool } = setup();
  t.notOk(pool.admissions.held);
  await pool.add(tx('b', 0, 10));
  t.equal(pool.size, 1);
});

/**
 * `n` adds started together on `gate`, each costing `cost` ms of the test's clock once let through,
 * and a probe that runs once a turn of the event loop (an immediate, as the gate's grants are): how
 * many adds ran between consecutive probes, and the order they ran in.
 */
async function burst(gate: AdmissionGate, clock: { ms: number }, n: number, cost: number, beforeProbe = 0) {
  const ran: number[] = [];
  let probes = 0;
  const perTurn: number[] = [];
  let last = 0;
  let probing = true;
  const probe = () => {
    probes++;
    perTurn.push(ran.length - last);
    last = ran.length;
    if (probing) setImmediate(probe);
  };
  for (let i = 0; i < beforeProbe; i++) await new Promise((r) => setImmediate(r));
  setImmediate(probe);
  const adds = Array.from({ length: n }, async (_, i) => {
    if (gate.mustWait()) await gate.turn();
    clock.ms += cost;
    ran.push(i);
  });
  await Promise.all(adds);
  probing = false;
  perTurn.push(ran.length - last);
  return { ran, probes, perTurn };
}

t.test('sliced: a turn of the event loop admits for at most sliceMs, the rest wait in arrival order', async (t) => {
  const clock = { ms: 0 };
  const gate = new AdmissionGate({ now: () => clock.ms, sliceMs: 5 });
  const { ran, perTurn } = await burst(gate, clock, 100, 1);
  t.same(ran, Array.from({ length: 100 }, (_, i) => i), 'every add ran, in the order they came');
  t.equal(perTurn[0], 5, 'the first turn: five adds of 1 ms, then the slice is spent');
  t.ok(perTurn.every((k) => k <= 5), `no turn ran more than 5 ms of adds: ${perTurn.join(' ')}`);
  t.ok(perTurn.length >= 20, 'so 100 ms of adds took at least 20 turns');
  t.equal(gate.waiting, 0);
});

t.test('sliced: the grant follows what the adds cost, and a lone add in a quiet turn never waits', async (t) => {
  const clock = { ms: 0 };
  const gate = new AdmissionGate({ now: () => clock.ms, sliceMs: 5 });
  // Cheap adds: 0.01 ms each, so up to 500 a turn.
  const cheap = await burst(gate, clock, 3000, 0.01);
  t.equal(cheap.ran.length, 3000);
  t.ok(Math.max(...cheap.perTurn) > 100, `cheap adds go through hundreds a turn: ${Math.max(...cheap.perTurn)}`);
  t.ok(cheap.perTurn.every((k) => k <= 501), 'and still no more than 5 ms of them');
  await new Promise((r) => setImmediate(r));
  t.notOk(gate.mustWait(), 'a new turn with nobody waiting: the add goes on at once');
  t.throws(() => new AdmissionGate({ sliceMs: 0 }), /sliceMs must be > 0/);
});

t.test('held: nothing is let through until the last hold ends, then in slices', async (t) => {
  const clock = { ms: 0 };
  const gate = new AdmissionGate({ now: () => clock.ms, sliceMs: 5 });
  const release = gate.hold();
  t.ok(gate.mustWait());
  let ran = 0;
  const adds = Array.from({ length: 20 }, async () => {
    if (gate.mustWait()) await gate.turn();
    clock.ms += 1;
    ran++;
  });
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  t.same({ ran, waiting: gate.waiting }, { ran: 0, waiting: 20 }, 'held for five turns: no add ran');
  release();
  await new Promise((r) => setImmediate(r));
  t.ok(ran >= 1 && ran <= 5, `released: the first turn lets through a slice (${ran})`);
  await Promise.all(adds);
  t.equal(ran, 20);
});

t.test('the mempool admits in slices: other work runs between them, and nothing is lost or reordered', async (t) => {
  const accounts = new Accounts();
  const senders = ['a', 'b', 'c', 'd'];
  for (const name of senders) accounts.set(name, { balance: 1_000_000n, nonce: 0 });
  // A slice too short for any real add: every add after the first of a turn waits for a later one.
  const pool = new Mempool({ chainId: CHAIN, accounts, gate: { sliceMs: 1e-9 } });
  const txs = senders.flatMap((name) => Array.from({ length: 10 }, (_, nonce) => stx(name, nonce, 10)));
  let turns = 0;
  let counting = true;
  const count = () => {
    turns++;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  const results = await Promise.allSettled(txs.map((s) => pool.add(s.bytes)));
  counting = false;
  t.same(results.map((r) => r.status), txs.map(() => 'fulfilled'), 'all 40 admitted');
  t.ok(turns >= 10, `the event loop turned ${turns} times while they were admitted`);
  t.same(pool.reap({ maxTxs: 100, maxBytes: 1e9 }).map(label).filter((l) => l.startsWith('a')), Array.from({ length: 10 }, (_, i) => `a${i}`));
  t.equal(pool.size, 40);
});
