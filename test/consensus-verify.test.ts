import t, { type Test } from 'tap';
import { addressOf, formatAddress } from '../chain/address.ts';
import { decodeBlock, EMPTY_EVIDENCE_HASH, encodeBlock, type Block } from '../chain/block.ts';
import { equalBytes, utf8 } from '../chain/bytes.ts';
import { CodecError, decodeCanonical, encodeCanonical } from '../chain/codec.ts';
import {
  decodeEvidence, encodeEvidence, evidenceHash, evidenceProblem, evidenceRoot, MAX_BLOCK_EVIDENCE, normalizeEvidence,
  type DuplicateVoteEvidence,
} from '../chain/evidence.ts';
import { merkleRoot } from '../chain/merkle.ts';
import { sha256 } from '../chain/hash.ts';
import { keyPairFromSecret, secretKeyFromSeed, sign } from '../chain/keys.ts';
import { verifySignature } from '../chain/signature.ts';
import { PRECOMMIT, PREVOTE, voteSignBytes, type Commit, type Vote } from '../chain/vote.ts';
import {
  CommitError, EvidenceError, SignatureCache, verifyCommit, verifyEvidence, verifySigned, verifyVotes, type CommitErrorCode,
  type EvidenceErrorCode,
} from '../consensus/verify.ts';
import { VoteSet } from '../consensus/vote-set.ts';
import { CHAIN_ID, signCommit, signVote, testValidators } from './fixtures/chain.ts';

const vals = testValidators(7);
const HASH_A = sha256(utf8('block a'));
const HASH_B = sha256(utf8('block b'));

function flip(sig: Uint8Array, at = 5): Uint8Array {
  const out = Uint8Array.from(sig);
  out[at] = out[at]! ^ 1;
  return out;
}

function votes(n: number, round = 0): Vote[] {
  return vals.keys.slice(0, n).map((k, i) => signVote(CHAIN_ID, k, { type: PREVOTE, height: 5, round, blockHash: i % 3 === 0 ? null : HASH_A }));
}

/** What verifying each vote alone says: the signer must be in the set and its signature valid. */
function singleAnswers(vs: Vote[]): boolean[] {
  return vs.map((v) => {
    const validator = vals.set.byAddress(v.validator);
    return validator !== undefined && verifySignature(validator.publicKey, voteSignBytes(CHAIN_ID, v), v.signature);
  });
}

function duplicate(i: number, over: Partial<Vote> = {}): DuplicateVoteEvidence {
  const key = vals.keys[i]!;
  const base = { type: PREVOTE, height: 3, round: 1 } satisfies Partial<Vote>;
  return {
    first: signVote(CHAIN_ID, key, { ...base, blockHash: HASH_A }),
    second: { ...signVote(CHAIN_ID, key, { ...base, blockHash: HASH_B }), ...over },
  };
}

function expectCode<C extends string>(t: Test, fn: () => unknown, type: typeof CommitError | typeof EvidenceError, code: C, what: string, message?: RegExp): void {
  try {
    fn();
    t.fail(`${what}: did not throw`);
  } catch (err) {
    t.ok(err instanceof type, `${what}: throws ${type.name}`);
    t.equal((err as CommitError).code, code, `${what}: code ${code}`);
    if (message) t.match((err as Error).message, message, `${what}: says why`);
  }
}

