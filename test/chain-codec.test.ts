import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { addressOf, formatAddress, parseAddress, AddressError } from '../chain/address.ts';
import { blockHash, decodeBlock, decodeHeader, encodeBlock, encodeHeader, txsHash, type Block } from '../chain/block.ts';
import { concatBytes, equalBytes, fromHex, toHex } from '../chain/bytes.ts';
import { decode as cborDecode, encode as cborEncode } from 'cborg';
import { CodecError, DECODE_OPTIONS, decodeCanonical, encodeCanonical, isCanonicalEncoding, U64_MAX, type CborValue } from '../chain/codec.ts';
import { merkleRoot } from '../chain/merkle.ts';
import { decodeReceipt, encodeReceipt, TxStatus, type Receipt } from '../chain/receipt.ts';
import { keyPairFromSecret, secretKeyFromSeed } from '../chain/keys.ts';
import {
  decodeSignedTransaction, encodeSignedTransaction, signTransaction, txSignBytes, verifyTransactionSignature,
  type Transaction,
} from '../chain/tx.ts';
import { decodeCommit, decodeVote, encodeCommit, encodeVote, PRECOMMIT, PREVOTE, voteSignBytes, type Commit, type Vote } from '../chain/vote.ts';
import { sha256 } from '../chain/hash.ts';

// A small seeded generator so failures replay: the seed is printed in the test name.
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>> 0) / 2 ** 32);
  return {
    int: (max: number) => Math.floor(next() * max),
    bytes: (n: number) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256)),
    big: () => [0n, 1n, 23n, 24n, 255n, 256n, 65535n, 65536n, 2n ** 32n, 2n ** 53n, U64_MAX][Math.floor(next() * 11)]! + 0n,
  };
}

const alice = keyPairFromSecret(secretKeyFromSeed('alice'));

function randomTx(r: ReturnType<typeof rng>): Transaction {
  return {
    chainId: ['hallmark-devnet', 'a', 'x.y_z-1'][r.int(3)]!,
    sender: alice.publicKey,
    nonce: [0, 1, 23, 24, 2 ** 32, Number.MAX_SAFE_INTEGER][r.int(6)]!,
    fee: r.big(),
    gasLimit: r.int(10_000_000),
    payload: { kind: 'transfer', to: r.bytes(20), amount: r.big() },
  };
}

t.test('transactions round-trip and keep their hash and signature', async (t) => {
  const seed = Date.now() % 100000;
  const r = rng(seed);
  for (let i = 0; i < 200; i++) {
    const tx = randomTx(r);
    const stx = signTransaction(tx, alice.secretKey);
    const back = decodeSignedTransaction(stx.bytes);
    t.same(back.tx, tx, `seed ${seed} #${i}: decode(encode(tx)) equals tx`);
    t.ok(equalBytes(back.hash, sha256(stx.bytes)), 'hash is sha256 of the encoding');
    t.ok(equalBytes(encodeSignedTransaction(back), stx.bytes), 're-encoding gives the same bytes');
    t.ok(verifyTransactionSignature(back), 'signature verifies');
  }
});

t.test('transaction signatures are bound to the chain id and every field', async (t) => {
  const tx: Transaction = { chainId: 'chain-a', sender: alice.publicKey, nonce: 1, fee: 5n, gasLimit: 10_000, payload: { kind: 'transfer', to: new Uint8Array(20), amount: 7n } };
  const stx = signTransaction(tx, alice.secretKey);
  t.ok(verifyTransactionSignature(stx));
  // Replay on another chain: same signature over a tx with a different chain id fails.
  const replay = decodeSignedTransaction(encodeSignedTransaction({ tx: { ...tx, chainId: 'chain-b' }, signature: stx.signature }));
  t.notOk(verifyTransactionSignature(replay), 'a signature for chain-a does not verify on chain-b');
  for (const changed of [{ nonce: 2 }, { fee: 6n }, { gasLimit: 10_001 }, { payload: { kind: 'transfer' as const, to: new Uint8Array(20), amount: 8n } }]) {
    const forged = decodeSignedTransaction(encodeSignedTransaction({ tx: { ...tx, ...changed }, signature: stx.signature }));
    t.notOk(verifyTransactionSignature(forged), `changing ${Object.keys(changed)[0]} breaks the signature`);
  }
  t.ok(toHex(txSignBytes(tx)).startsWith(toHex(new TextEncoder().encode('hallmark/tx/v1\n'))), 'sign bytes are domain separated');
});

