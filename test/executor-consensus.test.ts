import t, { type Test } from 'tap';
import { addressOf } from '../chain/address.ts';
import { blockHash, type Block } from '../chain/block.ts';
import { equalBytes, toHex, utf8 } from '../chain/bytes.ts';
import { evidenceHash, normalizeEvidence, type DuplicateVoteEvidence } from '../chain/evidence.ts';
import { sha256 } from '../chain/hash.ts';
import type { KeyPair } from '../chain/keys.ts';
import { TxStatus } from '../chain/receipt.ts';
import { signTransaction } from '../chain/tx.ts';
import { PRECOMMIT, PREVOTE, type Commit, type VoteType } from '../chain/vote.ts';
import { SignatureCache } from '../consensus/verify.ts';
import { BlockError, Executor, type ExecutorOptions } from '../execution/executor.ts';
import {
  CHAIN_ID, consensusBlock, nextBlock, openChain, signCommit, signVote, testAccounts, testGenesis, testValidators, transfersFor,
  type TestValidators,
} from './fixtures/chain.ts';

const vals = testValidators(4);
const [alice, bob] = testAccounts(2) as [KeyPair, KeyPair];
const HASH_A = sha256(utf8('value a'));
const HASH_B = sha256(utf8('value b'));

function transfer(nonce: number): Uint8Array {
  return signTransaction({
    chainId: CHAIN_ID, sender: alice.publicKey, nonce, fee: 2n, gasLimit: 2_000_000,
    payload: { kind: 'transfer', to: addressOf(bob.publicKey), amount: 10n },
  }, alice.secretKey).bytes;
}

function flip(sig: Uint8Array): Uint8Array {
  const out = Uint8Array.from(sig);
  out[7] = out[7]! ^ 1;
  return out;
}

/** Validator i signed two different values at (height, round, type). */
function equivocation(i: number, height: number, opts: { round?: number; type?: VoteType; set?: TestValidators } = {}): DuplicateVoteEvidence {
  const key = (opts.set ?? vals).keys[i]!;
  const v = { type: opts.type ?? PREVOTE, height, round: opts.round ?? 0 };
  return { first: signVote(CHAIN_ID, key, { ...v, blockHash: HASH_A }), second: signVote(CHAIN_ID, key, { ...v, blockHash: HASH_B }) };
}

async function openValidated(t: Test, opts: ExecutorOptions = {}, dir = t.testdir()) {
  const chain = await openChain(dir, undefined, { validators: vals.set, ...opts });
  t.teardown(() => chain.db.close());
  if (chain.executor.head === undefined) await chain.executor.initGenesis(testGenesis([alice, bob], 1_000_000n));
  return chain;
}

/** Applies `block` with a commit signed by every validator at `round`. */
async function commitBlock(executor: Executor, block: Block, round = 0) {
  return executor.applyBlock(block, signCommit(vals, block.header.height, round, blockHash(block.header)));
}

/** Applies `count` empty blocks, each with a full commit. */
async function advance(executor: Executor, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await commitBlock(executor, consensusBlock(executor, vals, []));
}

/**
 * The block is refused by applyBlock (and, unless the fault is in the commit given, by
 * validateBlock) with a BlockError matching `why`, and nothing changes.
 */
async function refused(
  t: Test, chain: { executor: Executor; tree: { latestVersion: number } }, name: string, block: Block, why: RegExp,
  opts: { commit?: Commit | null; commitIsTheFault?: boolean } = {},
): Promise<void> {
  const { executor, tree } = chain;
  const commit = opts.commit === null ? undefined : opts.commit ?? signCommit(vals, block.header.height, 0, blockHash(block.header));
  const head = structuredClone(executor.head);
  const version = tree.latestVersion;
  if (opts.commitIsTheFault !== true) {
    t.throws(() => executor.validateBlock(block, { round: commit?.round }), why, `${name}: validateBlock refuses`);
  }
  try {
    await executor.applyBlock(block, commit);
    t.fail(`${name}: applied`);
  } catch (err) {
    t.ok(err instanceof BlockError, `${name}: BlockError`);
    t.match((err as Error).message, why, `${name}: ${(err as Error).message}`);
  }
  t.same(executor.head, head, `${name}: head unchanged`);
  t.equal(tree.latestVersion, version, `${name}: state unchanged`);
  t.equal(await executor.blocks.getBlock(block.header.height), undefined, `${name}: no block stored`);
  t.equal(await executor.blocks.getCommit(block.header.height), undefined, `${name}: no commit stored`);
  for (const ev of block.evidence) {
    const at = await executor.blocks.getEvidenceHeight(evidenceHash(ev));
    t.not(at, block.header.height, `${name}: evidence not indexed at this height`);
  }
}

