/**
 * Admissions held while the node commits a block (mempool/hold.ts): an add made meanwhile does no
 * work (not even an account read) until the last hold is released, then is admitted or refused as
 * ever; the commit's own recheck goes first. The node holds them around each commit (node/node.ts).
 */
import t from 'tap';
import { setup, stx, tx } from './fixtures/mempool.ts';

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
