/**
 * A validator a height behind the others (consensus/driver.ts, FUTURE_HEIGHTS): what the others send
 * for the next-but-one height while it still works on an older one is kept, so it decides that
 * height as soon as it gets there, with no timeout and no block sync. Further ahead is dropped.
 */
import t from 'tap';
import { addressOf } from '../chain/address.ts';
import { encodeCanonical } from '../chain/codec.ts';
import { sha256 } from '../chain/hash.ts';
import { keyPairFromSecret, secretKeyFromSeed } from '../chain/keys.ts';
import { PRECOMMIT, PREVOTE, type Vote } from '../chain/vote.ts';
import type { Proposal } from '../chain/proposal.ts';
import { ConsensusDriver, FUTURE_HEIGHTS } from '../consensus/driver.ts';
import { PrivValidator, type LastSignState } from '../consensus/privval.ts';
import { ValidatorSet } from '../consensus/validators.ts';
import { MemoryWal } from '../consensus/wal.ts';
import { ManualTimers } from './fixtures/manual-timers.ts';
import { SIM_TIMEOUTS } from './fixtures/simulator.ts';

const CHAIN_ID = 'hallmark-driver-lag';
const KEYS = [0, 1, 2, 3].map((i) => keyPairFromSecret(secretKeyFromSeed(`driver-lag/${i}`)));
const ADDRESSES = KEYS.map((k) => addressOf(k.publicKey));
// Ours (key 0) has little power, so the others propose the first heights and decide without it.
const VALIDATORS = new ValidatorSet(KEYS.map((k, i) => ({ address: ADDRESSES[i]!, publicKey: k.publicKey, power: i === 0 ? 1 : 10 })));
const OURS = 0;

function signerOf(i: number): PrivValidator {
  let state: LastSignState | null = null;
  return new PrivValidator({ chainId: CHAIN_ID, secretKey: KEYS[i]!.secretKey, store: { load: () => state, save: (s) => (state = s) } });
}

/** What the other three sign for height h, round 0: the proposal with its block, and their votes for it. */
function othersAt(signers: Map<number, PrivValidator>, h: number): { proposal: Proposal; block: Uint8Array; votes: Vote[] } {
  const block = encodeCanonical([h, 'lag']);
  const blockHash = sha256(block);
  const proposerIndex = ADDRESSES.findIndex((a) => VALIDATORS.isProposer(a, h, 0));
  const proposal = signers.get(proposerIndex)!.signProposal({ height: h, round: 0, validRound: -1, blockHash });
  const votes = [...signers.values()].flatMap((s) => ([PREVOTE, PRECOMMIT] as const).map((type) => s.signVote({ type, height: h, round: 0, blockHash })));
  return { proposal, block, votes };
}

function lagging() {
  const signers = new Map([1, 2, 3].map((i) => [i, signerOf(i)]));
  const timers = new ManualTimers();
  const committed: number[] = [];
  const driver = new ConsensusDriver({
    chainId: CHAIN_ID, validators: VALIDATORS, signer: signerOf(OURS),
    app: {
      propose: () => { throw new Error('ours proposes nothing here'); },
      validate: (_h, block) => ({ hash: sha256(block) }),
      async commit(height) {
        await Promise.resolve();
        committed.push(height);
      },
    },
    wal: new MemoryWal(),
    timers,
    outbox: { proposal: () => {}, vote: () => {} },
    timeouts: SIM_TIMEOUTS,
    commitTimeoutMs: 0,
  });
  /**
   * Lets the commit settle and runs the timers due now (the block time of 0 ms). The clock never
   * moves, so no timeout ever fires: whatever is decided here is decided without one.
   */
  const settle = async () => {
    for (let i = 0; i < 20; i++) {
      await Promise.resolve();
      timers.runDue();
    }
  };
  const deliver = async (m: { proposal: Proposal; block: Uint8Array; votes: Vote[] }, what: 'all' | 'proposal' | 'votes' = 'all') => {
    if (what !== 'votes') driver.receiveProposal(m.proposal, m.block);
    if (what !== 'proposal') driver.receiveVotes(m.votes);
    await settle();
  };
  return { driver, signers, committed, deliver, settle, clock: () => timers.now() };
}

t.test('the next-but-one height\'s proposal, received while an older height is still open, decides that height on arrival', async (t) => {
  t.equal(FUTURE_HEIGHTS, 2);
  t.ok([1, 2, 3, 4].every((h) => !VALIDATORS.isProposer(ADDRESSES[OURS]!, h, 0)), 'ours proposes none of heights 1..4');
  const v = lagging();
  v.driver.start(1);
  await v.settle();
  const [h1, h2, h3] = [1, 2, 3].map((h) => othersAt(v.signers, h));
  // The others are two heights ahead: height 3's proposal and votes arrive first.
  await v.deliver(h3!);
  t.same(v.committed, [], 'nothing decided yet');
  await v.deliver(h1!);
  t.same(v.committed, [1]);
  await v.deliver(h2!);
  t.same(v.committed, [1, 2, 3], 'height 3 decided from what was kept, the moment height 2 ended');
  t.equal(v.clock(), 0, 'no timeout was waited for');
});

t.test('messages further ahead than that are dropped: block sync\'s job', async (t) => {
  const v = lagging();
  v.driver.start(1);
  await v.settle();
  const [h1, h2, h3, h4] = [1, 2, 3, 4].map((h) => othersAt(v.signers, h));
  await v.deliver(h4!, 'proposal'); // three heights ahead of height 1
  await v.deliver(h1!);
  await v.deliver(h2!);
  await v.deliver(h3!);
  await v.deliver(h4!, 'votes');
  t.same(v.committed, [1, 2, 3], 'height 4 has +2/3 precommits but not the block, which was dropped');
  await v.deliver(h4!, 'proposal');
  t.same(v.committed, [1, 2, 3, 4], 'the same proposal, now within reach, decides it');
});
