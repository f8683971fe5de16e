/**
 * zk/pool.ts: the VerifierPool on real worker threads gives InlineVerifier's answers — valid
 * batches, a mixed batch of bad items and keys, verifyAll's lowest invalid index with cancellation
 * of what is no longer needed, a bounded queue under many concurrent calls, key residency, crashed
 * workers replaced and their jobs retried (or refused after MAX_ATTEMPTS), close(), one thread,
 * and an idle pool that does not keep its process alive.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { bn254, encodeKey, encodeProof, encodeSignals, InlineVerifier, keyHash, type Answer, type VerifyItem } from '../zk/groth16.ts';
import { MAX_ATTEMPTS, VerifierPool } from '../zk/pool.ts';
import { fixtureKey, fixtureProofs, type FixtureProof, type ZkFixture } from './fixtures/zk.ts';

const c = await bn254();
const keyOf = (name: ZkFixture) => {
  const key = encodeKey(c, fixtureKey(name));
  return { key, keyHash: keyHash(key) };
};
const keys = { mul: keyOf('multiplier'), other: keyOf('multiplier-other'), pos: keyOf('poseidon') };
const item = (k: { key: Uint8Array; keyHash: Uint8Array }, p: FixtureProof): VerifyItem => ({
  ...k, proof: encodeProof(p.proof), signals: encodeSignals(p.publicSignals),
});
const mulProofs = fixtureProofs('multiplier');
const mul = mulProofs.map((p) => item(keys.mul, p));
const pos = fixtureProofs('poseidon').map((p) => item(keys.pos, p));
const other = fixtureProofs('multiplier-other').map((p) => item(keys.other, p));
const inline = new InlineVerifier();

/** 64 multiplier items with bad ones, and Poseidon items (one bad) and a malformed key mixed in. */
function mixed(): { items: VerifyItem[]; bad: Map<number, string> } {
  const items = [...mul];
  const bad = new Map<number, string>();
  const set = (i: number, it: VerifyItem, code: string) => ((items[i] = it), bad.set(i, code));
  const p = (i: number) => structuredClone(mulProofs[i]!);
  const tampered = p(3);
  tampered.publicSignals[0] = (BigInt(tampered.publicSignals[0]!) + 1n).toString();
  set(3, item(keys.mul, tampered), 'invalid_proof');
  const swapped = p(10);
  swapped.proof.pi_c = mulProofs[11]!.proof.pi_c;
  set(10, item(keys.mul, swapped), 'invalid_proof');
  set(17, { ...other[0]!, ...keys.mul }, 'invalid_proof'); // a proof of another key
  const offCurve = p(25);
  offCurve.proof.pi_a[1] = (BigInt(offCurve.proof.pi_a[1]!) + 1n).toString();
  set(25, item(keys.mul, offCurve), 'not_on_curve');
  set(30, { ...mul[30]!, signals: new Uint8Array(64).fill(1) }, 'wrong_signal_count');
  set(38, { ...mul[38]!, signals: new Uint8Array(32).fill(0xff) }, 'signal_out_of_range');
  const infinity = p(45);
  infinity.proof.pi_a = ['0', '1', '0'];
  set(45, item(keys.mul, infinity), 'point_at_infinity');
  set(50, { ...mul[50]!, proof: mul[50]!.proof.subarray(0, 255) }, 'malformed_proof');
  // Mixed keys: valid Poseidon items among them, and one with a changed signal.
  [5, 20, 33, 41, 58].forEach((i, j) => (items[i] = pos[j]!));
  const posBad = { ...pos[5]!, signals: pos[5]!.signals.slice() };
  posBad.signals[31]! ^= 1;
  set(60, posBad, 'invalid_proof');
  const broken = keys.mul.key.slice(0, 100);
  set(62, { ...mul[62]!, key: broken, keyHash: keyHash(broken) }, 'malformed_key');
  return { items, bad };
}

const mixedSet = mixed();
/** InlineVerifier's answer for each item used below, from one call (an item's answer depends on it alone). */
const inlineAnswer = new Map<VerifyItem, Answer>();
{
  const all = [...mixedSet.items, ...mul, ...pos];
  (await inline.verifyEach(all)).forEach((a, i) => inlineAnswer.set(all[i]!, a));
}
const expectEach = (items: readonly VerifyItem[]): Answer[] => items.map((it) => inlineAnswer.get(it)!);

// Pools shared by the tests below (each worker builds its curve: ~0.3 s of a core); stats are
// compared before and after.
const two = new VerifierPool({ threads: 2, maxBatch: 16 });
const one = new VerifierPool({ threads: 1, maxBatch: 16 });
t.teardown(() => Promise.all([one.close(), two.close()]));

const refused = (answers: readonly Answer[]) => new Map(answers.flatMap((a, i) => (a.ok ? [] : [[i, a.code] as const])));