t.test('blocks with real commits apply; the commit given and lastCommit are verified', async (t) => {
  const chain = await openValidated(t);
  const { executor } = chain;
  const b1 = consensusBlock(executor, vals, [transfer(0)]);
  t.ok(equalBytes(b1.header.proposer, vals.set.proposer(1, 0).address), 'fixture: round 0 proposer');
  executor.validateBlock(b1, { round: 0 });
  t.equal(executor.head!.height, 0, 'validateBlock writes nothing');
  const a1 = await commitBlock(executor, b1);
  t.same(a1.receipts.map((r) => r.status), [TxStatus.ok]);
  // A later round: the proposer rotates, and the commit's round decides which proposer is right.
  const b2 = consensusBlock(executor, vals, [transfer(1)], { round: 2 });
  t.notSame(b2.header.proposer, vals.set.proposer(2, 0).address, 'fixture: rounds 0 and 2 have different proposers');
  await commitBlock(executor, b2, 2);
  // A block with a polka is proposed again, unchanged, by a later round's proposer (validValue):
  // the commit's round need not be the round whose proposer built it.
  const b3 = consensusBlock(executor, vals, [transfer(2)], { round: 0 });
  await commitBlock(executor, b3, 1);
  // Without the commit argument (a block synced from a peer), its lastCommit still proves the parent.
  await executor.applyBlock(consensusBlock(executor, vals, []));
  t.equal(executor.head!.height, 4);
  t.same((await executor.blocks.getCommit(2))?.round, 2);
});

t.test('a forged lastCommit, wrong validatorsHash, wrong proposer or bad commit is refused and writes nothing', async (t) => {
  const chain = await openValidated(t);
  const { executor } = chain;
  await commitBlock(executor, consensusBlock(executor, vals, [transfer(0)]));
  const head = executor.head!;
  const proposer = vals.set.proposer(2, 0).address;
  const withLastCommit = (lastCommit: Commit) => nextBlock(executor, [transfer(1)], proposer, { lastCommit });
  const full = signCommit(vals, 1, 0, head.blockHash);
  const outsiders = testValidators(4, () => 10, 'outsider');

  await refused(t, chain, 'forged lastCommit signature', withLastCommit({ ...full, signatures: full.signatures.map((s, i) => (i === 2 ? { ...s, signature: flip(s.signature) } : s)) }), /lastCommit: commit signature 2 from validator hm1\w+ does not verify/);
  await refused(t, chain, 'lastCommit with 2 of 4', withLastCommit(signCommit(vals, 1, 0, head.blockHash, { signers: [0, 1] })), /lastCommit: .*power 20 of 40/);
  await refused(t, chain, 'lastCommit by outsiders', withLastCommit(signCommit(outsiders, 1, 0, head.blockHash)), /lastCommit: .*not a validator/);
  await refused(t, chain, 'lastCommit signed twice by one', withLastCommit({ ...full, signatures: [...full.signatures, full.signatures[1]!] }), /signed twice/);
  await refused(t, chain, 'lastCommit for another chain', withLastCommit(signCommit(vals, 1, 0, head.blockHash, { chainId: 'other-chain' })), /does not verify/);
  await refused(t, chain, 'lastCommit for another round than signed', withLastCommit({ ...full, round: 1 }), /does not verify/);

  const good = consensusBlock(executor, vals, [transfer(1)]);
  const wrongHash = { ...good, header: executor.nextHeader({ txs: good.txs, time: good.header.time, proposer, lastCommit: good.lastCommit, validatorsHash: new Uint8Array(32) }) };
  await refused(t, chain, 'wrong validatorsHash', wrongHash, /validatorsHash does not match the validator set/);
  const other = vals.set.validators.find((v) => !equalBytes(v.address, proposer))!.address;
  t.throws(() => executor.validateBlock(nextBlock(executor, [transfer(1)], other, { lastCommit: full }), { round: 0 }), /is not the proposer of round 0/,
    'a fresh proposal must name its round\'s proposer');
  const outsider = outsiders.set.validators[0]!.address;
  await refused(t, chain, 'proposer not a validator', nextBlock(executor, [transfer(1)], outsider, { lastCommit: full }), /is not a validator/, { commit: null });
  const commit = signCommit(vals, 2, 0, blockHash(good.header));
  await refused(t, chain, 'forged commit given', good, /the commit given: commit signature 0/, {
    commit: { ...commit, signatures: commit.signatures.map((s, i) => (i === 0 ? { ...s, signature: flip(s.signature) } : s)) }, commitIsTheFault: true,
  });
  await refused(t, chain, 'commit given for another block', good, /the commit given: .*expected/, { commit: signCommit(vals, 2, 0, HASH_A), commitIsTheFault: true });
  await refused(t, chain, 'commit given without quorum', good, /the commit given: .*power 20 of 40/, {
    commit: signCommit(vals, 2, 0, blockHash(good.header), { signers: [0, 1] }), commitIsTheFault: true,
  });

  const applied = await commitBlock(executor, good);
  t.equal(applied.height, 2, 'the good block still applies afterwards');
});

