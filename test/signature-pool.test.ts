/**
 * chain/signature-pool.ts: the SignaturePool on real worker threads gives verifyBatch's answers —
 * the ZIP-215 edge vectors, bit flips, wrong lengths, duplicates, mixed and shuffled requests, split
 * into parts of every size; verifyUntilInvalid finds firstInvalid's index and drops the work above
 * it; small requests are verified inline; crashed workers are replaced and their parts retried (or
 * refused after MAX_ATTEMPTS); close(); the signature cache's pool path answers and caches as its
 * inline path does.
 */
import t from 'tap';
import { utf8 } from '../chain/bytes.ts';
import { publicKeyOf, secretKeyFromSeed, sign } from '../chain/keys.ts';
import { firstInvalid, verifyBatch, verifySignature, type SignedItem } from '../chain/signature.ts';
import { INLINE_BELOW, SignaturePool } from '../chain/signature-pool.ts';
import { MAX_ATTEMPTS } from '../chain/worker-pool.ts';
import { SignatureCache } from '../consensus/verify.ts';
import { mixedBatch, noble, ordinary, vectors, withByte } from './fixtures/signature-vectors.ts';

const single = (v: SignedItem) => verifySignature(v.publicKey, v.message, v.signature);

function signed(n: number, label: string): SignedItem[] {
  return Array.from({ length: n }, (_, i) => {
    const sk = secretKeyFromSeed(`${label}-${i}`);
    const message = utf8(`${label} message ${i}`);
    return { publicKey: publicKeyOf(sk), message, signature: sign(sk, message) };
  });
}

const good = signed(300, 'pool');
/** Bit flips in the signature's R and S, the key, and the message; each invalid. */
const flipped: SignedItem[] = good.slice(0, 40).map((v, i) => {
  const k = i % 4;
  if (k === 0) return { ...v, signature: withByte(v.signature, i % 32, 1 << (i % 8)) };
  if (k === 1) return { ...v, signature: withByte(v.signature, 32 + (i % 31), 1 << (i % 8)) };
  if (k === 2) return { ...v, publicKey: withByte(v.publicKey, i % 32, 1 << (i % 8)) };
  return { ...v, message: withByte(v.message, 0, 0x80) };
});

const mixed = mixedBatch([...good.slice(0, 100), ...flipped]);
const mixedExpected = verifyBatch(mixed);

// Shared pools: every request goes to the workers (inlineBelow 0) unless a test says otherwise.
const two = new SignaturePool({ threads: 2, inlineBelow: 0, maxBatch: 32 });
const one = new SignaturePool({ threads: 1, inlineBelow: 0, maxBatch: 16 });
t.teardown(() => Promise.all([one.close(), two.close()]));

t.test('the edge vectors through the pool: verifyBatch and noble ZIP-215 answers', async (t) => {
  t.ok(vectors.length > 200, `${vectors.length} vectors`);
  const expected = vectors.map(noble);
  t.same(verifyBatch(vectors), expected, 'inline agrees with noble (the rule)');
  t.same(await two.verify(vectors), expected, 'two threads');
  t.same(await one.verify(vectors), expected, 'one thread');
  t.ok(expected.some((x) => x) && expected.some((x) => !x));
  t.equal(two.stats().inline, 0, 'nothing inline with inlineBelow 0');
});

t.test('mixed requests (valid, bit flips, wrong lengths, duplicates, shuffled) of every size', async (t) => {
  t.ok(mixedExpected.some((x) => x) && mixedExpected.filter((x) => !x).length > 50);
  t.same(await two.verify(mixed), mixedExpected, `all ${mixed.length} at once`);
  for (const n of [1, 2, 7, 31, 32, 33, 100]) {
    for (let o = 0; o + n <= mixed.length; o += 5 * n + 17) {
      t.same(await two.verify(mixed.slice(o, o + n)), mixedExpected.slice(o, o + n), `${n} from ${o}`);
    }
  }
  t.same(await two.verify([]), []);
  t.same(flipped.map(single), new Array(flipped.length).fill(false), 'every flip is invalid');
  t.same(await two.verify(flipped), new Array(flipped.length).fill(false));
  // Concurrent requests share the threads and each gets its own answers.
  const parts = [mixed.slice(0, 50), mixed.slice(50, 53), mixed.slice(53, 200), mixed.slice(200)];
  const got = await Promise.all(parts.map((p) => one.verify(p)));
  t.same(got.flat(), mixedExpected, 'concurrent requests');
});

