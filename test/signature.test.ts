/**
 * Ed25519 keys and THE signature rule (ZIP-215). Edge vectors (test/fixtures/signature-vectors.ts)
 * are built with noble's point arithmetic: small-order and mixed-order keys, non-canonical encodings of A and R, non-canonical
 * S, and bytes that are not points. Every answer must equal noble's ZIP-215 verify, and batches must
 * give exactly the single-check answers.
 */
import t from 'tap';
import { ed25519 } from '@noble/curves/ed25519.js';
import { concatBytes, fromHex, toHex, utf8 } from '../chain/bytes.ts';
import {
  generateKeyPair,
  generateSecretKey,
  keyPairFromSecret,
  publicKeyOf,
  secretKeyFromSeed,
  sign,
} from '../chain/keys.ts';
import {
  KEY_CACHE_SIZE,
  keyCacheSize,
  verifyBatch,
  verifySignature,
  type SignedItem,
} from '../chain/signature.ts';
import {
  mixedBatch, detBytes, noble, nodeAccepts, withByte, decodes, vectors, smallOrder, notPoints, smallA, smallR, mixedR, mixedA, validBase, ordinary, bigS, invalid,
} from './fixtures/signature-vectors.ts';

// ---------------------------------------------------------------- tests

t.test('RFC 8032 section 7.1 test vectors', async (t) => {
  const rfc = [
    {
      name: 'TEST 1',
      sk: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
      pk: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      msg: '',
      sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    },
    {
      name: 'TEST 2',
      sk: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
      pk: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
      msg: '72',
      sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    },
    {
      name: 'TEST 3',
      sk: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
      pk: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
      msg: 'af82',
      sig: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
    },
    {
      name: 'TEST SHA(abc)',
      sk: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
      pk: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
      msg: 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
      sig: 'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
    },
  ];
  for (const v of rfc) {
    const sk = fromHex(v.sk);
    const msg = fromHex(v.msg);
    t.equal(toHex(publicKeyOf(sk)), v.pk, `${v.name}: public key`);
    t.equal(toHex(sign(sk, msg)), v.sig, `${v.name}: signature`);
    t.equal(verifySignature(fromHex(v.pk), msg, fromHex(v.sig)), true, `${v.name}: verifies`);
    t.same(keyPairFromSecret(sk), { secretKey: sk, publicKey: fromHex(v.pk) }, `${v.name}: key pair`);
  }
});

t.test('random keys: sign/verify, any flipped byte fails, same bytes as noble', async (t) => {
  for (let i = 0; i < 12; i++) {
    const { secretKey, publicKey } = keyPairFromSecret(detBytes(32, 'sk'));
    const msg = detBytes(i * 17, 'msg');
    const sig = sign(secretKey, msg);
    t.equal(sig.length, 64);
    t.equal(toHex(publicKey), toHex(ed25519.getPublicKey(secretKey)), 'public key equals noble');
    t.equal(toHex(sig), toHex(ed25519.sign(msg, secretKey)), 'signature equals noble');
    t.equal(verifySignature(publicKey, msg, sig), true, 'verifies');
    // Every byte position for the first keys (each failing check takes the slow path), a sample after.
    const every = i < 2;
    const pick = (n: number) => (every ? [...Array(n).keys()] : [0, 31, n - 1, i % n].filter((x) => x >= 0 && x < n));
    let flips = 0;
    for (const j of pick(64)) flips += verifySignature(publicKey, msg, withByte(sig, j, 1 << (j % 8))) ? 1 : 0;
    for (const j of pick(32)) flips += verifySignature(withByte(publicKey, j, 1 << (j % 8)), msg, sig) ? 1 : 0;
    if (msg.length > 0) for (const j of pick(msg.length)) flips += verifySignature(publicKey, withByte(msg, j, 0x80), sig) ? 1 : 0;
    t.equal(flips, 0, `key ${i}: no flipped byte verifies`);
    t.equal(verifySignature(publicKey, concatBytes(msg, new Uint8Array(1)), sig), false, 'longer message fails');
  }
});