t.test('evidence: valid evidence is stored and listed; bad, duplicated, repeated or old evidence is refused', async (t) => {
  const chain = await openValidated(t, { evidenceMaxAgeHeights: 3 });
  const { executor } = chain;
  await advance(executor, 2);
  const e1 = equivocation(1, 1);
  const e2 = equivocation(2, 2, { round: 3, type: PRECOMMIT });
  const block3 = consensusBlock(executor, vals, [], { evidence: [e1, e2] });
  await refused(t, chain, 'evidence from the current height', consensusBlock(executor, vals, [], { evidence: [equivocation(0, 3)] }), /evidence\[0\] \(\w+\) is for height 3; a block at height 3 may only carry evidence from heights 1 to 2/);
  await refused(t, chain, 'evidence of height 0', consensusBlock(executor, vals, [], { evidence: [equivocation(0, 0)] }), /is for height 0/);
  await refused(t, chain, 'the same evidence twice', consensusBlock(executor, vals, [], { evidence: [e1, e2, { first: e1.second, second: e1.first }] }), /evidence\[2\] \(\w+\) is the same as evidence\[0\]/);
  await refused(t, chain, 'a forged vote', consensusBlock(executor, vals, [], { evidence: [e1, { first: e2.first, second: { ...e2.second, signature: flip(e2.second.signature) } }] }), /evidence\[1\] .*second vote's signature .* does not verify/);
  await refused(t, chain, 'not equivocation', consensusBlock(executor, vals, [], { evidence: [{ first: e1.first, second: { ...e1.first } }] }), /same value/);
  await refused(t, chain, 'a non-validator', consensusBlock(executor, vals, [], { evidence: [equivocation(0, 1, { set: testValidators(2, () => 1, 'outsider') })] }), /not a validator/);
  const wrongRoot = { ...block3, header: { ...block3.header, evidenceHash: new Uint8Array(32) } };
  await refused(t, chain, 'evidenceHash not matching', wrongRoot, /evidenceHash does not match the evidence/);

  await commitBlock(executor, block3);
  t.equal(await executor.blocks.getEvidenceHeight(evidenceHash(e1)), 3, 'indexed by hash');
  t.equal(await executor.blocks.getEvidenceHeight(evidenceHash(e2)), 3);
  t.equal(await executor.blocks.getEvidenceHeight(HASH_A), undefined);
  t.same((await executor.blocks.getBlock(3))?.evidence, [normalizeEvidence(e1), normalizeEvidence(e2)]);

  // Already committed, in either vote order.
  await refused(t, chain, 'evidence already committed', consensusBlock(executor, vals, [], { evidence: [{ first: e2.second, second: e2.first }] }), /evidence\[0\] \(\w+\) was already committed at height 3/);
  const e3 = equivocation(3, 2);
  await commitBlock(executor, consensusBlock(executor, vals, [], { evidence: [e3] }));
  // Height 5 with max age 3: evidence from height 2 is the oldest allowed, height 1 is too old.
  await refused(t, chain, 'evidence too old', consensusBlock(executor, vals, [], { evidence: [equivocation(0, 1)] }), /is for height 1, older than the maximum age of 3 heights/);
  const e4 = equivocation(0, 2, { round: 1 });
  await commitBlock(executor, consensusBlock(executor, vals, [], { evidence: [e4] }));
  const listed = await executor.blocks.listEvidence(10);
  t.same(listed.map((c) => [c.height, toHex(evidenceHash(c.evidence))]), [
    [5, toHex(evidenceHash(e4))], [4, toHex(evidenceHash(e3))], [3, toHex(evidenceHash(e2))], [3, toHex(evidenceHash(e1))],
  ], 'listed newest first');
  t.same((await executor.blocks.listEvidence(2)).map((c) => c.height), [5, 4], 'limit');
  t.same(await executor.blocks.listEvidence(0), []);
  await t.rejects(executor.blocks.listEvidence(-1), RangeError);
});

t.test('committed evidence is still refused after a restart', async (t) => {
  const dir = t.testdir();
  const first = await openChain(dir, undefined, { validators: vals.set });
  await first.executor.initGenesis(testGenesis([alice, bob], 1_000_000n));
  await advance(first.executor, 2);
  const ev = equivocation(1, 2);
  await commitBlock(first.executor, consensusBlock(first.executor, vals, [], { evidence: [ev] }));
  await first.db.close();
  const chain = await openValidated(t, {}, dir);
  t.equal(chain.executor.head!.height, 3);
  await refused(t, chain, 'evidence committed before the restart', consensusBlock(chain.executor, vals, [], { evidence: [ev] }), /already committed at height 3/);
  await commitBlock(chain.executor, consensusBlock(chain.executor, vals, [], { evidence: [equivocation(1, 3)] }));
  t.equal(chain.executor.head!.height, 4);
});

t.test('without a validator set: signatures are not checked, but evidence must be well formed', async (t) => {
  const { db, executor, tree } = await openChain(t.testdir());
  t.teardown(() => db.close());
  await executor.initGenesis(testGenesis([alice, bob], 1000n));
  await executor.applyBlock(nextBlock(executor, []));
  await executor.applyBlock(nextBlock(executor, []));
  const e = equivocation(0, 1);
  const chain = { db, executor, tree };
  await refused(t, chain, 'same value twice', nextBlock(executor, [], undefined, { evidence: [{ first: e.first, second: { ...e.first, signature: flip(e.first.signature) } }] }), /same value/, { commit: null });
  await refused(t, chain, 'different validators', nextBlock(executor, [], undefined, { evidence: [{ first: e.first, second: equivocation(1, 1).second }] }), /different validators/, { commit: null });
  await refused(t, chain, 'future evidence', nextBlock(executor, [], undefined, { evidence: [equivocation(0, 3)] }), /may only carry evidence from heights 1 to 2/, { commit: null });
  await executor.applyBlock(nextBlock(executor, [], undefined, { evidence: [e] }));
  t.equal(await executor.blocks.getEvidenceHeight(evidenceHash(e)), 3);
  await refused(t, chain, 'repeated', nextBlock(executor, [], undefined, { evidence: [e] }), /already committed/, { commit: null });
});

t.test('the signature cache: a commit verified once is not verified again as the next lastCommit', async (t) => {
  const sigCache = new SignatureCache();
  const chain = await openValidated(t, { sigCache });
  const { executor } = chain;
  await commitBlock(executor, consensusBlock(executor, vals, []));
  const afterCommit = sigCache.stats();
  t.same([afterCommit.misses, afterCommit.batches], [4, 1], 'the commit of block 1: 4 signatures, one batch');
  const b2 = consensusBlock(executor, vals, []);
  executor.validateBlock(b2);
  t.same([sigCache.stats().hits, sigCache.stats().batches], [4, 1], "block 2's lastCommit (the same precommits) is all cache hits");
  await commitBlock(executor, b2);
  t.equal(sigCache.stats().batches, 2, 'only the new commit needed a batch');
});

t.test('determinism: two executors fed the same blocks, with evidence, agree on every state root', async (t) => {
  const a = await openValidated(t, {}, t.testdir({ a: {} }) + '/a');
  const b = await openValidated(t, { sigCache: new SignatureCache(8) }, t.testdir({ b: {} }) + '/b');
  const nonces = [0, 0];
  for (let h = 1; h <= 8; h++) {
    const evidence = h > 2 && h % 3 === 0 ? [equivocation(h % 4, h - 1)] : [];
    const block = consensusBlock(a.executor, vals, transfersFor(5, h, [alice, bob], nonces, 4), { round: h % 2, evidence });
    const commit = signCommit(vals, h, h % 2, blockHash(block.header));
    const ra = await a.executor.applyBlock(block, commit);
    const rb = await b.executor.applyBlock(block, commit);
    t.equal(toHex(rb.stateRoot), toHex(ra.stateRoot), `height ${h}: same state root`);
    t.same(b.executor.head, a.executor.head, `height ${h}: same head`);
  }
  t.same(await b.executor.blocks.listEvidence(10), await a.executor.blocks.listEvidence(10), 'same committed evidence');
});

t.test('bad options are refused clearly', async (t) => {
  const { db, tree } = await openChain(t.testdir());
  t.teardown(() => db.close());
  await t.rejects(Executor.open(db, tree, { evidenceMaxAgeHeights: 0 }), /evidenceMaxAgeHeights must be a positive integer, got 0/);
  await t.rejects(Executor.open(db, tree, { evidenceMaxAgeHeights: 1.5 }), RangeError);
  await t.rejects(Executor.open(db, tree, { sigCache: {} as never }), /sigCache must be a SignatureCache/);
  const executor = await Executor.open(db, tree, { validators: vals.set });
  t.equal(executor.evidenceMaxAgeHeights, 100_000, 'default max age');
  t.throws(() => executor.validateBlock({} as never), /no genesis/);
});
