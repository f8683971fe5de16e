/**
 * The double-sign guard and the WAL under crashes: a validator process is killed right after each
 * of its first fsyncs in turn (guard state, WAL records, end-of-height markers, across heights)
 * and restarted on the same data directory each time. Across every run it must never have sent
 * two different votes (or proposals) for one height, round and step, every signature it sent must
 * be valid, and the chain must keep going from where it was.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fromHex, toHex } from '../chain/bytes.ts';
import { decodeProposal, proposalSignBytes } from '../chain/proposal.ts';
import { verifySignature } from '../chain/signature.ts';
import { decodeVote, voteSignBytes } from '../chain/vote.ts';
import { openChain } from './fixtures/chain.ts';
import { fastGenesis, VALIDATOR } from './fixtures/node.ts';
import { liveDir } from './fixtures/dirs.ts';

const CHILD = new URL('./fixtures/node-crash-child.ts', import.meta.url).pathname;
const CRASH_POINTS = Number(process.env.CRASH_POINTS ?? 24);

function run(home: string, crashAfter: number, heights: number): { status: number | null; signal: NodeJS.Signals | null; stderr: string } {
  const r = spawnSync(process.execPath, [CHILD, home, String(crashAfter), String(heights)], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}

/** Every problem in a sent.log: conflicting votes or proposals for one step, bad signatures. */
function conflictsIn(log: string, chainId: string): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const note = (key: string, value: string) => {
    const before = seen.get(key);
    if (before !== undefined && before !== value) problems.push(`conflicting messages at ${key}: ${before} and ${value}`);
    seen.set(key, value);
  };
  for (const line of log.split('\n')) {
    if (line === '') continue;
    const [kind, hex] = line.split(' ');
    if (kind === 'vote') {
      const v = decodeVote(fromHex(hex!));
      if (!verifySignature(VALIDATOR.publicKey, voteSignBytes(chainId, v), v.signature)) problems.push(`bad vote signature at ${v.height}/${v.round}`);
      note(`vote ${v.height}/${v.round}/${v.type}`, v.blockHash === null ? 'nil' : toHex(v.blockHash));
    } else {
      const p = decodeProposal(fromHex(hex!));
      if (!verifySignature(VALIDATOR.publicKey, proposalSignBytes(chainId, p), p.signature)) problems.push(`bad proposal signature at ${p.height}/${p.round}`);
      note(`proposal ${p.height}/${p.round}`, `${toHex(p.blockHash)}/${p.validRound}`);
    }
  }
  return problems;
}

t.test('killed after each fsync in turn, the validator never sends conflicting messages and keeps committing', async (t) => {
  const home = liveDir(t);
  const chainId = fastGenesis().chainId;
  let killed = 0;
  for (let k = 1; k <= CRASH_POINTS; k++) {
    const r = run(home, k, 1_000_000);
    if (r.signal === 'SIGKILL') killed++;
    else t.fail(`run crashing after sync ${k} ended with status ${r.status}: ${r.stderr.slice(0, 2000)}`);
  }
  t.equal(killed, CRASH_POINTS, 'every run died at its crash point');
  const last = run(home, 0, 3);
  t.equal(last.status, 0, `a clean run commits 3 more heights after all the crashes: ${last.stderr.slice(0, 2000)}`);

  const log = readFileSync(join(home, 'sent.log'), 'utf8');
  t.same(conflictsIn(log, chainId), [], 'nothing conflicting was ever sent, and every signature is valid');
  const sent = log.split('\n').filter((l) => l !== '').length;
  // A restarted validator continues the height it was in from its WAL: it proposes the block it
  // had built and signs nothing new, so a lone validator decides every height in round 0. Without
  // the replay the guard would refuse its new proposal and the height would need another round.
  const chain = await openChain(join(home, 'data', 'chain'));
  const head = chain.executor.head!.height;
  const rounds: number[] = [];
  for (let h = 1; h <= head; h++) rounds.push((await chain.executor.blocks.getCommit(h))!.round);
  await chain.db.close();
  t.same(rounds.filter((r) => r !== 0), [], `every one of the ${head} heights was decided in round 0`);
  t.ok(sent > CRASH_POINTS, `messages were sent across the runs (${sent})`);
});

t.test('with its WAL lost after a crash mid-height, the validator signs nothing conflicting and moves on', async (t) => {
  const home = liveDir(t);
  const chainId = fastGenesis().chainId;
  // Crash points after the first heights, where the guard has signed part of a height.
  for (const k of [7, 9, 12]) {
    const r = run(home, k, 1_000_000);
    t.equal(r.signal, 'SIGKILL', `died at sync ${k}`);
    rmSync(join(home, 'data', 'wal'), { recursive: true, force: true });
    const clean = run(home, 0, 2);
    t.equal(clean.status, 0, `after losing the WAL at sync ${k}, two more heights commit: ${clean.stderr.slice(0, 2000)}`);
  }
  const conflicts = conflictsIn(readFileSync(join(home, 'sent.log'), 'utf8'), chainId);
  t.same(conflicts, [], 'nothing conflicting was ever sent');
  // The guard refused what the WAL-less node tried to sign again, so some heights took a round more.
  const chain = await openChain(join(home, 'data', 'chain'));
  const rounds: number[] = [];
  for (let h = 1; h <= chain.executor.head!.height; h++) rounds.push((await chain.executor.blocks.getCommit(h))!.round);
  await chain.db.close();
  t.ok(rounds.some((r) => r > 0), `some heights were decided in a later round (rounds: ${rounds.join(',')})`);
});
