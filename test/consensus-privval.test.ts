/**
 * The double-sign guard: CometBFT's height/round/step rules, the file store, and a crash test in
 * which a child process SIGKILLs itself just before or just after saving each signature in turn.
 *
 * The child is this file run again with HALLMARK_PRIVVAL_CHILD set: it signs SEQUENCE with a
 * FileSignStateStore and kills itself at the chosen save, before any test below is declared.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addressOf } from '../chain/address.ts';
import { secretKeyFromSeed, sign } from '../chain/keys.ts';
import { proposalSignBytes } from '../chain/proposal.ts';
import { verifySignature } from '../chain/signature.ts';
import { PRECOMMIT, PREVOTE, voteSignBytes, type VoteType } from '../chain/vote.ts';
import { DoubleSignError, PrivValidator, SignStateError, type LastSignState, type SignStateStore } from '../consensus/privval.ts';
import { FileSignStateStore, SLOT_BYTES } from '../node/privval-file.ts';
import { errorCode } from './fixtures/errors.ts';

const CHAIN = 'hallmark-test';
const KEY = secretKeyFromSeed('privval-test');
const OTHER_KEY = secretKeyFromSeed('privval-test-other');
const A = new Uint8Array(32).fill(0xaa);
const B = new Uint8Array(32).fill(0xbb);

type Request =
  | { kind: 'vote'; type: VoteType; height: number; round: number; blockHash: Uint8Array | null }
  | { kind: 'proposal'; height: number; round: number; validRound: number; blockHash: Uint8Array };

/** What a validator signs over two heights, with a second round at height 2. */
const SEQUENCE: Request[] = [
  { kind: 'proposal', height: 1, round: 0, validRound: -1, blockHash: A },
  { kind: 'vote', type: PREVOTE, height: 1, round: 0, blockHash: A },
  { kind: 'vote', type: PRECOMMIT, height: 1, round: 0, blockHash: A },
  { kind: 'vote', type: PREVOTE, height: 2, round: 0, blockHash: null },
  { kind: 'vote', type: PRECOMMIT, height: 2, round: 0, blockHash: null },
  { kind: 'proposal', height: 2, round: 1, validRound: -1, blockHash: B },
  { kind: 'vote', type: PREVOTE, height: 2, round: 1, blockHash: B },
  { kind: 'vote', type: PRECOMMIT, height: 2, round: 1, blockHash: B },
];

function signRequest(pv: PrivValidator, r: Request): Uint8Array {
  return r.kind === 'vote' ? pv.signVote(r).signature : pv.signProposal(r).signature;
}

function signBytesOf(r: Request): Uint8Array {
  return r.kind === 'vote' ? voteSignBytes(CHAIN, r) : proposalSignBytes(CHAIN, r);
}

function stepOf(r: Request): number {
  return r.kind === 'proposal' ? 1 : r.type === PREVOTE ? 2 : 3;
}

/** The same height, round and step, but another block. */
function conflicting(r: Request): Request {
  return { ...r, blockHash: r.blockHash !== null && r.blockHash[0] === 0xaa ? B : A };
}

// ---- crash child ----------------------------------------------------------------------------

const CHILD_ENV = 'HALLMARK_PRIVVAL_CHILD';
const childArgs = process.env[CHILD_ENV];
if (childArgs !== undefined) {
  const { path, k, when } = JSON.parse(childArgs) as { path: string; k: number; when: 'before' | 'after' };
  const file = new FileSignStateStore(path);
  let saves = 0;
  const store: SignStateStore = {
    load: () => file.load(),
    save: (s) => {
      if (++saves === k && when === 'before') process.kill(process.pid, 'SIGKILL');
      file.save(s);
      if (saves === k && when === 'after') process.kill(process.pid, 'SIGKILL');
    },
  };
  const pv = new PrivValidator({ chainId: CHAIN, secretKey: KEY, store });
  for (const r of SEQUENCE) process.stdout.write(`signed ${Buffer.from(signRequest(pv, r)).toString('hex')}\n`);
  process.exit(70); // never reached when k is within SEQUENCE
}

