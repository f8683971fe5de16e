/**
 * Block sync: a node catching up 1,000 heights (4 validators' commits, 20 transfers a block) from
 * three in-process peers through the real wire codec and LevelDB, heights per second; and how much
 * of that is signature checking: the same commits verified alone (cold cache) in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockHash, decodeBlock } from '../chain/block.ts';
import { decodeCommit, encodeCommit } from '../chain/vote.ts';
import { SignatureCache, verifyCommit } from '../consensus/verify.ts';
import { BlockSync } from '../p2p/block-sync.ts';
import { DEFAULT_P2P_CONFIG } from '../p2p/config.ts';
import { decodeSyncRequest, encodeSyncRequest, serveSyncRequest, type SyncSource } from '../p2p/sync-wire.ts';
import { CHAIN_ID, consensusBlock, openChain, signCommit, testAccounts, testGenesis, testValidators, transfersFor } from '../test/fixtures/chain.ts';
import { report } from './harness.ts';

const HEIGHTS = 1000;
const vals = testValidators(4);
const accounts = testAccounts(50);
const dir = mkdtempSync(join(tmpdir(), 'hallmark-blocksync-bench-'));
try {
  const src = await openChain(join(dir, 'src'), undefined, { validators: vals.set });
  await src.executor.initGenesis(testGenesis(accounts));
  const nonces = accounts.map(() => 0);
  for (let h = 1; h <= HEIGHTS; h++) {
    const block = consensusBlock(src.executor, vals, transfersFor(3, h, accounts, nonces, 20));
    await src.executor.applyBlock(block, signCommit(vals, h, 0, blockHash(block.header)));
  }
  const source: SyncSource = {
    head: () => src.executor.head!.height,
    block: async (h) => {
      const [block, commit] = await Promise.all([src.executor.blocks.getBlockBytes(h), src.executor.blocks.getCommit(h)]);
      return block === undefined || commit === undefined ? undefined : { block, commit: encodeCommit(commit) };
    },
  };

  // Signature checking alone: every commit and lastCommit the sync verifies, with a cold cache.
  const commits = [];
  for (let h = 1; h <= HEIGHTS; h++) commits.push((await src.executor.blocks.getCommit(h))!);
  const lastCommits = [];
  for (let h = 2; h <= HEIGHTS; h++) lastCommits.push((await src.executor.blocks.getBlock(h))!.lastCommit!);
  const s0 = performance.now();
  const cache = new SignatureCache();
  for (const c of commits) verifyCommit(CHAIN_ID, vals.set, c, { height: c.height, blockHash: c.blockHash }, cache);
  for (const c of lastCommits) verifyCommit(CHAIN_ID, vals.set, c, { height: c.height, blockHash: c.blockHash }, cache);
  const sigMs = performance.now() - s0;

  const dst = await openChain(join(dir, 'dst'), undefined, { validators: vals.set });
  await dst.executor.initGenesis(testGenesis(accounts));
  const serve = (from: number, count: number) => serveSyncRequest(decodeSyncRequest(encodeSyncRequest({ from, count })), source, 6 << 20);
  const sync = new BlockSync({
    config: DEFAULT_P2P_CONFIG.sync,
    request: (_peer, from, count) => serve(from, count),
    apply: async (_h, b, c) => { await dst.executor.applyBlock(decodeBlock(b), decodeCommit(c)); },
    penalize: () => { throw new Error('no peer here is bad'); },
  });
  const t0 = performance.now();
  await sync.run(1, () => ['a', 'b', 'c'].map((id) => ({ id, height: HEIGHTS })));
  const ms = performance.now() - t0;
  if (!Buffer.from(dst.executor.head!.stateRoot).equals(Buffer.from(src.executor.head!.stateRoot))) throw new Error('state roots differ');
  report({ bench: 'blocksync', name: 'catch up 1,000 heights (20 transfers each)', value: (HEIGHTS * 1000) / ms, unit: 'heights/s', requests: sync.stats.requests });
  report({ bench: 'blocksync', name: 'share of the time spent checking commit signatures', value: sigMs / ms, unit: 'ratio', signature_ms: Math.round(sigMs), sync_ms: Math.round(ms) });
  await src.db.close();
  await dst.db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