t.test('verifyVotes: batch answers equal single answers with a bad vote at each position', async (t) => {
  const base = votes(7);
  t.same(verifyVotes(CHAIN_ID, vals.set, base), [true, true, true, true, true, true, true], 'all valid');
  for (let k = 0; k < base.length; k++) {
    const corrupt = base.map((v, i) => (i === k ? { ...v, signature: flip(v.signature) } : v));
    const answers = verifyVotes(CHAIN_ID, vals.set, corrupt);
    t.same(answers, singleAnswers(corrupt), `bad signature at ${k}: same as one by one`);
    t.equal(answers.filter((a) => !a).length, 1, `bad signature at ${k}: only it fails`);
    t.notOk(answers[k]);
    const wrongRound = base.map((v, i) => (i === k ? { ...v, round: 9 } : v));
    t.same(verifyVotes(CHAIN_ID, vals.set, wrongRound), singleAnswers(wrongRound), `vote ${k} claims another round`);
  }
  const outsider = keyPairFromSecret(secretKeyFromSeed('outsider'));
  const mixed = [...base.slice(0, 3), signVote(CHAIN_ID, outsider, { type: PREVOTE, height: 5, round: 0, blockHash: null }), ...base.slice(3)];
  t.same(verifyVotes(CHAIN_ID, vals.set, mixed), [true, true, true, false, true, true, true, true], 'a non-validator is false');
  t.same(verifyVotes('other-chain', vals.set, base), base.map(() => false), 'votes do not verify for another chain');
  t.same(verifyVotes(CHAIN_ID, vals.set, []), []);
  t.throws(() => verifyVotes(CHAIN_ID, vals.set, 'x' as never), TypeError);
});

t.test('SignatureCache: hits skip verification, only valid results are cached', async (t) => {
  const cache = new SignatureCache();
  const base = votes(7);
  const bad = [...base.slice(0, 6), { ...base[6]!, signature: flip(base[6]!.signature) }];
  t.same(verifyVotes(CHAIN_ID, vals.set, bad, cache), singleAnswers(bad));
  t.same(cache.stats(), { hits: 0, misses: 7, batches: 1, size: 6, capacity: 65_536 }, 'cold: all 7 verified in one batch, 6 valid cached');
  t.same(verifyVotes(CHAIN_ID, vals.set, bad, cache), singleAnswers(bad));
  t.same(cache.stats(), { hits: 6, misses: 8, batches: 2, size: 6, capacity: 65_536 }, 'warm: the 6 valid are hits, the invalid one is verified again');
  t.same(verifyVotes(CHAIN_ID, vals.set, base.slice(0, 6), cache), [true, true, true, true, true, true]);
  t.equal(cache.stats().batches, 2, 'all hits: no verifyBatch call at all');
  t.equal(cache.stats().hits, 12);
  // A hit is keyed by the whole triple: the same signature under another message or key misses.
  const v = base[1]!;
  const validator = vals.set.byAddress(v.validator)!;
  t.ok(cache.has({ publicKey: validator.publicKey, message: voteSignBytes(CHAIN_ID, v), signature: v.signature }));
  t.notOk(cache.has({ publicKey: validator.publicKey, message: voteSignBytes('other-chain', v), signature: v.signature }));
  const otherKey = vals.set.validators.find((x) => x !== validator)!.publicKey;
  t.notOk(cache.has({ publicKey: otherKey, message: voteSignBytes(CHAIN_ID, v), signature: v.signature }));
  t.equal(SignatureCache.keyOf({ publicKey: new Uint8Array(33), message: new Uint8Array(0), signature: new Uint8Array(63) }), null, 'impossible lengths have no key');
  cache.clear();
  t.equal(cache.size, 0);
  t.throws(() => new SignatureCache(0), RangeError);
  t.throws(() => new SignatureCache(1.5), /positive integer/);
});

t.test('SignatureCache: bounded, least recently used goes first', async (t) => {
  const cache = new SignatureCache(3);
  const items = [0, 1, 2, 3].map((i) => {
    const key = keyPairFromSecret(secretKeyFromSeed(`lru-${i}`));
    const message = utf8(`message ${i}`);
    return { publicKey: key.publicKey, message, signature: sign(key.secretKey, message) };
  });
  t.same(cache.verify(items.slice(0, 3)), [true, true, true]);
  t.ok(cache.has(items[0]!), 'touch item 0 so item 1 is the oldest');
  t.same(cache.verify([items[3]!]), [true]);
  t.equal(cache.size, 3);
  t.ok(cache.has(items[0]!));
  t.notOk(cache.has(items[1]!), 'the least recently used was evicted');
  t.ok(cache.has(items[2]!));
  t.ok(cache.has(items[3]!));
  t.same(verifySigned(items), [true, true, true, true], 'without a cache: plain batch');
  t.same(verifySigned([{ ...items[0]!, message: utf8('other') }], cache), [false]);
});