t.test('input that is not SignedItems is refused as verifyBatch refuses it', async (t) => {
  const v = ordinary[0]!;
  const bad = [{ publicKey: v.publicKey, message: 'x' as unknown as Uint8Array, signature: v.signature }];
  t.throws(() => verifyBatch(bad), { name: 'TypeError', message: /items\[0\]\.message/ });
  await t.rejects(two.verify(bad), { name: 'TypeError', message: /items\[0\]\.message/ });
  await t.rejects(two.verifyUntilInvalid(null as unknown as SignedItem[]), TypeError);
});

t.test('verifyUntilInvalid: firstInvalid\'s index, the answers below it, the rest dropped', async (t) => {
  const cases: [string, SignedItem[]][] = [
    ['all valid', good.slice(0, 200)],
    ['one bad early', [...good.slice(0, 3), flipped[0]!, ...good.slice(3, 150)]],
    ['one bad late', [...good.slice(0, 190), flipped[1]!, ...good.slice(190, 200)]],
    ['several bad', [...good.slice(0, 70), flipped[2]!, ...good.slice(70, 100), flipped[3]!, flipped[4]!]],
    ['mixed', mixed],
    ['exotic only', vectors],
  ];
  for (const [name, items] of cases) {
    const want = firstInvalid(items);
    for (const pool of [two, one]) {
      const got = await pool.verifyUntilInvalid(items);
      t.equal(got.invalid, want, `${name}: index ${want}`);
      const upTo = want < 0 ? items.length : want;
      t.same(got.answers.slice(0, upTo), new Array(upTo).fill(true), `${name}: every item below it answered valid`);
      if (want >= 0) t.equal(got.answers[want], false);
      got.answers.forEach((a, i) => a === undefined || t.equal(a, single(items[i]!), `${name}: answer ${i} is right`));
    }
  }
});

t.test('a bad signature first in a large request: one job, the rest cancelled before dispatch', async (t) => {
  const pool = new SignaturePool({ threads: 1, inlineBelow: 0, maxBatch: 64 });
  t.teardown(() => pool.close());
  const items = [flipped[0]!, ...good, ...good, ...good, ...good].slice(0, 1024);
  const got = await pool.verifyUntilInvalid(items);
  t.equal(got.invalid, 0);
  const s = pool.stats();
  t.equal(s.jobs, 1, 'one job (its worker stopped at its first item)');
  t.equal(s.pooled, 1, 'one item verified');
  t.equal(s.cancelled, 1024 - 64, 'the parts not dispatched are dropped');
  t.same(await pool.verify(good.slice(0, 40)), new Array(40).fill(true), 'the pool goes on');
});

t.test('a request is shared by the idle threads; small ones stay inline', async (t) => {
  const pool = new SignaturePool({ threads: 2 });
  t.teardown(() => pool.close());
  t.equal(pool.inlineBelow, INLINE_BELOW);
  const small = mixed.slice(0, INLINE_BELOW - 1);
  t.same(await pool.verify(small), mixedExpected.slice(0, small.length));
  t.same(await pool.verifyUntilInvalid(good.slice(0, 3)), { invalid: -1, answers: [true, true, true] });
  t.same(pool.stats(), { pooled: 0, inline: small.length + 3, jobs: 0, cancelled: 0, retried: 0, replaced: 0, inFlight: 0 }, 'no thread used');
  t.same(await pool.verify(good.slice(0, 200)), new Array(200).fill(true));
  t.equal(pool.stats().jobs, 2, 'two jobs of 100, one per thread');
  t.throws(() => new SignaturePool({ threads: 0 }), RangeError);
  t.throws(() => new SignaturePool({ inlineBelow: -1 }), RangeError);
  t.throws(() => new SignaturePool({ maxBatch: 0 }), RangeError);
});