t.test('encode refuses values out of range', async (t) => {
  const tx: Transaction = { chainId: 'c', sender: alice.publicKey, nonce: 0, fee: 0n, gasLimit: 0, payload: { kind: 'transfer', to: new Uint8Array(20), amount: 0n } };
  t.throws(() => signTransaction({ ...tx, fee: U64_MAX + 1n }, alice.secretKey), RangeError);
  t.throws(() => signTransaction({ ...tx, fee: -1n }, alice.secretKey), RangeError);
  t.throws(() => signTransaction({ ...tx, nonce: -1 }, alice.secretKey), RangeError);
  t.throws(() => signTransaction({ ...tx, nonce: 1.5 }, alice.secretKey), RangeError);
  t.throws(() => signTransaction({ ...tx, chainId: 'Has Spaces' }, alice.secretKey), RangeError);
  t.throws(() => signTransaction({ ...tx, chainId: '' }, alice.secretKey), RangeError);
  t.throws(() => signTransaction({ ...tx, payload: { kind: 'transfer', to: new Uint8Array(19), amount: 0n } }, alice.secretKey), TypeError);
});

function expectCodecError(t: Test, fn: () => unknown, code: CodecError['code'], msg: string) {
  try {
    fn();
    t.fail(`${msg}: accepted`);
  } catch (err) {
    t.ok(err instanceof CodecError, `${msg}: CodecError`);
    t.equal((err as CodecError).code, code, `${msg}: code ${code} (${(err as Error).message})`);
  }
}

t.test('bytes that are not the canonical encoding of a transaction are rejected', async (t) => {
  const stx = signTransaction({ chainId: 'c', sender: alice.publicKey, nonce: 1, fee: 1n, gasLimit: 100, payload: { kind: 'transfer', to: new Uint8Array(20), amount: 1n } }, alice.secretKey);
  const good = stx.bytes;
  const hex = toHex(good);
  expectCodecError(t, () => decodeSignedTransaction(concatBytes(good, Uint8Array.of(0))), 'malformed', 'trailing byte');
  expectCodecError(t, () => decodeSignedTransaction(good.subarray(0, good.length - 1)), 'malformed', 'truncated');
  expectCodecError(t, () => decodeSignedTransaction(new Uint8Array()), 'malformed', 'empty');
  // The nonce 1 is the byte 0x01 after the 32-byte sender key (0x5820 + key); re-encode it as 0x1801.
  const keyHex = '5820' + toHex(alice.publicKey);
  const at = hex.indexOf(keyHex) + keyHex.length;
  t.equal(hex.slice(at, at + 2), '01', 'found the nonce byte');
  expectCodecError(t, () => decodeSignedTransaction(fromHex(hex.slice(0, at) + '1801' + hex.slice(at + 2))), 'malformed', 'non-minimal integer');
  // Same field as a float (0xf93c00 is half-precision 1.0): cborg decodes it as 1, re-encoding differs.
  expectCodecError(t, () => decodeSignedTransaction(fromHex(hex.slice(0, at) + 'f93c00' + hex.slice(at + 2))), 'non_canonical', 'float for an integer');
  // Indefinite-length outer list.
  expectCodecError(t, () => decodeSignedTransaction(fromHex('9f' + hex.slice(2) + 'ff')), 'malformed', 'indefinite length');
  // A tag in front of the whole thing.
  expectCodecError(t, () => decodeSignedTransaction(fromHex('d818' + hex)), 'malformed', 'tagged');
  // A map instead of the outer list.
  expectCodecError(t, () => decodeSignedTransaction(encodeCanonical(null)), 'schema', 'null');
  t.throws(() => decodeSignedTransaction(fromHex('a1616101')), CodecError, 'a map');
  // Wrong field counts and types.
  const [unsigned, sig] = decodeCanonical(good, 't') as [unknown[], Uint8Array];
  const enc = (u: unknown, s: unknown = sig) => encodeCanonical([u, s] as never);
  expectCodecError(t, () => decodeSignedTransaction(enc([...unsigned, 0])), 'schema', 'extra field');
  expectCodecError(t, () => decodeSignedTransaction(enc(unsigned.slice(0, 6))), 'schema', 'missing field');
  expectCodecError(t, () => decodeSignedTransaction(enc([2, ...unsigned.slice(1)])), 'schema', 'unknown version');
  expectCodecError(t, () => decodeSignedTransaction(enc(unsigned, sig.subarray(0, 63))), 'schema', 'short signature');
  expectCodecError(t, () => decodeSignedTransaction(enc([...unsigned.slice(0, 2), new Uint8Array(33), ...unsigned.slice(3)])), 'schema', 'oversize public key');
  expectCodecError(t, () => decodeSignedTransaction(enc([...unsigned.slice(0, 1), 'x'.repeat(65), ...unsigned.slice(2)])), 'schema', 'oversize chain id');
  expectCodecError(t, () => decodeSignedTransaction(enc([...unsigned.slice(0, 6), [9, new Uint8Array(20), 1]])), 'schema', 'unknown payload kind');
  expectCodecError(t, () => decodeSignedTransaction(enc([...unsigned.slice(0, 6), [0, new Uint8Array(21), 1]])), 'schema', 'oversize address');
  expectCodecError(t, () => decodeSignedTransaction(enc([...unsigned.slice(0, 3), -1, ...unsigned.slice(4)])), 'schema', 'negative nonce');
  expectCodecError(t, () => decodeSignedTransaction(enc([...unsigned.slice(0, 3), 2n ** 60n, ...unsigned.slice(4)])), 'schema', 'nonce beyond 2^53');
  expectCodecError(t, () => decodeSignedTransaction(good, 10), 'too_large', 'over the size limit');
});