// ---- tests ----------------------------------------------------------------------------------

// Loaded here rather than imported at the top so the child does not pay for loading tap.
const { default: t } = await import('tap');

class MemoryStore implements SignStateStore {
  state: LastSignState | null = null;
  saves: LastSignState[] = [];
  load(): LastSignState | null {
    return this.state;
  }
  save(s: LastSignState): void {
    this.saves.push(s);
    this.state = s;
  }
}

t.test('signs a proposal, then prevote, then precommit, and the signatures verify', async (t) => {
  const store = new MemoryStore();
  const pv = new PrivValidator({ chainId: CHAIN, secretKey: KEY, store });
  t.same(pv.address, addressOf(pv.publicKey));
  t.equal(pv.lastSigned, null);
  for (const r of SEQUENCE) {
    const signature = signRequest(pv, r);
    t.ok(verifySignature(pv.publicKey, signBytesOf(r), signature), `${r.kind} at ${r.height}/${r.round} verifies`);
    const saved = store.saves.at(-1)!;
    t.same(saved.signature, signature, 'the returned signature is the saved one');
    t.same([saved.height, saved.round], [r.height, r.round]);
  }
  t.equal(store.saves.length, SEQUENCE.length, 'one save per signature');
  const vote = pv.signVote({ type: PREVOTE, height: 3, round: 0, blockHash: A });
  t.same(vote, { type: PREVOTE, height: 3, round: 0, blockHash: A, validator: pv.address, signature: vote.signature });
  const proposal = pv.signProposal({ height: 4, round: 2, validRound: 1, blockHash: B });
  t.same(proposal, { height: 4, round: 2, validRound: 1, blockHash: B, signature: proposal.signature });
  t.same(pv.lastSigned?.step, 1);
});

t.test('height/round/step rules', async (t) => {
  interface Row { name: string; first: Request; then: Request; expect: 'signed' | 'same' | 'double_sign' | 'regression' }
  const pv = (r: VoteType, h: number, round: number, blockHash: Uint8Array | null = A): Request => ({ kind: 'vote', type: r, height: h, round, blockHash });
  const prop = (h: number, round: number, blockHash = A, validRound = -1): Request => ({ kind: 'proposal', height: h, round, validRound, blockHash });
  const rows: Row[] = [
    { name: 'the same prevote again', first: pv(PREVOTE, 5, 1), then: pv(PREVOTE, 5, 1), expect: 'same' },
    { name: 'the same nil precommit again', first: pv(PRECOMMIT, 5, 1, null), then: pv(PRECOMMIT, 5, 1, null), expect: 'same' },
    { name: 'the same proposal again', first: prop(5, 1), then: prop(5, 1), expect: 'same' },
    { name: 'a prevote for another block', first: pv(PREVOTE, 5, 1), then: pv(PREVOTE, 5, 1, B), expect: 'double_sign' },
    { name: 'a nil prevote after one for a block', first: pv(PREVOTE, 5, 1), then: pv(PREVOTE, 5, 1, null), expect: 'double_sign' },
    { name: 'a precommit for a block after nil', first: pv(PRECOMMIT, 5, 1, null), then: pv(PRECOMMIT, 5, 1), expect: 'double_sign' },
    { name: 'a proposal of another block', first: prop(5, 1), then: prop(5, 1, B), expect: 'double_sign' },
    { name: 'a proposal with another valid round', first: prop(5, 2), then: prop(5, 2, A, 0), expect: 'double_sign' },
    { name: 'a prevote after the precommit', first: pv(PRECOMMIT, 5, 1), then: pv(PREVOTE, 5, 1), expect: 'regression' },
    { name: 'a proposal after the prevote', first: pv(PREVOTE, 5, 1), then: prop(5, 1), expect: 'regression' },
    { name: 'an earlier round', first: pv(PREVOTE, 5, 1), then: pv(PRECOMMIT, 5, 0), expect: 'regression' },
    { name: 'an earlier height', first: prop(5, 0), then: pv(PRECOMMIT, 4, 9), expect: 'regression' },
    { name: 'a precommit after the prevote', first: pv(PREVOTE, 5, 1), then: pv(PRECOMMIT, 5, 1, B), expect: 'signed' },
    { name: 'a later round with another block', first: pv(PRECOMMIT, 5, 1), then: pv(PREVOTE, 5, 2, B), expect: 'signed' },
    { name: 'a proposal in the next round', first: pv(PRECOMMIT, 5, 1), then: prop(5, 2, B), expect: 'signed' },
    { name: 'the next height', first: pv(PRECOMMIT, 5, 9), then: pv(PREVOTE, 6, 0, B), expect: 'signed' },
  ];
  for (const row of rows) {
    const store = new MemoryStore();
    const v = new PrivValidator({ chainId: CHAIN, secretKey: KEY, store });
    const first = signRequest(v, row.first);
    let got: string;
    let signature: Uint8Array | undefined;
    try {
      signature = signRequest(v, row.then);
      got = store.saves.length === 2 ? 'signed' : 'same';
    } catch (err) {
      t.ok(err instanceof DoubleSignError, `${row.name}: a DoubleSignError`);
      t.match((err as Error).message, `height ${row.then.height} round ${row.then.round}`, `${row.name}: the message names the request`);
      got = (err as DoubleSignError).code;
    }
    t.equal(got, row.expect, row.name);
    if (row.expect === 'same') t.same(signature, first, `${row.name}: the stored signature`);
    if (row.expect === 'double_sign' || row.expect === 'regression') t.equal(store.saves.length, 1, `${row.name}: nothing saved`);
  }
});

