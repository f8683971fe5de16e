/** The mempool under random adds, blocks and updates, checked against its invariants after every step. */
import t from 'tap';
import { toHex } from '../chain/bytes.ts';
import { type SignedTransaction } from '../chain/tx.ts';
import { Mempool, MempoolError } from '../mempool/mempool.ts';
import { Accounts, ALL, CHAIN, label, namesByKey, snapshot, tx } from './fixtures/mempool.ts';

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