t.test('verifyCommit: accepts +2/3 of valid precommits, refuses each kind of bad commit', async (t) => {
  const expect = { height: 9, blockHash: HASH_A };
  // 7 validators of power 10: quorum is 47, so 5 signers (50) pass and 4 (40) do not.
  const good = signCommit(vals, 9, 2, HASH_A, { signers: [0, 1, 2, 4, 6] });
  verifyCommit(CHAIN_ID, vals.set, good, expect);
  t.pass('5 of 7 signers pass');
  const cases: [string, Commit, CommitErrorCode, RegExp][] = [
    ['wrong height', { ...good, height: 8 }, 'wrong_height', /height 8, expected 9/],
    ['wrong block', signCommit(vals, 9, 2, HASH_B), 'wrong_block', /expected/],
    ['too little power', signCommit(vals, 9, 2, HASH_A, { signers: [0, 1, 2, 3] }), 'insufficient_power', /power 40 of 70.*47/],
    ['no signatures', { ...good, signatures: [] }, 'insufficient_power', /power 0/],
    ['duplicate validator', { ...good, signatures: [...good.signatures.slice(0, 4), good.signatures[0]!] }, 'duplicate_validator', /signed twice/],
    ['non-validator', { ...good, signatures: [...good.signatures, { validator: new Uint8Array(20).fill(7), signature: new Uint8Array(64) }] }, 'unknown_validator', /not a validator/],
    ['round differs from the signed one', { ...good, round: 3 }, 'invalid_signature', /signature 0/],
    ['prevotes instead of precommits', {
      ...good,
      signatures: [0, 1, 2, 4, 6].map((i) => {
        const v = signVote(CHAIN_ID, vals.keys[i]!, { type: PREVOTE, height: 9, round: 2, blockHash: HASH_A });
        return { validator: v.validator, signature: v.signature };
      }),
    }, 'invalid_signature', /does not verify/],
  ];
  for (let k = 0; k < good.signatures.length; k++) {
    const sigs = good.signatures.map((s, i) => (i === k ? { ...s, signature: flip(s.signature, 40) } : s));
    const who = formatAddress(good.signatures[k]!.validator);
    cases.push([`bad signature ${k}`, { ...good, signatures: sigs }, 'invalid_signature', new RegExp(`signature ${k} from validator ${who} does not verify`)]);
  }
  for (const [name, commit, code, message] of cases) {
    expectCode(t, () => verifyCommit(CHAIN_ID, vals.set, commit, expect), CommitError, code, name, message);
  }
  expectCode(t, () => verifyCommit('other-chain', vals.set, good, expect), CommitError, 'invalid_signature', 'another chain');
});

t.test('verifyCommit: the cache makes a second check free, and never hides a bad signature', async (t) => {
  const cache = new SignatureCache();
  const commit = signCommit(vals, 4, 0, HASH_B);
  verifyCommit(CHAIN_ID, vals.set, commit, { height: 4, blockHash: HASH_B }, cache);
  t.same(cache.stats(), { hits: 0, misses: 7, batches: 1, size: 7, capacity: 65_536 });
  verifyCommit(CHAIN_ID, vals.set, commit, { height: 4, blockHash: HASH_B }, cache);
  t.same(cache.stats(), { hits: 7, misses: 7, batches: 1, size: 7, capacity: 65_536 }, 'second time: no verification');
  const forged = { ...commit, signatures: commit.signatures.map((s, i) => (i === 3 ? { ...s, signature: flip(s.signature) } : s)) };
  expectCode(t, () => verifyCommit(CHAIN_ID, vals.set, forged, { height: 4, blockHash: HASH_B }, cache), CommitError, 'invalid_signature', 'forged with a warm cache', /signature 3/);
  // Votes seen in gossip first make the commit of the same precommits free.
  const cache2 = new SignatureCache();
  const precommits = vals.keys.map((k) => signVote(CHAIN_ID, k, { type: PRECOMMIT, height: 4, round: 0, blockHash: HASH_B }));
  t.same(verifyVotes(CHAIN_ID, vals.set, precommits, cache2), precommits.map(() => true));
  verifyCommit(CHAIN_ID, vals.set, commit, { height: 4, blockHash: HASH_B }, cache2);
  t.equal(cache2.stats().batches, 1, 'the commit was answered from the votes already verified');
});

