/**
 * Crash safety: a child process commits blocks in a loop and is SIGKILLed at random moments. Each
 * time, the data directory must reopen at a consistent height (block, receipts, state version and
 * head all agree, nothing of the next height), at or beyond what the child last reported, and the
 * chain must carry on to exactly the state a run that never crashed reaches.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { blockHash } from '../chain/block.ts';
import { toHex } from '../chain/bytes.ts';
import { openChain, seeded, testAccounts, testGenesis } from './fixtures/chain.ts';
import { appendBlock, CRASH_ACCOUNTS } from './fixtures/chain-writer.ts';

const child = fileURLToPath(new URL('./fixtures/chain-writer.ts', import.meta.url));

/** Runs the writer until it has reported `blocks` more heights, plus a random few ms, then kills it. */
function runAndKill(dir: string, blocks: number, extraMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let last = -1;
    let seen = 0;
    let buf = '';
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        last = Number(line.split(' ')[1]);
        if (++seen === blocks) setTimeout(() => p.kill('SIGKILL'), extraMs);
      }
    });
    p.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(last);
      else reject(new Error(`writer exited with ${code}: ${err}`));
    });
  });
}

t.test('SIGKILL during commits leaves a consistent, resumable chain', async (t) => {
  const dir = t.testdir();
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1e6);
  t.comment(`kill timing seed ${seed} (replay with CRASH_SEED=${seed})`);
  const r = seeded(seed);
  let reported = 0;
  for (let round = 0; round < 6; round++) {
    const last = await runAndKill(dir, 1 + r.int(4), r.int(40));
    reported = Math.max(reported, last);
    const { db, tree, executor } = await openChain(dir, { keepVersions: 4 });
    const head = executor.head!;
    t.ok(head.height >= reported, `round ${round}: head ${head.height} >= last reported ${reported}`);
    t.equal(tree.latestVersion, head.height, 'state version = head height');
    t.equal(toHex(await tree.root(head.height)), toHex(head.stateRoot), 'state root = head root');
    const block = await executor.blocks.getBlock(head.height);
    t.equal(block && toHex(blockHash(block.header)), toHex(head.blockHash), 'the head block is stored');
    t.equal((await executor.blocks.getReceipts(head.height))?.length, block?.txs.length, 'with its receipts');
    t.equal(await executor.blocks.getBlock(head.height + 1), undefined, 'nothing of the next height');
    await db.close();
  }
  // Reference: the same deterministic chain built without crashes agrees at the final height.
  const { db, executor, tree } = await openChain(dir, { keepVersions: 4 });
  const height = executor.head!.height;
  const ref = await openChain(t.testdir({ ref: {} }) + '/ref');
  await ref.executor.initGenesis(testGenesis(testAccounts(CRASH_ACCOUNTS)));
  while (ref.executor.head!.height < height) await appendBlock(ref.executor);
  t.equal(toHex(executor.head!.stateRoot), toHex(ref.executor.head!.stateRoot), 'same state root as a run without crashes');
  const next = await appendBlock(executor);
  const refNext = await appendBlock(ref.executor);
  t.equal(toHex(next.stateRoot), toHex(refNext.stateRoot), 'and the next block agrees too');
  t.equal(tree.latestVersion, height + 1);
  await db.close();
  await ref.db.close();
});
