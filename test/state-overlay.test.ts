import t from 'tap';
import { compareBytes, toHex } from '../chain/bytes.ts';
import { StateOverlay } from '../state/overlay.ts';
import { seeded } from './fixtures/chain.ts';

const noBase = { get: async () => undefined };

/** What nextStaged must answer, by brute force over the overlay's writes. */
function expected(overlay: StateOverlay, prefix: Uint8Array, after: Uint8Array | undefined): Uint8Array | undefined {
  return overlay.writes()
    .filter(([k, v]) => v !== null && k.length >= prefix.length && compareBytes(k.subarray(0, prefix.length), prefix) === 0)
    .map(([k]) => k)
    .find((k) => after === undefined || compareBytes(k, after) > 0);
}

t.test('nextStaged walks the staged keys in byte order through writes, deletes and reverts, its order kept once built', async (t) => {
  const r = seeded(7);
  // Keys over a small alphabet of 1 to 3 bytes, so prefixes, duplicates and deletes collide often.
  const key = () => Uint8Array.from({ length: 1 + r.int(3) }, () => r.int(4));
  const overlay = new StateOverlay(noBase);
  let marks: number[] = [];
  let checks = 0;
  for (let step = 0; step < 3000; step++) {
    const op = r.int(10);
    if (op < 4) overlay.set(key(), Uint8Array.of(step & 0xff));
    else if (op < 6) overlay.delete(key());
    else if (op === 6) marks.push(overlay.checkpoint());
    else if (op === 7 && marks.length > 0) {
      const mark = marks[r.int(marks.length)]!;
      overlay.revert(mark);
      marks = marks.filter((m) => m <= mark);
    }
    else {
      const prefix = key().subarray(0, r.int(2));
      const after = r.int(3) === 0 ? undefined : key();
      const got = overlay.nextStaged(prefix, after);
      const want = expected(overlay, prefix, after);
      if ((got && toHex(got)) !== (want && toHex(want))) {
        t.fail(`step ${step}: nextStaged(${toHex(prefix)}, ${after && toHex(after)}) = ${got && toHex(got)}, expected ${want && toHex(want)}`);
        return;
      }
      checks++;
    }
  }
  t.ok(checks > 500, `${checks} answers matched the brute force`);
  overlay.delete(Uint8Array.of(9));
  t.ok(overlay.deletes(Uint8Array.of(9)), 'a staged delete is reported');
  overlay.set(Uint8Array.of(9), Uint8Array.of(1));
  t.notOk(overlay.deletes(Uint8Array.of(9)), 'and not once the key is written again');
  t.notOk(overlay.deletes(Uint8Array.of(10)), 'nor for a key never staged');
});