t.test('verifyEvidence: a validator that signed two values is caught; anything else is refused', async (t) => {
  const ev = duplicate(2);
  t.same(verifyEvidence(CHAIN_ID, vals.set, ev).address, ev.first.validator, 'returns the validator');
  verifyEvidence(CHAIN_ID, vals.set, { first: ev.second, second: ev.first });
  const nil = { first: signVote(CHAIN_ID, vals.keys[1]!, { type: PRECOMMIT, height: 3, round: 0, blockHash: null }), second: signVote(CHAIN_ID, vals.keys[1]!, { type: PRECOMMIT, height: 3, round: 0, blockHash: HASH_A }) };
  verifyEvidence(CHAIN_ID, vals.set, nil);
  t.pass('either order, and nil against a block, are evidence');
  const outsider = keyPairFromSecret(secretKeyFromSeed('outsider'));
  const outsiderEv = {
    first: signVote(CHAIN_ID, outsider, { type: PREVOTE, height: 3, round: 1, blockHash: HASH_A }),
    second: signVote(CHAIN_ID, outsider, { type: PREVOTE, height: 3, round: 1, blockHash: HASH_B }),
  };
  const other = duplicate(3);
  const cases: [string, DuplicateVoteEvidence, EvidenceErrorCode, RegExp][] = [
    ['different validators', { first: ev.first, second: other.second }, 'malformed', /different validators/],
    ['different heights', duplicate(2, { height: 4 }), 'malformed', /different heights/],
    ['different rounds', duplicate(2, { round: 0 }), 'malformed', /different rounds/],
    ['different types', duplicate(2, { type: PRECOMMIT }), 'malformed', /different types/],
    ['same value', { first: ev.first, second: { ...ev.first, signature: flip(ev.first.signature) } }, 'malformed', /same value/],
    ['both nil', { first: { ...nil.first }, second: { ...nil.first, signature: flip(nil.first.signature) } }, 'malformed', /same value/],
    ['non-validator', outsiderEv, 'unknown_validator', /not a validator/],
    ['bad first signature', { first: { ...ev.first, signature: flip(ev.first.signature) }, second: ev.second }, 'invalid_signature', /first vote/],
    ['bad second signature', { first: ev.first, second: { ...ev.second, signature: flip(ev.second.signature) } }, 'invalid_signature', /second vote/],
  ];
  for (const [name, e, code, message] of cases) expectCode(t, () => verifyEvidence(CHAIN_ID, vals.set, e), EvidenceError, code, name, message);
  expectCode(t, () => verifyEvidence('other-chain', vals.set, ev), EvidenceError, 'invalid_signature', 'another chain');
});