t.test('bad requests are refused with clear errors', async (t) => {
  const v = new PrivValidator({ chainId: CHAIN, secretKey: KEY, store: new MemoryStore() });
  t.throws(() => v.signVote({ type: 3 as VoteType, height: 1, round: 0, blockHash: A }), /type must be 1 \(prevote\) or 2 \(precommit\)/);
  t.throws(() => v.signVote({ type: PREVOTE, height: 0, round: 0, blockHash: A }), /height must be a positive integer/);
  t.throws(() => v.signVote({ type: PREVOTE, height: 1, round: -1, blockHash: A }), /round must be a non-negative integer/);
  t.throws(() => v.signVote({ type: PREVOTE, height: 1, round: 0, blockHash: A.subarray(1) }), /blockHash must be 32 bytes or null/);
  t.throws(() => v.signProposal({ height: 1, round: 0, validRound: -1, blockHash: null as unknown as Uint8Array }), /blockHash must be 32 bytes/);
  t.throws(() => v.signProposal({ height: 1, round: 1, validRound: 1, blockHash: A }), /validRound/);
  t.equal(v.lastSigned, null, 'nothing was signed');
  t.throws(() => new PrivValidator({ chainId: 'Bad Chain', secretKey: KEY, store: new MemoryStore() }), /chain id/);
  t.throws(() => new PrivValidator({ chainId: CHAIN, secretKey: KEY.subarray(1), store: new MemoryStore() }), /secretKey must be 32 bytes/);
  t.throws(() => new PrivValidator({ chainId: CHAIN, secretKey: KEY, store: {} as SignStateStore }), /store must have load\(\) and save\(\)/);
});

t.test('a failed save releases no signature and stops signing', async (t) => {
  let fail = true;
  const store: SignStateStore = {
    load: () => null,
    save: () => {
      if (fail) throw new Error('disk full');
    },
  };
  const v = new PrivValidator({ chainId: CHAIN, secretKey: KEY, store });
  t.equal(errorCode(() => v.signVote({ type: PREVOTE, height: 1, round: 0, blockHash: A })), 'store_failed');
  fail = false;
  t.equal(errorCode(() => v.signVote({ type: PREVOTE, height: 1, round: 0, blockHash: B })), 'store_failed', 'still refused after the disk recovers');
  t.equal(errorCode(() => v.signVote({ type: PREVOTE, height: 2, round: 0, blockHash: B })), 'store_failed');
  t.ok(new PrivValidator({ chainId: CHAIN, secretKey: KEY, store }).signVote({ type: PREVOTE, height: 1, round: 0, blockHash: B }), 'a restart signs again');
});

