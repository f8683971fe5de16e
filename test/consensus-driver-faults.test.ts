/**
 * The consensus driver under faults of its own node: the app's propose or validate throws, its
 * commit rejects (the block store write failed), a WAL write throws (disk full). A lone validator
 * driven step by step shows what the driver does and sends; four validators in the simulator show
 * that the network keeps deciding, agreeing and never double-signing around such a node.
 */
import t, { type Test } from 'tap';
import { addressOf } from '../chain/address.ts';
import { equalBytes } from '../chain/bytes.ts';
import { encodeCanonical } from '../chain/codec.ts';
import { sha256 } from '../chain/hash.ts';
import { keyPairFromSecret, secretKeyFromSeed } from '../chain/keys.ts';
import { PREVOTE } from '../chain/vote.ts';
import { ConsensusDriver } from '../consensus/driver.ts';
import type { ConsensusApp } from '../consensus/ports.ts';
import { PrivValidator, type LastSignState } from '../consensus/privval.ts';
import { ValidatorSet } from '../consensus/validators.ts';
import { MemoryWal, type WalEntry } from '../consensus/wal.ts';
import { ManualTimers } from './fixtures/manual-timers.ts';
import { calmScenario, describeScenario, SIM_TIMEOUTS, simKeys, simulate, type LocalFault, type SimResult } from './fixtures/simulator.ts';

const CHAIN_ID = 'hallmark-driver-faults';
const KEY = keyPairFromSecret(secretKeyFromSeed('driver-faults-validator'));

interface Logged { level: string; msg: string; fields: Record<string, unknown> }

/**
 * One validator that is its own quorum, on a manual clock: every timer and every commit is run by
 * `run`, so a test reads exactly what the driver sent, logged and committed.
 */
function loneValidator(faults: { propose?: (h: number, r: number) => boolean; validate?: boolean; commit?: (h: number) => boolean; wal?: (e: WalEntry) => boolean } = {}) {
  const address = addressOf(KEY.publicKey);
  const validators = new ValidatorSet([{ address, publicKey: KEY.publicKey, power: 1 }]);
  let signState: LastSignState | null = null;
  const signer = new PrivValidator({ chainId: CHAIN_ID, secretKey: KEY.secretKey, store: { load: () => signState, save: (s) => (signState = s) } });
  const timers = new ManualTimers();
  const sent: string[] = [];
  const logs: Logged[] = [];
  const halts: Error[] = [];
  const committed: { height: number; round: number; block: Uint8Array }[] = [];
  const wal = new MemoryWal();
  let head: Uint8Array = new Uint8Array(32);
  const app: ConsensusApp = {
    propose(height, round) {
      if (faults.propose?.(height, round)) throw new Error('the mempool could not be read');
      // Blocks are opaque bytes to the driver: any distinct value per (height, round) will do.
      const block = encodeCanonical([height, round, 'lone', head]);
      return { block, hash: sha256(block) };
    },
    validate(_height, block) {
      if (faults.validate) throw new TypeError('a bug in validate');
      return { hash: sha256(block) };
    },
    async commit(height, block, commit) {
      await Promise.resolve();
      if (faults.commit?.(height)) throw new Error('LevelDB: IO error: No space left on device');
      head = sha256(block);
      committed.push({ height, round: commit.round, block });
    },
  };
  const log = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => logs.push({ level, msg, fields });
  const driver = new ConsensusDriver({
    chainId: CHAIN_ID, validators, signer, app,
    wal: {
      append: (e, o) => {
        if (faults.wal?.(e)) throw new Error('ENOSPC: no space left on device, write');
        wal.append(e, o);
      },
      endHeight: (h) => {
        if (faults.wal?.({ kind: 'end-height', height: h })) throw new Error('ENOSPC: no space left on device, write');
        wal.endHeight(h);
      },
      readAll: () => wal.readAll(),
      close: () => wal.close(),
    },
    timers,
    outbox: {
      proposal: (p) => sent.push(`proposal h${p.height} r${p.round}`),
      vote: (v) => sent.push(`${v.type === PREVOTE ? 'prevote' : 'precommit'} h${v.height} r${v.round} ${v.blockHash === null ? 'nil' : 'block'}`),
    },
    timeouts: SIM_TIMEOUTS,
    commitTimeoutMs: 20,
    onHalt: (err) => halts.push(err),
    log: { error: log('error'), warn: log('warn'), info: log('info'), debug: () => {} },
  });
  /** Runs timers in time order (and the commits they lead to) until `done` or nothing is left. */
  const run = async (done: () => boolean, maxTimers = 200): Promise<void> => {
    await flush();
    for (let i = 0; i < maxTimers && !done(); i++) {
      if (!timers.runNext()) return;
      await flush();
    }
  };
  return { driver, sent, logs, halts, committed, wal, run, pendingTimers: () => timers.pending };
}