t.test('all-valid requests of 1, 2, 16 and 64 give the inline answers; keys stay resident', async (t) => {
  const pool = two;
  for (const n of [1, 2, 16, 64]) {
    const items = mul.slice(0, n);
    t.same(await pool.verifyEach(items), expectEach(items), `verifyEach of ${n}`);
  }
  t.same(await pool.verifyAll(mul), { ok: true }, 'verifyAll of 64');
  t.same(await pool.verifyEach(pos), expectEach(pos), 'Poseidon (3 public signals)');
  t.same(await pool.verifyEach([]), []);
  t.same(await pool.verifyAll([]), { ok: true });
  const s = pool.stats();
  t.ok(s.keysSent <= 2 * 2, `each key sent at most once per worker (${s.keysSent})`);
  t.equal(s.verified, 1 + 2 + 16 + 64 + 64 + pos.length);
  t.equal(s.queued, 0);
});

t.test('a mixed request: exactly the bad items refused, for the inline reasons; verifyAll the lowest', async (t) => {
  const pool = two;
  const { items, bad } = mixedSet;
  const expected = expectEach(items);
  t.same(refused(expected), bad, 'the inline verifier refuses exactly the crafted items');
  const got = await pool.verifyEach(items);
  t.same(got, expected);
  t.same(refused(got), bad);
  const all = await pool.verifyAll(items);
  t.same(all, await inline.verifyAll(items));
  t.match(all, { ok: false, index: 3, code: 'invalid_proof' });
  // Without the early ones, the lowest is further on (and across keys).
  const tail = items.slice(26);
  t.same(await pool.verifyAll(tail), await inline.verifyAll(tail));
  t.match(await pool.verifyAll(tail), { ok: false, index: 30 - 26, code: 'wrong_signal_count' });
  const late = [...mul.slice(0, 40), items[60]!];
  t.same(await pool.verifyAll(late), { ok: false, index: 40, code: 'invalid_proof', message: 'proof: the pairing equation does not hold' });
});

t.test('verifyAll: a bad item early in a large request cancels the queued rest', async (t) => {
  const pool = one;
  const before = pool.stats();
  const { items } = mixedSet;
  const big = [...mul.slice(0, 2), items[10]!, ...mul, ...mul, ...mul.slice(0, 61), ...mul];
  t.equal(big.length, 256);
  const all = await pool.verifyAll(big);
  t.same(all, await inline.verifyAll(big));
  t.match(all, { ok: false, index: 2 });
  const s = pool.stats();
  // One worker: the first job (items 0-15) is the only one dispatched before its answer.
  t.equal(s.jobs - before.jobs, 1);
  t.equal(s.cancelled - before.cancelled, 256 - 16);
  t.equal(s.queued, 0);
  t.same(await pool.verifyEach(mul.slice(0, 4)), expectEach(mul.slice(0, 4)), 'the pool goes on');
});

t.test('many concurrent requests with a small maxQueued: right answers, the bound held', async (t) => {
  const maxQueued = 20;
  const pool = new VerifierPool({ threads: 2, maxBatch: 8, maxQueued });
  t.teardown(() => pool.close());
  const { items } = mixedSet;
  const requests: VerifyItem[][] = [];
  for (let r = 0; r < 30; r++) requests.push(Array.from({ length: 1 + ((r * 7) % 12) }, (_, j) => items[(r * 13 + j * 5) % items.length]!));
  const each = requests.map((rq, r) => (r % 3 === 2 ? pool.verifyAll(rq) : pool.verifyEach(rq)));
  t.ok(pool.stats().waiting > 0, 'calls wait for room instead of growing the queue');
  t.ok(pool.stats().queued <= maxQueued);
  const got = await Promise.all(each);
  for (const [r, rq] of requests.entries()) {
    t.same(got[r], r % 3 === 2 ? await inline.verifyAll(rq) : expectEach(rq), `request ${r} (${rq.length} items)`);
  }
  const s = pool.stats();
  t.ok(s.maxQueuedSeen <= maxQueued, `max queued ${s.maxQueuedSeen} <= ${maxQueued}`);
  t.equal(s.queued, 0);
  t.equal(s.waiting, 0);
  // A request bigger than maxQueued is admitted once the queue is empty, and alone.
  const oversized = [...mul.slice(0, 30)];
  const behind = [pool.verifyEach(mul.slice(0, 12)), pool.verifyEach(oversized), pool.verifyEach(mul.slice(30, 40))];
  const answers = await Promise.all(behind);
  t.same(answers[1], expectEach(oversized));
  t.same(answers[2], expectEach(mul.slice(30, 40)));
  t.ok(pool.stats().maxQueuedSeen <= oversized.length, `max queued ${pool.stats().maxQueuedSeen} <= the oversized request`);
});

t.test('a key goes to a worker only when its LRU (mirrored by the pool) does not hold it', async (t) => {
  for (const [keyCache, sends] of [[1, 6], [2, 2]] as const) {
    const pool = new VerifierPool({ threads: 1, keyCache });
    for (let i = 0; i < 3; i++) {
      t.same(await pool.verifyEach([mul[i]!]), [{ ok: true }]);
      t.same(await pool.verifyEach([pos[i]!]), [{ ok: true }]);
    }
    t.equal(pool.stats().keysSent, sends, `keyCache ${keyCache}: ${sends} key sends for 6 alternating calls`);
    await pool.close();
  }
});