t.test('FileSignStateStore: missing is null, saves alternate between two slots, the later one is loaded', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'priv_validator_state.json');
  const second = join(dir, 'priv_validator_state.2.json');
  t.equal(new FileSignStateStore(path).load(), null);
  t.same(new FileSignStateStore(path).slotPaths, [path, second]);
  const v = new PrivValidator({ chainId: CHAIN, secretKey: KEY, store: new FileSignStateStore(path) });
  const prevote = { type: PREVOTE, height: 7, round: 2, blockHash: A } as const;
  const signed = v.signVote(prevote);
  t.notOk(existsSync(second), 'the first save fills the first slot');
  const text = readFileSync(path, 'utf8');
  t.equal(text.length, SLOT_BYTES, 'a slot is padded to its fixed size');
  const json = JSON.parse(text);
  t.same(Object.keys(json), ['height', 'round', 'step', 'signBytes', 'signature', 'sum']);
  t.same([json.height, json.round, json.step], [7, 2, 2]);
  t.equal(json.signature, Buffer.from(signed.signature).toString('hex'));

  v.signVote({ ...prevote, type: PRECOMMIT });
  t.same(JSON.parse(readFileSync(second, 'utf8')).step, 3, 'the next save fills the other slot');
  t.same(JSON.parse(readFileSync(path, 'utf8')).step, 2, 'and leaves the previous state whole');
  v.signVote({ ...prevote, height: 8, round: 0 });
  t.same(JSON.parse(readFileSync(path, 'utf8')).height, 8, 'then the first again');

  const reopened = new PrivValidator({ chainId: CHAIN, secretKey: KEY, store: new FileSignStateStore(path) });
  t.same(reopened.lastSigned, v.lastSigned, 'the later slot is the state');
  t.equal(errorCode(() => reopened.signVote({ ...prevote, height: 8, round: 0, blockHash: B })), 'double_sign', 'a conflicting vote is refused');
  t.equal(errorCode(() => reopened.signVote(prevote)), 'regression', 'what the older slot holds is refused too');
  t.ok(reopened.signVote({ ...prevote, height: 8, round: 0, type: PRECOMMIT }), 'the next step is signed');
  t.same(JSON.parse(readFileSync(second, 'utf8')).height, 8, 'into the slot that held the older state');
  t.same(new FileSignStateStore(path).load()?.step, 3);
  t.throws(() => new FileSignStateStore(''), TypeError);
});

t.test('FileSignStateStore: a torn slot falls back to the other; the one-file layout before the slots still loads', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'priv_validator_state.json');
  const v = new PrivValidator({ chainId: CHAIN, secretKey: KEY, store: new FileSignStateStore(path) });
  const prevote = { type: PREVOTE, height: 5, round: 0, blockHash: A } as const;
  v.signVote(prevote);
  v.signVote({ ...prevote, type: PRECOMMIT });
  const [, second] = new FileSignStateStore(path).slotPaths;
  const whole = readFileSync(second, 'utf8');
  // A crash halfway through the save of the precommit: half new bytes, half old (here, zeros).
  for (const torn of [whole.slice(0, 100), whole.slice(0, 512) + '\0'.repeat(512), whole.replace('"step": 3', '"step": 1')]) {
    writeFileSync(second, torn);
    const state = new FileSignStateStore(path).load();
    t.same(state && [state.height, state.step], [5, 2], 'the whole slot (the prevote) is the state');
    const again = new PrivValidator({ chainId: CHAIN, secretKey: KEY, store: new FileSignStateStore(path) });
    t.equal(errorCode(() => again.signVote({ ...prevote, blockHash: B })), 'double_sign', 'and still guards what it says was signed');
  }
  // Both slots unreadable: refused, never reset.
  writeFileSync(path, '{"half": ');
  t.equal(errorCode(() => new FileSignStateStore(path).load()), 'malformed');

  // The layout before the slots: one file, no sum, pretty-printed, renamed into place.
  const old = join(t.testdir(), 'priv_validator_state.json');
  const signBytes = voteSignBytes(CHAIN, { type: PREVOTE, height: 9, round: 1, blockHash: A });
  writeFileSync(old, JSON.stringify({ height: 9, round: 1, step: 2, signBytes: Buffer.from(signBytes).toString('hex'), signature: Buffer.from(sign(KEY, signBytes)).toString('hex') }, null, 2) + '\n');
  const migrated = new PrivValidator({ chainId: CHAIN, secretKey: KEY, store: new FileSignStateStore(old) });
  t.same([migrated.lastSigned?.height, migrated.lastSigned?.round, migrated.lastSigned?.step], [9, 1, 2]);
  t.equal(errorCode(() => migrated.signVote({ type: PREVOTE, height: 9, round: 1, blockHash: B })), 'double_sign');
  migrated.signVote({ type: PRECOMMIT, height: 9, round: 1, blockHash: A });
  t.ok(existsSync(new FileSignStateStore(old).slotPaths[1]), 'the first save after it goes to the second slot');
  t.same(new FileSignStateStore(old).load()?.step, 3);
});