t.test('keys: generation, seeds and input validation', async (t) => {
  let calls = 0;
  const seeded = (n: number) => new Uint8Array(n).fill(++calls);
  t.same(generateSecretKey(seeded), new Uint8Array(32).fill(1), 'random source is used');
  const kp = generateKeyPair(seeded);
  t.same(kp.secretKey, new Uint8Array(32).fill(2));
  t.same(kp.publicKey, ed25519.getPublicKey(kp.secretKey));
  t.equal(generateSecretKey().length, 32);
  t.not(toHex(generateSecretKey()), toHex(generateSecretKey()), 'system random differs');
  t.throws(() => generateSecretKey(() => new Uint8Array(31)), TypeError);

  t.same(secretKeyFromSeed('validator-1'), secretKeyFromSeed(utf8('validator-1')), 'seed: string = its utf8');
  t.not(toHex(secretKeyFromSeed('validator-1')), toHex(secretKeyFromSeed('validator-2')));
  t.equal(secretKeyFromSeed('validator-1').length, 32);

  const sk = secretKeyFromSeed('k');
  t.throws(() => sign(new Uint8Array(31), new Uint8Array()), { name: 'TypeError', message: /secretKey/ });
  t.throws(() => sign(new Uint8Array(33), new Uint8Array()), { name: 'TypeError', message: /secretKey/ });
  t.throws(() => sign('x'.repeat(32) as unknown as Uint8Array, new Uint8Array()), { name: 'TypeError', message: /secretKey/ });
  t.throws(() => sign(sk, 'hello' as unknown as Uint8Array), { name: 'TypeError', message: /message/ });
  t.throws(() => publicKeyOf(new Uint8Array(64)), { name: 'TypeError', message: /secretKey/ });
  t.throws(() => keyPairFromSecret(new Uint8Array(0)), { name: 'TypeError', message: /secretKey/ });

  const big = new Uint8Array(100);
  big.set(sk, 50);
  t.same(sign(big.subarray(50, 82), utf8('m')), sign(sk, utf8('m')), 'secret key given as a view');
  t.same(publicKeyOf(big.subarray(50, 82)), publicKeyOf(sk));
});

t.test('non-canonical S (S >= L) is rejected', async (t) => {
  for (const v of [...ordinary, ...validBase]) t.equal(verifySignature(v.publicKey, v.message, v.signature), true, `base valid: ${v.name}`);
  for (const v of bigS) {
    t.equal(verifySignature(v.publicKey, v.message, v.signature), false, v.name);
    t.equal(noble(v), false, `noble agrees: ${v.name}`);
  }
});

t.test('small-order public keys: accepted under ZIP-215, OpenSSL rejects some', async (t) => {
  t.equal(smallOrder.filter((p) => p.canonical).length, 8, 'all 8 small-order points');
  t.ok(smallOrder.filter((p) => !p.canonical).length >= 6, 'their non-canonical encodings');
  for (const p of smallOrder) t.ok(decodes(p.bytes)?.isSmallOrder(), `${p.name} is small order`);
  for (const v of smallA) t.equal(verifySignature(v.publicKey, v.message, v.signature), true, v.name);
  const nodeRejected = smallA.filter((v) => !nodeAccepts(v)).length;
  t.ok(nodeRejected > 0, `Node's crypto rejects ${nodeRejected}/${smallA.length}, so the fallback ran`);
});

t.test('non-canonical encodings of A and R are accepted when the equation holds', async (t) => {
  const nonCanonA = smallA.filter((v) => smallOrder.some((p) => !p.canonical && p.bytes === v.publicKey));
  const nonCanonR = smallR.filter((v) => smallOrder.some((p) => !p.canonical && toHex(p.bytes) === toHex(v.signature.subarray(0, 32))));
  t.ok(nonCanonA.length >= 18, 'non-canonical A vectors');
  t.ok(nonCanonR.length >= 6, 'non-canonical R vectors');
  for (const v of [...nonCanonA, ...nonCanonR, ...smallR]) t.equal(verifySignature(v.publicKey, v.message, v.signature), true, v.name);
  t.equal(nonCanonR.filter(nodeAccepts).length, 0, 'OpenSSL accepts no non-canonical R');
  t.ok(nonCanonA.filter((v) => !nodeAccepts(v)).length > 0, 'OpenSSL rejects some non-canonical A');
});

t.test('mixed-order A and R: cofactored accepts where cofactorless fails', async (t) => {
  for (const v of [...mixedA, ...mixedR]) t.equal(verifySignature(v.publicKey, v.message, v.signature), true, v.name);
  const failsCofactorless = mixedA.filter((v) => !nodeAccepts(v)).length;
  t.ok(failsCofactorless > 0, `${failsCofactorless}/${mixedA.length} mixed-order-A signatures fail OpenSSL`);
  t.equal(mixedR.filter(nodeAccepts).length, 0, 'mixed-order R always fails OpenSSL');
});

t.test('bytes that are not points are rejected', async (t) => {
  t.ok(notPoints.length >= 20);
  for (const b of notPoints) t.equal(decodes(b), undefined, `${toHex(b).slice(0, 8)} is not a point`);
  for (const v of invalid) t.equal(verifySignature(v.publicKey, v.message, v.signature), false, v.name);
});

t.test('every edge vector: verifySignature === noble ZIP-215; OpenSSL never accepts more', async (t) => {
  t.ok(vectors.length > 200, `${vectors.length} vectors`);
  let mismatches = 0;
  let wrong = 0;
  let nodeOnly = 0;
  let zip215Only = 0;
  for (const v of vectors) {
    const ours = verifySignature(v.publicKey, v.message, v.signature);
    const ref = noble(v);
    const node = nodeAccepts(v);
    if (ours !== ref) {
      mismatches++;
      t.fail(`differs from noble: ${v.name}`);
    }
    if (v.expect !== undefined && ours !== v.expect) {
      wrong++;
      t.fail(`expected ${v.expect}: ${v.name}`);
    }
    if (node && !ref) nodeOnly++;
    if (ref && !node) zip215Only++;
  }
  t.equal(mismatches, 0, 'no mismatch with noble');
  t.equal(wrong, 0, 'every constructed answer as expected');
  t.equal(nodeOnly, 0, 'nothing accepted by OpenSSL and rejected by ZIP-215');
  t.ok(zip215Only > 50, `${zip215Only} accepted by ZIP-215 only (the fallback path)`);
});