t.test('a worker crashed mid-way is replaced and its job retried: the answers are still right', async (t) => {
  const pool = two;
  const before = pool.stats();
  // One key, so jobs are formed in request order: request 0 is the first job.
  const items = mul.map((it, i) => ([3, 10, 25, 45].includes(i) ? mixedSet.items[i]! : it));
  const requests = Array.from({ length: 6 }, (_, r) => items.slice(r * 8, r * 8 + 16));
  const pending = requests.map((rq) => pool.verifyEach(rq));
  await pending[0]; // one or two jobs done, the others still queued
  pool.crashNextJobsForTest(1);
  const got = await Promise.all(pending);
  for (const [r, rq] of requests.entries()) t.same(got[r], expectEach(rq), `request ${r}`);
  const s = pool.stats();
  t.equal(s.replaced - before.replaced, 1);
  t.equal(s.retried - before.retried, 1);
  t.same(await pool.verifyAll(items), await inline.verifyAll(items), 'the replacement works');
});

t.test(`a job that crashes ${MAX_ATTEMPTS} workers refuses its requests; the pool goes on`, async (t) => {
  const pool = one;
  const before = pool.stats();
  pool.crashNextJobsForTest(MAX_ATTEMPTS);
  await t.rejects(pool.verifyEach(mul.slice(0, 16)), /crashed 3 worker threads/);
  t.equal(pool.stats().replaced - before.replaced, MAX_ATTEMPTS);
  t.same(await pool.verifyEach(mul.slice(0, 3)), expectEach(mul.slice(0, 3)));
});

t.test('close(): settles everything, refuses new calls, is idempotent', async (t) => {
  const pool = new VerifierPool({ threads: 1, maxBatch: 8, maxQueued: 16 });
  const pending = Array.from({ length: 5 }, (_, r) => pool.verifyEach(mul.slice(r * 8, r * 8 + 8)));
  await new Promise((resolve) => setImmediate(resolve)); // the first job is dispatched
  t.equal(pool.stats().inFlight, 1);
  t.ok(pool.stats().waiting > 0);
  const closing = pool.close();
  t.equal(pool.close(), closing, 'the same promise');
  await t.rejects(pool.verifyEach(mul.slice(0, 1)), /closed/);
  await t.rejects(pool.verifyAll(mul.slice(0, 1)), /closed/);
  const settled = await Promise.allSettled(pending);
  t.same(settled[0], { status: 'fulfilled', value: expectEach(mul.slice(0, 8)) }, 'the job in flight finished');
  for (const s of settled.slice(1)) t.match(s, { status: 'rejected', reason: /closed before/ });
  await closing;
  t.equal(pool.stats().inFlight, 0);
  await pool.close();
});

t.test("one request of one key is shared by the idle workers: a block's proofs use every core", async (t) => {
  const pool = new VerifierPool({ threads: 2 });
  t.teardown(() => pool.close());
  const answers = await pool.verifyEach(mul.slice(0, 40));
  t.ok(answers.every((a) => a.ok));
  t.equal(pool.stats().jobs, 2, 'two jobs of 20, one per worker, not one of 40');
});

t.test('threads: 1 gives the inline answers', async (t) => {
  const pool = one;
  t.equal(pool.threads, 1);
  const { items } = mixedSet;
  t.same(await pool.verifyEach(items), expectEach(items));
  t.same(await pool.verifyAll(items), await inline.verifyAll(items));
  t.throws(() => new VerifierPool({ threads: 0 }), RangeError);
  t.throws(() => new VerifierPool({ maxWaitMs: -1 }), RangeError);
});

t.test('an idle pool does not keep its process alive (no close)', async (t) => {
  const url = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
  const code = `const { VerifierPool } = await import(${url('../zk/pool.ts')});
    const { bn254, encodeKey, encodeProof, encodeSignals, keyHash } = await import(${url('../zk/groth16.ts')});
    const { fixtureKey, fixtureProofs } = await import(${url('./fixtures/zk.ts')});
    const key = encodeKey(await bn254(), fixtureKey('multiplier'));
    const p = fixtureProofs('multiplier')[0];
    const pool = new VerifierPool({ threads: 2 });
    const a = await pool.verifyEach([{ key, keyHash: keyHash(key), proof: encodeProof(p.proof), signals: encodeSignals(p.publicSignals) }]);
    console.log(JSON.stringify(a));`;
  // A file, not --input-type/-e: worker threads inherit execArgv, and refuse --input-type.
  const file = join(mkdtempSync(join(tmpdir(), 'zk-pool-')), 'idle.mjs');
  writeFileSync(file, code);
  t.teardown(() => rmSync(dirname(file), { recursive: true, force: true }));
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  t.teardown(() => child.kill()); // only if the test ends otherwise (a hang ends at tap's timeout)
  const exit = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.equal(exit, 0, 'the process exited by itself');
  t.equal(out.trim(), '[{"ok":true}]');
});