t.test('FileSignStateStore: a malformed file is an error, never a reset', async (t) => {
  const dir = t.testdir();
  const good = join(dir, 'good.json');
  new PrivValidator({ chainId: CHAIN, secretKey: KEY, store: new FileSignStateStore(good) }).signVote({ type: PREVOTE, height: 4, round: 0, blockHash: A });
  const valid = JSON.parse(readFileSync(good, 'utf8')) as Record<string, unknown>;
  const rows: [string, string, RegExp][] = [
    ['empty file', '', /: not valid JSON/],
    ['truncated JSON', JSON.stringify(valid).slice(0, 30), /: not valid JSON/],
    ['an array', '[]', /: \(document\): expected an object, got an array\./],
    ['null', 'null', /: \(document\): expected an object, got null\./],
    ['a missing field', JSON.stringify({ ...valid, signature: undefined }), /: signature: missing \(required field\)\./],
    ['an extra field', JSON.stringify({ ...valid, extra: 1 }), /: extra: unknown field/],
    ['a misspelt field', JSON.stringify({ ...valid, hieght: 4, height: undefined }), /: height: missing \(required field\); hieght: unknown field \(did you mean "height"\?\)\./],
    ['a field twice', JSON.stringify(valid).replace('{', '{"round": 0, '), /: round: appears twice/],
    ['height as text', JSON.stringify({ ...valid, height: '4' }), /: height: expected an integer, got string "4"\./],
    ['height zero', JSON.stringify({ ...valid, height: 0 }), /: height: must be a positive integer\./],
    ['fractional round', JSON.stringify({ ...valid, round: 0.5 }), /: round: expected an integer, got number 0\.5\./],
    ['step 4', JSON.stringify({ ...valid, step: 4 }), /: step: must be 1 \(propose\), 2 \(prevote\) or 3 \(precommit\)\./],
    ['bad hex', JSON.stringify({ ...valid, signBytes: 'xyz' }), /: signBytes: must be a non-empty hex string\./],
    ['short signature', JSON.stringify({ ...valid, signature: (valid.signature as string).slice(2) }), /: signature: must be 64 bytes\./],
    ['several at once', JSON.stringify({ ...valid, round: -1, step: 'prevote' }), /: round: must be a non-negative integer; step: must be 1 .*\./],
  ];
  for (const [name, text, message] of rows) {
    const path = join(dir, `${name.replaceAll(' ', '-')}.json`);
    writeFileSync(path, text);
    const store = new FileSignStateStore(path);
    t.throws(() => store.load(), SignStateError, `${name}: SignStateError`);
    t.equal(errorCode(() => store.load()), 'malformed', `${name}: malformed`);
    t.throws(() => store.load(), message, `${name}: says what is wrong`);
    t.throws(() => store.load(), { message: new RegExp(`^sign state file ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `) }, `${name}: names the file`);
    t.throws(() => new PrivValidator({ chainId: CHAIN, secretKey: KEY, store }), /Refusing to start.*Restore the file from a backup/s, `${name}: the validator does not start`);
    t.equal(readFileSync(path, 'utf8'), text, `${name}: the file is left alone`);
  }
});

