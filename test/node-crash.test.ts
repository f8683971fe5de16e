/**
 * The double-sign guard and the WAL under crashes: a validator process is killed right after each
 * of its first fsyncs in turn (guard state, WAL records, end-of-height markers, across heights)
 * and restarted on the same data directory each time. Across every run it must never have sent
 * two different votes (or proposals) for one height, round and step, every signature it sent must
 * be valid, and the chain must keep going from where it was.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fromHex, toHex } from '../chain/bytes.ts';
import { decodeProposal, proposalSignBytes } from '../chain/proposal.ts';
import { verifySignature } from '../chain/signature.ts';
import { decodeVote, voteSignBytes } from '../chain/vote.ts';
import { fastGenesis, VALIDATOR } from './fixtures/node.ts';

const CHILD = new URL('./fixtures/node-crash-child.ts', import.meta.url).pathname;
const CRASH_POINTS = Number(process.env.CRASH_POINTS ?? 24);

function run(home: string, crashAfter: number, heights: number): { status: number | null; signal: NodeJS.Signals | null; stderr: string } {
  const r = spawnSync(process.execPath, [CHILD, home, String(crashAfter), String(heights)], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}

t.test('killed after each fsync in turn, the validator never sends conflicting messages and keeps committing', async (t) => {
  const home = t.testdir();
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

  const votes = new Map<string, string>();
  const proposals = new Map<string, string>();
  let sent = 0;
  let badSignatures = 0;
  for (const line of readFileSync(join(home, 'sent.log'), 'utf8').split('\n')) {
    if (line === '') continue;
    const [kind, hex] = line.split(' ');
    sent++;
    if (kind === 'vote') {
      const v = decodeVote(fromHex(hex!));
      if (!verifySignature(VALIDATOR.publicKey, voteSignBytes(chainId, v), v.signature)) badSignatures++;
      const key = `${v.height}/${v.round}/${v.type}`;
      const value = v.blockHash === null ? 'nil' : toHex(v.blockHash);
      const seen = votes.get(key);
      if (seen !== undefined && seen !== value) t.fail(`conflicting votes at ${key}: ${seen} and ${value}`);
      votes.set(key, value);
    } else {
      const p = decodeProposal(fromHex(hex!));
      if (!verifySignature(VALIDATOR.publicKey, proposalSignBytes(chainId, p), p.signature)) badSignatures++;
      const key = `${p.height}/${p.round}`;
      const value = `${toHex(p.blockHash)}/${p.validRound}`;
      const seen = proposals.get(key);
      if (seen !== undefined && seen !== value) t.fail(`conflicting proposals at ${key}`);
      proposals.set(key, value);
    }
  }
  t.equal(badSignatures, 0, 'every signature sent is valid');
  t.ok(sent > CRASH_POINTS, `messages were sent across the runs (${sent})`);
});