t.test('verifyBatch === per-item answers (shuffled, duplicates, invalid items mixed in)', async (t) => {
  const single = (v: SignedItem) => verifySignature(v.publicKey, v.message, v.signature);
  const items = mixedBatch([]);
  const expected = items.map(single);
  const got = verifyBatch(items);
  t.equal(got.length, items.length);
  t.same(got, expected, 'batch answers equal single answers');
  t.ok(expected.some((x) => x) && expected.some((x) => !x), 'batch mixes valid and invalid');
  // Small batches and sub-batches give the same answers as well.
  for (let o = 0; o < items.length; o += 37) t.same(verifyBatch(items.slice(o, o + 37)), expected.slice(o, o + 37));
  t.same(verifyBatch([]), []);
});

t.test('wrong lengths are false; non-Uint8Array arguments throw TypeError', async (t) => {
  const v = ordinary[0]!;
  t.equal(verifySignature(v.publicKey, v.message, v.signature), true);
  t.equal(verifySignature(v.publicKey.subarray(0, 31), v.message, v.signature), false, 'key 31 bytes');
  t.equal(verifySignature(concatBytes(v.publicKey, new Uint8Array(1)), v.message, v.signature), false, 'key 33 bytes');
  t.equal(verifySignature(new Uint8Array(), v.message, v.signature), false, 'key empty');
  t.equal(verifySignature(v.publicKey, v.message, v.signature.subarray(0, 63)), false, 'sig 63 bytes');
  t.equal(verifySignature(v.publicKey, v.message, concatBytes(v.signature, new Uint8Array(1))), false, 'sig 65 bytes');
  t.equal(verifySignature(v.publicKey, v.message, new Uint8Array()), false, 'sig empty');
  // Buffers and views into larger buffers are fine.
  const big = new Uint8Array(200);
  big.set(v.publicKey, 3);
  big.set(v.signature, 100);
  t.equal(verifySignature(big.subarray(3, 35), Buffer.from(v.message), big.subarray(100, 164)), true, 'views and Buffers');

  const bad = ['ab', [1, 2, 3], new ArrayBuffer(32), null, undefined, 5, new Uint16Array(16)];
  for (const x of bad) {
    const y = x as unknown as Uint8Array;
    t.throws(() => verifySignature(y, v.message, v.signature), { name: 'TypeError', message: /publicKey/ });
    t.throws(() => verifySignature(v.publicKey, y, v.signature), { name: 'TypeError', message: /message/ });
    t.throws(() => verifySignature(v.publicKey, v.message, y), { name: 'TypeError', message: /signature/ });
    t.throws(() => verifyBatch([{ publicKey: v.publicKey, message: v.message, signature: y }]), { name: 'TypeError', message: /items\[0\]\.signature/ });
  }
  t.throws(() => verifyBatch(null as unknown as SignedItem[]), TypeError);
  t.throws(() => verifyBatch([null as unknown as SignedItem]), TypeError);
});

t.test('KeyObject cache: more distinct keys than the cache still answer correctly', async (t) => {
  const n = KEY_CACHE_SIZE + 300;
  const signed: SignedItem[] = [];
  for (let i = 0; i < n; i++) {
    const sk = secretKeyFromSeed(`cache-${i}`);
    const msg = utf8(`message ${i}`);
    signed.push({ publicKey: publicKeyOf(sk), message: msg, signature: sign(sk, msg) });
  }
  let ok = 0;
  for (const s of signed) ok += verifySignature(s.publicKey, s.message, s.signature) ? 1 : 0;
  t.equal(ok, n, 'all valid on first sight');
  t.ok(keyCacheSize() <= KEY_CACHE_SIZE, `cache bounded (${keyCacheSize()})`);
  // The first keys were evicted; they must still verify, and wrong pairings must still fail.
  let again = 0;
  for (const s of signed.slice(0, 300)) again += verifySignature(s.publicKey, s.message, s.signature) ? 1 : 0;
  t.equal(again, 300, 'evicted keys verify again');
  let crossed = 0;
  for (let i = 0; i < 40; i++) {
    const a = signed[i * 100]!;
    const b = signed[i * 100 + 1]!;
    crossed += verifySignature(a.publicKey, b.message, b.signature) ? 1 : 0;
    crossed += verifySignature(a.publicKey, a.message, b.signature) ? 1 : 0;
  }
  t.equal(crossed, 0, 'signatures under other keys fail');
  t.same(verifyBatch(signed.slice(n - 64)), new Array(64).fill(true), 'batch of recently cached keys');
  t.ok(keyCacheSize() <= KEY_CACHE_SIZE);
});
