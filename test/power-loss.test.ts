/**
 * Durability beyond SIGKILL. A single validator (LevelDB on disk, the file WAL and guard) commits
 * heights with transfers, a contract deploy and contract calls while a DurabilityJournal
 * (fixtures/power-loss.ts) records every write it makes with its sync flag. Then, for every write
 * in turn, the data directory is rebuilt as a power loss right after it would leave it (unsynced
 * writes lost), and as a process kill (nothing lost), and a node is started on it. Each must:
 *
 *   - start (a clear refusal would be allowed by the issue; none happens, and the test says so);
 *   - keep every block whose batch was durable, as it was;
 *   - commit, at every height it had sent a precommit for, that block and no other;
 *   - never send a proposal or vote that conflicts with one sent before the crash;
 *   - hold, at every height, the state root a run without crashes reaches on the same blocks
 *     (a fresh executor applies its chain from genesis).
 *
 *   POWER_LOSS_HEIGHTS=12 npx tap test/power-loss.test.ts   a longer recorded run (default 8)
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { addressOf } from '../chain/address.ts';
import type { Block } from '../chain/block.ts';
import { blockHash } from '../chain/block.ts';
import { toHex } from '../chain/bytes.ts';
import { signTransaction, type Payload } from '../chain/tx.ts';
import { PREVOTE, type Commit } from '../chain/vote.ts';
import type { ConsensusOutbox } from '../consensus/ports.ts';
import { ValidatorSet } from '../consensus/validators.ts';
import { toGenesisState } from '../genesis/genesis.ts';
import { contractAddress } from '../execution/contracts.ts';
import { createLogger } from '../node/log.ts';
import { startNode, type RunningNode } from '../node/node.ts';
import { openChain } from './fixtures/chain.ts';
import { liveDir } from './fixtures/dirs.ts';
import { FAUCET, fastGenesis, testConfig, VALIDATOR } from './fixtures/node.ts';
import { DurabilityJournal, type CrashModel, type JournalEvent } from './fixtures/power-loss.ts';
import { STORE } from './fixtures/vm-contracts.ts';

const HEIGHTS = Number(process.env.POWER_LOSS_HEIGHTS ?? 8);
const GENESIS = fastGenesis({ chainId: 'hallmark-power-loss' });
const SILENT = createLogger({ level: 'silent', format: 'text' });

type Sent = Omit<Extract<JournalEvent, { store: 'sent' }>, 'store'>;

function outboxInto(push: (s: Sent) => void): ConsensusOutbox {
  return {
    proposal: (p) => push({ kind: 'proposal', height: p.height, round: p.round, blockHash: toHex(p.blockHash) }),
    vote: (v) => push({ kind: v.type === PREVOTE ? 'prevote' : 'precommit', height: v.height, round: v.round, blockHash: v.blockHash === null ? null : toHex(v.blockHash) }),
  };
}

function start(home: string, sent: (s: Sent) => void, clock?: () => number): Promise<RunningNode> {
  return startNode({ home, config: testConfig(), genesis: GENESIS, validatorKey: VALIDATOR, log: SILENT, outbox: outboxInto(sent), ...(clock ? { clock } : {}) });
}

/**
 * Restarts run an hour later than the recording: every proposal replayed from the WAL is then
 * untimely, as after a long outage, which must not stop the node deciding what it precommitted
 * (timeliness withholds a prevote, never a decision).
 */
const LATER = () => Date.now() + 3_600_000;

/** Polls the head (the node commits every few ms); a bounded number of polls, not a clock. */
async function waitForHead(running: RunningNode, height: number): Promise<void> {
  for (let i = 0; i < 3000 && running.node.executor.head!.height < height; i++) await new Promise((r) => setTimeout(r, 5));
  if (running.node.executor.head!.height < height) throw new Error(`height ${height} not reached (head ${running.node.executor.head!.height})`);
}

interface Chain {
  blocks: Block[];
  commits: Commit[];
  /** State root after each height, 0 (genesis) included, as the node stored it. */
  roots: string[];
}