t.test('a state that is not this key\'s or this chain\'s, or that contradicts itself, is refused', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'state.json');
  new PrivValidator({ chainId: CHAIN, secretKey: KEY, store: new FileSignStateStore(path) }).signVote({ type: PRECOMMIT, height: 9, round: 1, blockHash: A });
  const store = new FileSignStateStore(path);
  t.equal(errorCode(() => new PrivValidator({ chainId: CHAIN, secretKey: OTHER_KEY, store })), 'wrong_key');
  t.equal(errorCode(() => new PrivValidator({ chainId: 'other-chain', secretKey: KEY, store })), 'wrong_chain');
  const json = JSON.parse(readFileSync(path, 'utf8'));
  writeFileSync(path, JSON.stringify({ ...json, height: 3 }));
  t.equal(errorCode(() => new PrivValidator({ chainId: CHAIN, secretKey: KEY, store })), 'malformed', 'an edited height no longer matches its sign bytes');
  const forged = sign(KEY, Uint8Array.from([1, 2, 3]));
  writeFileSync(path, JSON.stringify({ ...json, signBytes: '010203', signature: Buffer.from(forged).toString('hex') }));
  t.equal(errorCode(() => new PrivValidator({ chainId: CHAIN, secretKey: KEY, store })), 'malformed', 'sign bytes that are neither vote nor proposal');
});

/** Runs the child, which kills itself just before or after its k-th save; returns what it released. */
function crashAt(path: string, k: number, when: 'before' | 'after'): string[] {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, [CHILD_ENV]: JSON.stringify({ path, k, when }) },
    encoding: 'utf8',
  });
  if (r.signal !== 'SIGKILL') throw new Error(`child exited with ${r.status} ${r.signal}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.startsWith('signed ')).map((l) => l.slice('signed '.length));
}

t.test('crash: killed around every save, a restarted validator never contradicts what it signed', async (t) => {
  const root = t.testdir();
  for (const when of ['before', 'after'] as const) {
    for (let k = 1; k <= SEQUENCE.length; k++) {
      const path = join(root, `${when}-${k}.json`);
      const released = crashAt(path, k, when);
      const name = `killed ${when} save ${k}`;
      t.equal(released.length, k - 1, `${name}: ${k - 1} signatures released`);
      released.forEach((hex, i) => t.equal(hex, Buffer.from(sign(KEY, signBytesOf(SEQUENCE[i]!))).toString('hex'), `${name}: release ${i + 1} is step ${i + 1}`));
      // After the save of step k the state is step k; before it, step k-1 (nothing for k = 1).
      const last = when === 'after' ? k : k - 1;
      const state = new FileSignStateStore(path).load();
      const want = SEQUENCE[last - 1];
      t.same(state && [state.height, state.round, state.step], want ? [want.height, want.round, stepOf(want)] : null, `${name}: state on disk`);
      const v = new PrivValidator({ chainId: CHAIN, secretKey: KEY, store: new FileSignStateStore(path) });
      if (last > 0) {
        const r = SEQUENCE[last - 1]!;
        t.equal(errorCode(() => signRequest(v, conflicting(r))), 'double_sign', `${name}: a conflicting ${r.kind} at the last signed step is refused`);
        t.same(signRequest(v, r), sign(KEY, signBytesOf(r)), `${name}: the same ${r.kind} gives the same signature`);
      }
      for (let i = 0; i < last - 1; i++) {
        t.equal(errorCode(() => signRequest(v, SEQUENCE[i]!)), 'regression', `${name}: step ${i + 1} is refused as a regression`);
      }
      if (last < SEQUENCE.length) t.ok(signRequest(v, SEQUENCE[last]!), `${name}: the next step is signed`);
    }
  }
});