t.test('random bytes never decode to something that re-encodes differently', async (t) => {
  const r = rng(42);
  const stx = signTransaction(randomTx(r), alice.secretKey);
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    const b = Uint8Array.from(stx.bytes);
    const flips = 1 + r.int(3);
    for (let f = 0; f < flips; f++) b[r.int(b.length)] = r.int(256);
    try {
      const d = decodeSignedTransaction(b);
      accepted++;
      if (!equalBytes(encodeSignedTransaction(d), b)) t.fail(`accepted non-canonical bytes ${toHex(b)}`);
    } catch (err) {
      if (!(err instanceof CodecError)) t.fail(`unexpected error type: ${(err as Error).stack}`);
    }
  }
  t.pass(`mutations: ${accepted} decoded (all canonical), the rest refused with CodecError`);
});

t.test("the in-place canonical check answers exactly as encoding again and comparing (cborg's answer)", async (t) => {
  const r = rng(7);
  const seeds: Uint8Array[] = [
    signTransaction(randomTx(r), alice.secretKey).bytes,
    encodeBlock(sampleBlock(r, 3, 4)),
    encodeCanonical([0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, 2n ** 53n, U64_MAX]),
    encodeCanonical([-1, -24, -25, -256, -257, -65537, -(2 ** 32) - 1, Number.MIN_SAFE_INTEGER, -(2n ** 60n), -U64_MAX - 1n]),
    encodeCanonical(['', 'ascii', 'é', '€uro', '😀', 'x'.repeat(300), true, false, null, [], [[]], new Uint8Array(0), new Uint8Array(300)]),
  ];
  // Forms cborg decodes but that are not canonical: floats standing for integers (half, single,
  // double, -0), a float that is not an integer, a bignum-sized float, a map, invalid and overlong
  // UTF-8, a lone surrogate's bytes.
  const odd = ['f93c00', 'fa3f800000', 'fb3ff0000000000000', 'f98000', 'f93e00', 'fb43f0000000000000', 'a1616101', 'a0',
    '62c328', '62c0af', '63eda080', '8201f93c00', '83f6f5f4', '6161'].map(fromHex);
  let agree = 0;
  let checked = 0;
  const compare = (b: Uint8Array) => {
    let value: CborValue;
    try {
      value = cborDecode(b, DECODE_OPTIONS) as CborValue;
    } catch {
      return;
    }
    checked++;
    const oracle = equalBytes(cborEncode(value), b);
    if (isCanonicalEncoding(value, b) === oracle) agree++;
    else t.fail(`disagrees with cborg on ${toHex(b)} (cborg says ${oracle ? 'canonical' : 'not canonical'})`);
  };
  for (const b of [...seeds, ...odd]) compare(b);
  for (let i = 0; i < 20_000; i++) {
    const seed = seeds[r.int(seeds.length)]!;
    let b: Uint8Array = Uint8Array.from(seed);
    const op = r.int(4);
    if (op === 0) for (let f = 1 + r.int(3); f > 0; f--) b[r.int(b.length)] = r.int(256);
    else if (op === 1) b = b.subarray(0, r.int(b.length));
    else if (op === 2) { const at = r.int(b.length); b = concatBytes(b.subarray(0, at), odd[r.int(odd.length)]!, b.subarray(at)); }
    else { const at = r.int(b.length); b = concatBytes(b.subarray(0, at), b.subarray(at + 1 + r.int(3))); }
    compare(b);
  }
  t.ok(checked > 2000, `${checked} byte strings decoded by cborg were compared`);
  t.equal(agree, checked);
  // And what the codec's own values encode to is canonical, with no re-encoding.
  for (const b of seeds) t.ok(isCanonicalEncoding(cborDecode(b, DECODE_OPTIONS) as CborValue, b));
  // Given a value not decoded from the bytes, contents count too, not just headers.
  t.notOk(isCanonicalEncoding('abc', encodeCanonical('abd')));
  t.notOk(isCanonicalEncoding('é', encodeCanonical('è')));
  t.notOk(isCanonicalEncoding(Uint8Array.of(1, 2), encodeCanonical(Uint8Array.of(1, 3))));
  t.notOk(isCanonicalEncoding([1, [2n ** 60n]], encodeCanonical([1, [2n ** 60n + 1n]])));
  t.notOk(isCanonicalEncoding([1, 2], encodeCanonical([1, 2, 3])), 'a prefix is not the encoding');
});