/** Lets promise continuations (the app's commit, the driver's reaction to it) run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

t.test('propose throws: nothing is proposed that round, the propose timeout prevotes nil, and the next round decides', async (t) => {
  const v = loneValidator({ propose: (h, r) => h === 1 && r === 0 });
  v.driver.start(1);
  await v.run(() => v.committed.length >= 2);
  t.same(v.halts, [], 'the driver did not halt');
  t.same(v.committed.map((c) => [c.height, c.round]), [[1, 1], [2, 0]], 'height 1 decided in round 1, height 2 in round 0');
  t.same(v.sent.slice(0, 5), ['prevote h1 r0 nil', 'precommit h1 r0 nil', 'proposal h1 r1', 'prevote h1 r1 block', 'precommit h1 r1 block'],
    'round 0: no proposal, nil votes; round 1: a proposal and votes for it');
  const err = v.logs.find((l) => l.level === 'error');
  t.match(err, { msg: /could not build a block; not proposing this round/, fields: { height: 1, round: 0 } }, 'the failure is logged as an error');
  t.match((err?.fields.error as Error).stack, /the mempool could not be read\n\s+at /, 'the error itself, with its stack');
});

t.test('propose throws in every round: the validator keeps moving through rounds and never halts', async (t) => {
  const v = loneValidator({ propose: () => true });
  v.driver.start(1);
  await v.run(() => v.driver.status().round >= 3);
  t.same(v.halts, [], 'no halt');
  t.equal(v.committed.length, 0, 'nothing decided');
  t.ok(v.driver.status().round >= 3, `round ${v.driver.status().round} reached`);
  t.notOk(v.sent.some((s) => s.startsWith('proposal')), 'no proposal sent');
});

t.test('validate throws: the block counts as invalid (a nil prevote), logged with its stack; the driver goes on', async (t) => {
  // A lone validator never validates its own fresh block; the validate of a block it built before
  // a restart does run. The first life crashes right after logging the block it built.
  const first = loneValidator();
  first.driver.start(1);
  first.driver.stop();
  const all = first.wal.readAll();
  const entries = all.slice(0, all.findIndex((e) => e.kind === 'value') + 1);
  t.same(entries.map((e) => e.kind), ['value'], 'the first life built a block and logged it');

  const v = loneValidator({ validate: true });
  v.driver.start(1, entries);
  await v.run(() => v.committed.length >= 1);
  t.same(v.halts, [], 'no halt');
  t.same(v.committed.map((c) => [c.height, c.round]), [[1, 1]], 'the round-0 block was taken as invalid; round 1 built a fresh one and decided it');
  const err = v.logs.find((l) => l.level === 'error');
  t.match(err, { msg: /threw while validating a block; taking it as invalid/ }, 'logged as an error');
  t.match((err?.fields.error as Error).stack, /a bug in validate\n\s+at /, 'the error itself, with its stack');
});

t.test('commit rejects: the driver halts once, ends nothing in the WAL, and starts no later height', async (t) => {
  const v = loneValidator({ commit: (h) => h === 2 });
  v.driver.start(1);
  await v.run(() => v.halts.length > 0);
  t.equal(v.halts.length, 1, 'onHalt was told once');
  t.match(v.halts[0]!.message, /could not apply the decided block at height 2: LevelDB: IO error: No space left on device/);
  t.same(v.committed.map((c) => c.height), [1], 'height 1 committed, height 2 not');
  t.same(v.wal.readAll().filter((e) => e.kind === 'end-height').map((e) => walHeight(e)), [1], 'the WAL ends height 1 only');
  t.equal(v.driver.status().halted, true);
  t.equal(v.pendingTimers(), 0, 'no timer left');
  t.match(v.logs.find((l) => l.level === 'error'), { msg: 'consensus halted', fields: { height: 2 } }, 'logged');
  const before = v.sent.length;
  v.driver.start(3);
  await v.run(() => false);
  t.equal(v.driver.height, 2, 'a halted driver does not start again');
  t.equal(v.sent.length, before, 'and sends nothing');
  t.match(v.logs.at(-1), { level: 'warn', msg: /not starting: consensus halted earlier/ });
});

t.test('a WAL append that throws halts before the message it was logging is sent', async (t) => {
  for (const kind of ['value', 'proposal', 'vote', 'end-height'] as const) {
    const v = loneValidator({ wal: (e) => e.kind === kind && walHeight(e) === 2 });
    v.driver.start(1);
    await v.run(() => v.halts.length > 0);
    t.equal(v.halts.length, 1, `${kind}: halted`);
    t.match(v.halts[0]!.message, /ENOSPC/, `${kind}: with the WAL's error`);
    const h2 = v.sent.filter((s) => s.includes(' h2 '));
    // Everything sent was logged first: a failed value or proposal append means no proposal left;
    // a failed vote append means that vote never left.
    const expected = { value: [], proposal: [], vote: ['proposal h2 r0'], 'end-height': ['proposal h2 r0', 'prevote h2 r0 block', 'precommit h2 r0 block'] }[kind];
    t.same(h2, expected, `${kind}: what left at height 2`);
    t.same(v.committed.map((c) => c.height), kind === 'end-height' ? [1, 2] : [1], `${kind}: committed`);
    t.equal(v.pendingTimers(), 0, `${kind}: nothing scheduled`);
  }
});

function walHeight(e: WalEntry): number {
  return e.kind === 'vote' ? e.vote.height : e.kind === 'proposal' ? e.proposal.height : e.height;
}

// ---- four validators in the simulator --------------------------------------------------------------

function proposerNode(height: number, round: number): number {
  const keys = simKeys(4);
  const set = new ValidatorSet(keys.map((k) => ({ address: addressOf(k.publicKey), publicKey: k.publicKey, power: 1 })));
  const p = set.proposer(height, round);
  return keys.findIndex((k) => equalBytes(addressOf(k.publicKey), p.address));
}

type Lines = SimResult & { lines: string[] };

/** A calm 4-validator run with `fault`; fails the test on any broken property (the simulator checks agreement, double signs and progress). */
async function simulateWith(t: Test, fault: (f: LocalFault) => boolean, heights = 6): Promise<Lines> {
  const trace: string[] = [];
  const r = await simulate(calmScenario(21, 4, { heights, progressAfterHeal: 0 }), { localFault: fault, traceSigned: true, driverLog: 'info', traceLines: 5000, onTrace: (l) => trace.push(l) });
  if (r.failure !== null) t.fail(`${r.failure}\nscenario: ${describeScenario(r.scenario)}\n${r.trace.slice(-40).join('\n')}`);
  t.ok(r.localFaults > 0, `faults were injected (${r.localFaults})`);
  for (const [i, c] of r.committed.entries()) t.ok(c.length >= heights, `n${i} committed ${c.length} heights`);
  return { ...r, lines: trace };
}

