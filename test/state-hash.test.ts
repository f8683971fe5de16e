import t from 'tap';
import { createHash } from 'node:crypto';
import { sha256, sha256Pair, sha256PairAt } from '../state/sha256.ts';
import { hex, randomBytes, rng } from './fixtures/state-reference.ts';

const ref = (...parts: Uint8Array[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

t.test('the JavaScript SHA-256 matches node:crypto at every length around the block boundaries', async (t) => {
  const rand = rng(256);
  let bad = 0;
  for (let n = 0; n <= 700; n++) {
    const data = randomBytes(rand, n);
    if (hex(sha256(data)) !== ref(data)) bad++;
  }
  t.equal(bad, 0, 'lengths 0..700 (JavaScript below 513 bytes, node:crypto above)');
  t.equal(hex(sha256(new Uint8Array(0))), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'the empty string');
  t.equal(hex(sha256(new TextEncoder().encode('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'FIPS 180-2 "abc"');
});

t.test('node hashes: sha256(tag || a || b), also at offsets and in place', async (t) => {
  const rand = rng(65);
  let bad = 0;
  for (let i = 0; i < 500; i++) {
    const a = randomBytes(rand, 32);
    const b = randomBytes(rand, 32);
    const tag = i % 2;
    const want = ref(Uint8Array.of(tag), a, b);
    if (hex(sha256Pair(tag, a, b)) !== want) bad++;
    const buf = new Uint8Array(200);
    buf.set(a, 7);
    buf.set(b, 100);
    sha256PairAt(tag, buf, 7, buf, 100, buf, 7); // the output overwrites an input
    if (hex(buf.subarray(7, 39)) !== want) bad++;
    if (hex(buf.subarray(100, 132)) !== hex(b)) bad++;
  }
  t.equal(bad, 0, '500 random pairs');
});