/** Blocks, commits and stored state roots of a closed home. */
async function readChain(home: string): Promise<Chain> {
  const { db, executor } = await openChain(join(home, 'data', 'chain'));
  try {
    const head = executor.head!;
    const blocks: Block[] = [];
    const commits: Commit[] = [];
    for (let h = 1; h <= head.height; h++) {
      blocks.push((await executor.blocks.getBlock(h))!);
      commits.push((await executor.blocks.getCommit(h))!);
    }
    // Block h+1's header carries the root after h; the head carries the last one.
    const roots = [...blocks.map((b) => toHex(b.header.stateRoot)), toHex(head.stateRoot)];
    return { blocks, commits, roots };
  } finally {
    await db.close();
  }
}

/** The state roots a run without crashes reaches on these blocks: a fresh executor from genesis. */
async function replayRoots(dir: string, chain: Chain): Promise<string[]> {
  rmSync(dir, { recursive: true, force: true });
  const validators = new ValidatorSet(GENESIS.validators.map((v) => ({ address: v.address, publicKey: v.publicKey, power: v.power })));
  const { db, executor } = await openChain(dir, {}, { validators });
  try {
    const roots = [toHex((await executor.initGenesis(toGenesisState(GENESIS))).stateRoot)];
    for (const [i, block] of chain.blocks.entries()) roots.push(toHex((await executor.applyBlock(block, chain.commits[i]!)).stateRoot));
    return roots;
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Sends transfers, a deploy and contract calls while the node commits, until it reaches `heights`;
 * returns the receipt statuses of the deploy and the calls.
 */
async function drive(running: RunningNode, heights: number): Promise<number[]> {
  const node = running.node;
  let nonce = 0;
  const send = async (payload: Payload) => {
    const stx = signTransaction({ chainId: GENESIS.chainId, sender: FAUCET.publicKey, nonce: nonce++, fee: 50_000_000n, gasLimit: 50_000_000, payload }, FAUCET.secretKey);
    await node.query.submitTx(stx.bytes);
    return stx.hash;
  };
  const contract = contractAddress(addressOf(FAUCET.publicKey), 0);
  const statuses: number[] = [];
  let last = await send({ kind: 'deploy', code: STORE, args: new Uint8Array(0) });
  for (let i = 0; node.executor.head!.height < heights; i++) {
    statuses.push((await node.query.waitForTx(last, 30_000)).receipt.status);
    await send({ kind: 'transfer', to: addressOf(VALIDATOR.publicKey), amount: BigInt(1 + i) });
    last = await send({ kind: 'call', contract, method: 'increment', args: new Uint8Array(0), value: 0n });
  }
  await waitForHead(running, heights);
  return statuses;
}

t.test(`power loss or SIGKILL after every write of a validator: it restarts on what the disk kept, and never forks`, async (t) => {
  const base = liveDir(t);
  const original = join(base, 'original');
  const journal = new DurabilityJournal(original);
  const running = await start(original, (s) => journal.sent(s));
  const statuses = await drive(running, HEIGHTS);
  await running.close();
  journal.stop();
  const reference = await readChain(original);
  t.same(await replayRoots(join(base, 'replay'), reference), reference.roots, 'the re-execution reproduces the recorded run (the check below is sound)');
  t.ok(reference.blocks.some((b) => b.txs.length > 0), 'the recorded run committed transactions');
  t.ok(statuses.length >= 2 && statuses.every((s) => s === 0), `the deploy and the contract calls succeeded (${statuses.join(',')})`);
  const events = journal.events;
  const count = (store: JournalEvent['store']) => events.filter((e) => e.store === store).length;
  t.comment(`${reference.blocks.length} heights; ${events.length} events: level ${count('level')}, wal ${count('wal')}, guard ${count('guard')}, sent ${count('sent')}`);

  const problems: string[] = [];
  const refusals: string[] = [];
  const tried = new Set<string>();
  let restarts = 0;
  // A broken ordering fails many points alike; ten are enough to read, and keep a failing run short.
  crashPoints: for (let k = 0; k < events.length; k++) {
    for (const model of ['power-loss', 'process-kill'] as CrashModel[]) {
      if (problems.length + refusals.length >= 10) break crashPoints;
      const kept = journal.kept(k, model);
      const signature = `${kept.level.length}/${kept.wal.length}/${kept.guard.length}/${journal.sentBy(k).length}`;
      if (tried.has(signature)) continue;
      tried.add(signature);
      const where = `crash after event ${k} (${events[k]!.store}), ${model}`;
      const home = join(base, `k${k}-${model}`);
      await journal.reconstruct(k, model, home);
      const durableBlocks = kept.level.filter((i) => (events[i] as { sync: boolean }).sync).length;
      const sentBefore = journal.sentBy(k);
      const precommitted = new Map(sentBefore.filter((s) => s.kind === 'precommit' && s.blockHash !== null).map((s) => [s.height, s.blockHash!]));
      const sentAfter: Sent[] = [];
      let restarted: RunningNode;
      try {
        restarted = await start(home, (s) => sentAfter.push(s), LATER);
      } catch (err) {
        refusals.push(`${where}: ${(err as Error).message}`);
        rmSync(home, { recursive: true, force: true });
        continue;
      }
      restarts++;
      try {
        await waitForHead(restarted, Math.max(durableBlocks, ...precommitted.keys()) + 2);
      } catch (err) {
        problems.push(`${where}: ${(err as Error).message}`);
      }
      await restarted.close();

      const chain = await readChain(home);
      for (let h = 1; h <= durableBlocks; h++) {
        if (toHex(blockHash(chain.blocks[h - 1]!.header)) !== toHex(blockHash(reference.blocks[h - 1]!.header))) problems.push(`${where}: durable block ${h} changed`);
      }
      for (const [h, hash] of precommitted) {
        const got = chain.blocks[h - 1];
        if (got === undefined || toHex(blockHash(got.header)) !== hash) problems.push(`${where}: height ${h} committed ${got && toHex(blockHash(got.header)).slice(0, 12)}, not the block it had precommitted ${hash.slice(0, 12)}`);
      }
      const before = new Map(sentBefore.map((s) => [`${s.kind}/${s.height}/${s.round}`, s.blockHash]));
      for (const s of sentAfter) {
        const key = `${s.kind}/${s.height}/${s.round}`;
        if (before.has(key) && before.get(key) !== s.blockHash) problems.push(`${where}: ${key} sent as ${before.get(key)} before the crash and ${s.blockHash} after`);
      }
      const roots = await replayRoots(join(base, 'replay'), chain);
      if (roots.join() !== chain.roots.join()) problems.push(`${where}: stored state roots differ from a run without crashes on the same blocks`);
      rmSync(home, { recursive: true, force: true });
    }
  }
  t.comment(`${tried.size} distinct crash states, ${restarts} restarts, ${refusals.length} refusals`);
  t.ok(tried.size > 2 * HEIGHTS, `every height gave crash points (${tried.size})`);
  t.same(problems, [], 'every restart kept its durable blocks, committed what it had precommitted, signed nothing conflicting, and matches a run without crashes');
  t.same(refusals, [], 'and none was refused: the stores are written in an order a crash cannot make inconsistent');

  // A disk that acknowledged a sync it did not do: the last block's batch is gone, the WAL that
  // ended its height is not. The node must not decide that height afresh; it refuses, saying why.
  const all = journal.kept(events.length - 1, 'process-kill');
  const lastBlock = all.level.filter((i) => (events[i] as { sync: boolean }).sync).at(-1)!;
  const liar = join(base, 'lying-disk');
  await journal.write({ ...all, level: all.level.filter((i) => i !== lastBlock) }, liar);
  const head = reference.blocks.length;
  await t.rejects(start(liar, () => {}), new RegExp(`the WAL records that height ${head} was committed but the node is at height ${head}: its block store is behind its consensus log`));
  t.same((await readChain(liar)).blocks.length, head - 1, 'and wrote nothing');
});