/** A fault that fires on the first call `matches` and never again (the disk got better). */
function once(matches: (f: LocalFault) => boolean): (f: LocalFault) => boolean {
  let fired = false;
  return (f) => {
    if (fired || !matches(f)) return false;
    fired = true;
    return true;
  };
}

t.test('4 validators: the proposer whose propose throws stays silent that round; round 1 decides and it proposes again later', async (t) => {
  const p = proposerNode(2, 0);
  const r = await simulateWith(t, (f) => f.node === p && f.call === 'propose' && f.height === 2 && f.round === 0);
  t.same(r.halts, [], 'no halts');
  for (const [i, c] of r.committed.entries()) t.equal(c[1]!.round, 1, `n${i} decided height 2 in round 1`);
  t.notOk(r.lines.some((l) => l.includes(`n${p} proposes h2 r0`)), `n${p} proposed nothing at h2 r0`);
  const later = r.lines.find((l) => new RegExp(`n${p} proposes h([3-9]|\\d\\d) `).test(l));
  t.ok(later, `n${p} proposed at a later height: ${later}`);
});

t.test('4 validators: validate throws on three of them for one proposal; they prevote nil and round 1 decides', async (t) => {
  const p = proposerNode(3, 0);
  const r = await simulateWith(t, (f) => f.node !== p && f.call === 'validate' && f.height === 3 && f.round === 0);
  t.same(r.halts, [], 'no halts');
  for (const [i, c] of r.committed.entries()) t.ok(c[2]!.round >= 1, `n${i} decided height 3 in round ${c[2]!.round}`);
  const nils = r.lines.filter((l) => / n\d prevotes h3 r0 nil$/.test(l)).length;
  t.equal(nils, 3, 'three nil prevotes at h3 r0');
});