t.test('a worker crashed mid-way is replaced and its part retried: the answers are still right', async (t) => {
  const pool = two;
  const before = pool.stats();
  pool.crashNextJobsForTest(1);
  t.same(await pool.verify(mixed), mixedExpected);
  const s = pool.stats();
  t.equal(s.replaced - before.replaced, 1);
  t.equal(s.retried - before.retried, 1);
  pool.crashNextJobsForTest(1);
  const found = await pool.verifyUntilInvalid(mixed);
  t.equal(found.invalid, firstInvalid(mixed), 'verifyUntilInvalid across a crash');
  t.same(await pool.verify(vectors), vectors.map(noble), 'the replacement works');
});

t.test(`a part that crashes ${MAX_ATTEMPTS} workers refuses its request; the pool goes on`, async (t) => {
  const pool = one;
  const before = pool.stats();
  pool.crashNextJobsForTest(MAX_ATTEMPTS);
  await t.rejects(pool.verify(good.slice(0, 16)), /crashed 3 worker threads/);
  t.equal(pool.stats().replaced - before.replaced, MAX_ATTEMPTS);
  t.same(await pool.verify(mixed.slice(0, 40)), mixedExpected.slice(0, 40));
});

t.test('close(): jobs in flight finish, the rest is refused, new calls refused, idempotent', async (t) => {
  const pool = new SignaturePool({ threads: 1, inlineBelow: 0, maxBatch: 8 });
  const pending = [pool.verify(good.slice(0, 8)), pool.verify(good.slice(8, 40))];
  await new Promise((resolve) => setImmediate(resolve)); // the first job is dispatched
  t.equal(pool.stats().inFlight, 1);
  const closing = pool.close();
  t.equal(pool.close(), closing, 'the same promise');
  await t.rejects(pool.verify(good.slice(0, 1)), /closed/);
  await t.rejects(pool.verifyUntilInvalid(good.slice(0, 1)), /closed/);
  const settled = await Promise.allSettled(pending);
  t.same(settled[0], { status: 'fulfilled', value: new Array(8).fill(true) }, 'the job in flight finished');
  t.match(settled[1], { status: 'rejected', reason: /closed before/ });
  await closing;
  t.equal(pool.stats().inFlight, 0);
  await new SignaturePool().close(); // threads never started: nothing to stop
});

t.test('SignatureCache through the pool: the same answers, valid ones cached', async (t) => {
  const inline = new SignatureCache();
  const pooled = new SignatureCache();
  const items = mixed.slice(0, 250);
  t.same(await pooled.verifyOn(two, items), inline.verify(items), 'verifyOn === verify');
  t.same(pooled.stats(), inline.stats(), 'the same hits, misses, batches and size');
  for (const it of items) t.equal(pooled.has(it), inline.has(it));
  t.same(await pooled.verifyOn(two, items), mixedExpected.slice(0, 250), 'again, from the cache');
  t.equal(pooled.stats().misses, 250 + mixedExpected.slice(0, 250).filter((x) => !x).length, 'only invalid ones verified again');

  const fresh = new SignatureCache();
  const block = [...good.slice(0, 120), flipped[5]!, ...good.slice(120, 250)];
  t.equal(await fresh.firstInvalidOn(two, block), 120);
  for (const it of block.slice(0, 120)) t.ok(fresh.has(it), 'valid answers below the bad one cached');
  t.notOk(fresh.has(flipped[5]!));
  t.equal(await fresh.firstInvalidOn(two, block.slice(0, 120)), -1, 'all cached: no verification');
  t.equal(fresh.stats().hits, 120);
  t.equal(await fresh.firstInvalidOn(two, [...block.slice(0, 50), ...block.slice(121, 140)]), -1);
});
