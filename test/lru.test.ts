/**
 * chain/lru.ts, the bounded LRU behind the signature, public-key and compiled-module caches:
 * capacity, what counts as a use, the order of eviction, delete and slot reuse.
 */
import t from 'tap';
import { Lru } from '../chain/lru.ts';

t.test('holds at most capacity entries and evicts the least recently used', async (t) => {
  const c = new Lru<string, number>(3);
  c.set('a', 1).set('b', 2).set('c', 3);
  t.equal(c.size, 3);
  t.same([...c.keys()], ['a', 'b', 'c'], 'least recent first');
  c.set('d', 4);
  t.equal(c.size, 3, 'still at capacity');
  t.equal(c.get('a'), undefined, 'the oldest went');
  t.same([...c.keys()], ['b', 'c', 'd']);
  for (let i = 0; i < 100; i++) c.set(`k${i}`, i);
  t.equal(c.size, 3);
  t.same([...c.keys()], ['k97', 'k98', 'k99'], 'eviction keeps following insertion order');
});

t.test('get and set are uses; peek and has are not', async (t) => {
  const c = new Lru<string, number>(3);
  c.set('a', 1).set('b', 2).set('c', 3);
  t.equal(c.get('a'), 1);
  t.same([...c.keys()], ['b', 'c', 'a'], 'get moves to the back');
  c.set('b', 20);
  t.same([...c.keys()], ['c', 'a', 'b'], 'set of a cached key moves it to the back');
  t.equal(c.peek('b'), 20, 'set replaced the value');
  t.equal(c.size, 3, 'replacing adds nothing');
  t.equal(c.peek('c'), 3);
  t.ok(c.has('c'));
  t.same([...c.keys()], ['c', 'a', 'b'], 'peek and has leave the order alone');
  c.set('d', 4);
  t.notOk(c.has('c'), 'so the peeked entry is the one evicted');
  t.same([...c.keys()], ['a', 'b', 'd']);
});

t.test('the most recent entry stays where it is when used again', async (t) => {
  const c = new Lru<string, number>(2);
  c.set('a', 1).set('b', 2);
  t.equal(c.get('b'), 2);
  t.equal(c.get('b'), 2);
  t.same([...c.keys()], ['a', 'b']);
  c.set('c', 3);
  t.same([...c.keys()], ['b', 'c']);
});

t.test('delete frees a slot that later sets reuse, from any position', async (t) => {
  const c = new Lru<string, number>(4);
  c.set('a', 1).set('b', 2).set('c', 3).set('d', 4);
  t.ok(c.delete('b'), 'from the middle');
  t.notOk(c.delete('b'), 'only once');
  t.notOk(c.delete('zz'), 'a key never cached');
  t.equal(c.size, 3);
  t.same([...c.keys()], ['a', 'c', 'd']);
  t.ok(c.delete('a'), 'the oldest');
  t.ok(c.delete('d'), 'the newest');
  t.same([...c.keys()], ['c']);
  c.set('e', 5).set('f', 6).set('g', 7);
  t.equal(c.size, 4, 'freed slots are filled before anything is evicted');
  t.same([...c.keys()], ['c', 'e', 'f', 'g']);
  c.set('h', 8);
  t.same([...c.keys()], ['e', 'f', 'g', 'h'], 'then the least recent goes');
  t.equal(c.get('c'), undefined);
  t.same([4, 5, 6, 7].map((_, i) => c.peek(['e', 'f', 'g', 'h'][i]!)), [5, 6, 7, 8], 'values stayed with their keys');
  c.delete('e');
  c.delete('f');
  c.delete('g');
  c.delete('h');
  t.equal(c.size, 0);
  t.same([...c.keys()], []);
  c.set('i', 9);
  t.same([...c.keys()], ['i'], 'usable again once emptied');
});

t.test('a capacity of one, clear, and null values', async (t) => {
  const one = new Lru<string, string | null>(1);
  one.set('a', null);
  t.ok(one.has('a'));
  t.equal(one.get('a'), null, 'null is a value, told apart from a miss');
  one.set('b', 'x');
  t.same([...one.keys()], ['b']);
  one.clear();
  t.equal(one.size, 0);
  t.equal(one.get('b'), undefined);
  one.set('c', 'y').set('d', 'z');
  t.same([...one.keys()], ['d'], 'works after clear');
});

t.test('refuses a capacity that is not a positive integer', async (t) => {
  for (const bad of [0, -1, 1.5, Number.NaN, Infinity, 2 ** 30]) t.throws(() => new Lru(bad), RangeError, String(bad));
});

t.test('matches a reference model over random operations', async (t) => {
  // A Map re-inserted on every use is the textbook LRU: the same answers, in the same order.
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return Math.floor(seed / 2 ** 16) % n; // the high bits: an LCG's low bits cycle short
  };
  const capacity = 16;
  const c = new Lru<number, number>(capacity);
  const model = new Map<number, number>();
  const use = (k: number, v: number) => {
    model.delete(k);
    model.set(k, v);
  };
  const wrong: string[] = [];
  const counts = { hits: 0, misses: 0, evictions: 0 };
  for (let i = 0; i < 20_000; i++) {
    const k = rand(40);
    const op = rand(4);
    if (op === 0) {
      const v = model.get(k);
      if (c.get(k) !== v) wrong.push(`${i}: get ${k}`);
      if (v === undefined) counts.misses++;
      else {
        counts.hits++;
        use(k, v);
      }
    } else if (op === 1) {
      if (c.delete(k) !== model.delete(k)) wrong.push(`${i}: delete ${k}`);
    } else {
      c.set(k, i);
      if (!model.has(k) && model.size >= capacity) {
        model.delete(model.keys().next().value!);
        counts.evictions++;
      }
      use(k, i);
    }
    if (c.size !== model.size || [...c.keys()].join() !== [...model.keys()].join()) wrong.push(`${i}: order`);
  }
  t.same(wrong.slice(0, 5), [], 'every answer and the order after every operation agree');
  t.ok(counts.hits > 1000 && counts.misses > 1000 && counts.evictions > 1000, `the run exercised hits, misses and evictions (${JSON.stringify(counts)})`);
});