t.test('4 validators: a commit that cannot be written halts that node; restarted, it replays its WAL and catches up', async (t) => {
  const c = 2;
  const r = await simulateWith(t, once((f) => f.node === c && f.call === 'commit' && f.height === 3), 8);
  t.same(r.halts.map((h) => [h.node, h.height]), [[c, 3]], `n${c} halted at height 3, nobody else`);
  t.match(r.halts[0]!.error, /could not apply the decided block at height 3: injected fault: the block store write failed/);
  t.ok(r.lines.some((l) => l.includes(`n${c} restarts at h3`)), 'it restarted at the height it could not store');
  const hashes = r.committed.map((x) => x.slice(0, 8).map((b) => b.hash).join());
  t.equal(new Set(hashes).size, 1, 'all four committed the same eight blocks');
});

t.test('4 validators: a WAL append that throws (disk full) halts that node; nothing conflicting is ever signed', async (t) => {
  const w = 1;
  let failures = 0;
  const r = await simulateWith(t, (f) => {
    // Its own prevote at height 2, then its end-of-height marker at height 4: once each.
    const hit = f.node === w && f.call === 'wal' && ((f.what === 'vote' && f.height === 2 && failures === 0) || (f.what === 'end-height' && f.height === 4 && failures === 1));
    if (hit) failures++;
    return hit;
  }, 8);
  t.same(r.halts.map((h) => [h.node, h.height]), [[w, 2], [w, 4]], `n${w} halted twice`);
  const beforeHalt = r.lines.slice(0, r.lines.findIndex((l) => l.includes(`n${w} halts at h2`)));
  const failedAt = beforeHalt.findIndex((l) => l.includes(`n${w} wal vote fails at h2`));
  t.ok(failedAt >= 0, 'the vote append failed');
  t.notOk(beforeHalt.slice(failedAt).some((l) => l.includes(`n${w} prevotes h2`)), 'the vote whose append failed was not sent before the halt');
  // The simulator fails the run on any honest double sign, disagreement or stall; it passed.
  const hashes = r.committed.map((x) => x.slice(0, 8).map((b) => b.hash).join());
  t.equal(new Set(hashes).size, 1, 'all four agree');
  t.ok(r.committed[w]!.length >= 8, 'the node that halted caught up');
});