function sampleBlock(r: ReturnType<typeof rng>, height: number, txCount: number): Block {
  const txs = Array.from({ length: txCount }, () => signTransaction(randomTx(r), alice.secretKey).bytes);
  const commit: Commit | null = height === 1 ? null : {
    height: height - 1, round: r.int(5), blockHash: r.bytes(32),
    signatures: Array.from({ length: 1 + r.int(7) }, () => ({ validator: r.bytes(20), signature: r.bytes(64) })),
  };
  return {
    header: {
      protocolVersion: 1, chainId: 'hallmark-devnet', height, time: 1_700_000_000_000 + height, lastBlockHash: r.bytes(32),
      lastCommitHash: r.bytes(32), txsHash: txsHash(txs), stateRoot: r.bytes(32), lastResultsHash: r.bytes(32),
      validatorsHash: r.bytes(32), proposer: r.bytes(20), evidenceHash: r.bytes(32),
    },
    txs,
    lastCommit: commit,
    evidence: [],
  };
}

t.test('blocks, headers, votes, commits and receipts round-trip', async (t) => {
  const r = rng(7);
  for (let i = 0; i < 30; i++) {
    const block = sampleBlock(r, 1 + r.int(1000), r.int(6));
    const bytes = encodeBlock(block);
    t.same(decodeBlock(bytes), block);
    t.ok(equalBytes(encodeBlock(decodeBlock(bytes)), bytes));
    t.same(decodeHeader(encodeHeader(block.header)), block.header);
    t.ok(equalBytes(blockHash(block.header), sha256(encodeHeader(block.header))));
    if (block.lastCommit) t.same(decodeCommit(encodeCommit(block.lastCommit)), block.lastCommit);
    const vote: Vote = { type: r.int(2) ? PREVOTE : PRECOMMIT, height: r.int(1e6), round: r.int(100), blockHash: r.int(2) ? null : r.bytes(32), validator: r.bytes(20), signature: r.bytes(64) };
    t.same(decodeVote(encodeVote(vote)), vote);
    const receipt: Receipt = { status: TxStatus.ok, gasUsed: r.int(1e6), events: [{ type: 'transfer', attributes: [['to', 'x'], ['amount', '5']] }], error: '', returnData: r.bytes(r.int(40)) };
    t.same(decodeReceipt(encodeReceipt(receipt)), receipt);
  }
});