t.test('evidence encoding: one canonical form whichever vote came first', async (t) => {
  const ev = duplicate(4);
  const swapped = { first: ev.second, second: ev.first };
  t.ok(equalBytes(encodeEvidence(ev), encodeEvidence(swapped)), 'same bytes for both orders');
  t.ok(equalBytes(evidenceHash(ev), evidenceHash(swapped)), 'same hash for both orders');
  t.ok(equalBytes(evidenceHash(ev), sha256(encodeEvidence(ev))));
  const decoded = decodeEvidence(encodeEvidence(swapped));
  t.same(decoded, normalizeEvidence(swapped));
  t.same(normalizeEvidence(normalizeEvidence(swapped)), normalizeEvidence(ev));
  const nilFirst = normalizeEvidence({ first: { ...ev.first, blockHash: HASH_A }, second: { ...ev.first, blockHash: null } });
  t.equal(nilFirst.first.blockHash, null, 'nil sorts first');
  t.equal(evidenceProblem(ev), null);
  // A VoteSet's equivocation is this very evidence type.
  const set = new VoteSet(vals.set, 3, 1, PREVOTE);
  set.add(ev.second);
  const r = set.add(ev.first);
  t.equal(r.kind, 'equivocation');
  if (r.kind === 'equivocation') t.ok(equalBytes(evidenceHash(r.evidence), evidenceHash(ev)), 'vote-set evidence hashes the same');

  const [kind, a, b] = decodeCanonical(encodeEvidence(ev), 'e') as [number, unknown, unknown];
  const refuse = (value: unknown, code: string, what: string) => {
    try {
      decodeEvidence(encodeCanonical(value as never));
      t.fail(`${what}: decoded`);
    } catch (err) {
      t.ok(err instanceof CodecError, `${what}: CodecError`);
      t.equal((err as CodecError).code, code, `${what}: ${code}: ${(err as Error).message}`);
    }
  };
  refuse([kind, b, a], 'non_canonical', 'votes in the other order');
  refuse([2, a, b], 'schema', 'unknown kind');
  refuse([kind, a], 'schema', 'one vote');
  refuse([kind, a, [3, 1, 1, null, new Uint8Array(20), new Uint8Array(64)]], 'schema', 'second vote of type 3');
  refuse([kind, a, 'vote'], 'schema', 'vote not a list');
  t.throws(() => encodeEvidence({ first: ev.first } as never), TypeError);
});

t.test('blocks carry evidence: root, round trip, limit', async (t) => {
  t.ok(equalBytes(evidenceRoot([]), EMPTY_EVIDENCE_HASH), 'the empty list root is EMPTY_EVIDENCE_HASH');
  t.ok(equalBytes(EMPTY_EVIDENCE_HASH, merkleRoot([])));
  const list = [duplicate(0), duplicate(1), duplicate(5)];
  t.ok(equalBytes(evidenceRoot(list), merkleRoot(list.map(evidenceHash))));
  const header = {
    protocolVersion: 1, chainId: CHAIN_ID, height: 7, time: 1, lastBlockHash: HASH_A, lastCommitHash: HASH_B, txsHash: HASH_A, stateRoot: HASH_A,
    lastResultsHash: HASH_A, validatorsHash: HASH_A, proposer: addressOf(vals.keys[0]!.publicKey), evidenceHash: evidenceRoot(list),
  };
  const block: Block = { header, txs: [], lastCommit: null, evidence: list.map((e) => ({ first: e.second, second: e.first })) };
  const bytes = encodeBlock(block);
  const back = decodeBlock(bytes);
  t.same(back.evidence, list.map(normalizeEvidence), 'evidence comes back in canonical form');
  t.ok(equalBytes(encodeBlock(back), bytes));
  t.ok(equalBytes(evidenceRoot(back.evidence), header.evidenceHash));
  const many = Array.from({ length: MAX_BLOCK_EVIDENCE + 1 }, () => list[0]!);
  t.throws(() => encodeBlock({ ...block, evidence: many }), /limit of 100/);
  const [h, txs, c, ev] = decodeCanonical(bytes, 'b') as [unknown, unknown, unknown, unknown[]];
  try {
    decodeBlock(encodeCanonical([h, txs, c, Array.from({ length: MAX_BLOCK_EVIDENCE + 1 }, () => ev[0])] as never));
    t.fail('decoded too much evidence');
  } catch (err) {
    t.match((err as Error).message, /block\.evidence: 101 items exceeds the limit of 100/);
  }
  t.throws(() => decodeBlock(encodeCanonical([h, txs, c, [[1, 2]]] as never)), /block\.evidence\[0\]/);
  t.throws(() => encodeBlock({ header, txs: [], lastCommit: null } as never), /block\.evidence: expected a list/);
});
