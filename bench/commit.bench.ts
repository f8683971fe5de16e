/**
 * Commit verification: a 100-validator commit checked with verifyCommit (one verifyBatch call,
 * cold cache each time, and a warm shared cache) against the baseline of verifying the 100
 * signatures one by one with verifySignature, measured in the same run. Goals: cold batch >= 0.9x
 * the baseline (verifyCommit also does the membership, duplicate and power checks); warm cache
 * well above 1x. `npx node bench/commit.bench.ts`
 */
import { addressOf } from '../chain/address.ts';
import { compareBytes, utf8 } from '../chain/bytes.ts';
import { sha256 } from '../chain/hash.ts';
import { keyPairFromSecret, secretKeyFromSeed, sign } from '../chain/keys.ts';
import { verifySignature } from '../chain/signature.ts';
import { PRECOMMIT, voteSignBytes, type Commit } from '../chain/vote.ts';
import { ValidatorSet } from '../consensus/validators.ts';
import { SignatureCache, verifyCommit } from '../consensus/verify.ts';
import { rate, report } from './harness.ts';

const BENCH = 'commit';
const VALIDATORS = 100;
const ROUNDS = 3;
const MS = 1000;
const CHAIN_ID = 'hallmark-bench';

const keys = Array.from({ length: VALIDATORS }, (_, i) => keyPairFromSecret(secretKeyFromSeed(`bench-validator-${i}`)))
  .sort((a, b) => compareBytes(addressOf(a.publicKey), addressOf(b.publicKey)));
const set = new ValidatorSet(keys.map((k) => ({ address: addressOf(k.publicKey), publicKey: k.publicKey, power: 10 })));
const expect = { height: 1234, blockHash: sha256(utf8('bench block')) };
const message = voteSignBytes(CHAIN_ID, { type: PRECOMMIT, height: expect.height, round: 0, blockHash: expect.blockHash });
const commit: Commit = {
  height: expect.height, round: 0, blockHash: expect.blockHash,
  signatures: keys.map((k) => ({ validator: addressOf(k.publicKey), signature: sign(k.secretKey, message) })),
};

const warmCache = new SignatureCache();
verifyCommit(CHAIN_ID, set, commit, expect, warmCache);
let sink = 0;

const ops = {
  single: () => {
    // The baseline: each signature alone, the key looked up in the set as a verifier must.
    for (const s of commit.signatures) {
      const v = set.byAddress(s.validator)!;
      sink += verifySignature(v.publicKey, message, s.signature) ? 1 : 0;
    }
    return VALIDATORS;
  },
  cold: () => {
    verifyCommit(CHAIN_ID, set, commit, expect, new SignatureCache());
    return VALIDATORS;
  },
  warm: () => {
    verifyCommit(CHAIN_ID, set, commit, expect, warmCache);
    return VALIDATORS;
  },
};

const samples: Record<keyof typeof ops, number[]> = { single: [], cold: [], warm: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const name of ['single', 'cold', 'warm'] as const) samples[name].push(await rate(ops[name], MS));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const single = median(samples.single);
const figures: [keyof typeof ops, string][] = [
  ['single', `${VALIDATORS} signatures one by one with verifySignature (baseline)`],
  ['cold', `verifyCommit, ${VALIDATORS} validators, one batch, cold cache`],
  ['warm', `verifyCommit, ${VALIDATORS} validators, warm cache`],
];
for (const [key, name] of figures) {
  report({ bench: BENCH, name, value: median(samples[key]), unit: 'signatures/s', samples: samples[key].map(Math.round) });
}
report({ bench: BENCH, name: 'verifyCommit cold cache / one-by-one baseline', value: median(samples.cold) / single, unit: 'ratio', goal: 0.9, goal_op: '>=' });
report({ bench: BENCH, name: 'verifyCommit warm cache / one-by-one baseline', value: median(samples.warm) / single, unit: 'ratio' });
if (sink < 0) process.stdout.write(''); // keep results alive