t.test('bad block, vote, commit and receipt bytes are rejected', async (t) => {
  const r = rng(9);
  const block = sampleBlock(r, 5, 2);
  const bytes = encodeBlock(block);
  expectCodecError(t, () => decodeBlock(concatBytes(bytes, Uint8Array.of(0xf6))), 'malformed', 'block trailing byte');
  const [h, txs, c] = decodeCanonical(bytes, 'b') as [unknown[], unknown, unknown];
  expectCodecError(t, () => decodeBlock(encodeCanonical([h, txs, c, [1]] as never)), 'schema', 'block with evidence');
  expectCodecError(t, () => decodeBlock(encodeCanonical([h.slice(0, 11), txs, c, []] as never)), 'schema', 'short header');
  expectCodecError(t, () => decodeBlock(encodeCanonical([[1, ...h.slice(1)], txs, c, []] as never)), 'schema', 'header of block format 1');
  expectCodecError(t, () => decodeBlock(encodeCanonical([[3, ...h.slice(1)], txs, c, []] as never)), 'schema', 'header of block format 3');
  expectCodecError(t, () => decodeBlock(encodeCanonical([h, ['not bytes'], c, []] as never)), 'schema', 'tx not bytes');
  const vote: Vote = { type: PREVOTE, height: 1, round: 0, blockHash: null, validator: r.bytes(20), signature: r.bytes(64) };
  const v = decodeCanonical(encodeVote(vote), 'v') as unknown[];
  expectCodecError(t, () => decodeVote(encodeCanonical([3, ...v.slice(1)] as never)), 'schema', 'vote type 3');
  expectCodecError(t, () => decodeVote(encodeCanonical([...v.slice(0, 3), new Uint8Array(31), ...v.slice(4)] as never)), 'schema', 'vote short block hash');
  expectCodecError(t, () => decodeReceipt(encodeCanonical([99, 0, [], ''])), 'schema', 'unknown receipt status');
  expectCodecError(t, () => decodeCommit(encodeCanonical([1, 0, new Uint8Array(32), [[new Uint8Array(20)]]])), 'schema', 'commit signature missing');
});

t.test('vote sign bytes are domain separated and bind the chain', async (t) => {
  const v = { type: PREVOTE, height: 3, round: 1, blockHash: null } as { type: 1 | 2; height: number; round: number; blockHash: Uint8Array | null };
  t.notSame(voteSignBytes('a', v), voteSignBytes('b', v));
  t.notSame(voteSignBytes('a', v), voteSignBytes('a', { ...v, type: PRECOMMIT }));
  t.notSame(voteSignBytes('a', v), voteSignBytes('a', { ...v, blockHash: new Uint8Array(32) }));
  t.ok(toHex(voteSignBytes('a', v)).startsWith(toHex(new TextEncoder().encode('hallmark/vote/v1\n'))));
});

t.test('merkle roots of lists', async (t) => {
  const leaves = Array.from({ length: 9 }, (_, i) => Uint8Array.of(i));
  const L = (x: Uint8Array) => sha256(concatBytes(Uint8Array.of(0), x));
  const N = (a: Uint8Array, b: Uint8Array) => sha256(concatBytes(Uint8Array.of(1), a, b));
  t.same(merkleRoot([]), sha256(new Uint8Array()));
  t.same(merkleRoot(leaves.slice(0, 1)), L(leaves[0]!));
  t.same(merkleRoot(leaves.slice(0, 3)), N(N(L(leaves[0]!), L(leaves[1]!)), L(leaves[2]!)), 'RFC 6962 split at the largest power of two');
  const roots = new Set(Array.from({ length: 9 }, (_, n) => toHex(merkleRoot(leaves.slice(0, n)))));
  t.equal(roots.size, 9, 'every prefix has its own root');
  t.notSame(merkleRoot([leaves[1]!, leaves[0]!]), merkleRoot([leaves[0]!, leaves[1]!]), 'order matters');
});

t.test('addresses: derived, formatted, parsed, and typos caught', async (t) => {
  const addr = addressOf(alice.publicKey);
  t.same(addr, sha256(alice.publicKey).subarray(0, 20));
  const text = formatAddress(addr);
  t.match(text, /^hm1[02-9ac-hj-np-z]{38}$/);
  t.same(parseAddress(text), addr);
  t.same(parseAddress(text.toUpperCase()), addr, 'all upper case is allowed by bech32');
  const typo = text.slice(0, 10) + (text[10] === 'q' ? 'p' : 'q') + text.slice(11);
  t.throws(() => parseAddress(typo), { name: 'AddressError', message: /checksum/ });
  t.throws(() => parseAddress('cosmos1' + text.slice(3)), { message: /must start with "hm1"/ });
  t.throws(() => parseAddress(text.slice(0, -1)), AddressError);
  t.throws(() => parseAddress(formatAddressOfLength(21)), { message: /21 bytes/ });
  t.throws(() => parseAddress(''), AddressError);
  t.throws(() => addressOf(new Uint8Array(31)), TypeError);
  const other = formatAddress(addressOf(randomBytes(32)));
  t.not(other, text);
});

import { bech32m } from '@scure/base';
function formatAddressOfLength(n: number) {
  return bech32m.encodeFromBytes('hm', new Uint8Array(n));
}
