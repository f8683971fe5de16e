/**
 * Block sync without sockets: a source chain of 120 heights with real signed commits on LevelDB,
 * served through the real wire codec (serveSyncRequest) by in-process peers, applied into a second
 * executor that verifies every commit against the validator set. Honest, lying, garbage-sending,
 * silent and rate-limiting peers; the synced chain must equal the source, block for block.
 */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { blockHash, decodeBlock, encodeBlock } from '../chain/block.ts';
import { CodecError } from '../chain/codec.ts';
import { decodeCommit, encodeCommit } from '../chain/vote.ts';
import { BlockSync, BlockSyncError, SyncRejected, type SyncPeer } from '../p2p/block-sync.ts';
import { DEFAULT_P2P_CONFIG, type SyncConfig } from '../p2p/config.ts';
import {
  decodeSyncRequest, decodeSyncResponse, encodeSyncRequest, encodeSyncResponse, serveSyncRequest, SyncError, type SyncSource,
} from '../p2p/sync-wire.ts';
import { BlockError, type Executor } from '../execution/executor.ts';
import { consensusBlock, openChain, signCommit, testAccounts, testGenesis, testValidators, transfersFor } from './fixtures/chain.ts';

const HEIGHTS = 120;
const vals = testValidators(4);
const accounts = testAccounts(8);
// The timeout is generous: an honest peer on a loaded machine must never be taken for a silent one
// (at 50 ms one was, in CI). It costs one stall of this length, while the silent peer holds a range.
const CONFIG: SyncConfig = { ...DEFAULT_P2P_CONFIG.sync, blocksPerRequest: 10, maxInflightRequests: 4, requestTimeoutMs: 2_000 };

async function openValidated(t: Test, dir: string) {
  const chain = await openChain(dir, undefined, { validators: vals.set });
  t.teardown(() => chain.db.close());
  await chain.executor.initGenesis(testGenesis(accounts));
  return chain;
}

/** The source: HEIGHTS blocks of transfers, each applied with a commit signed by all four. */
async function sourceChain(t: Test, dir: string): Promise<{ executor: Executor; source: SyncSource }> {
  const { executor } = await openValidated(t, dir);
  const nonces = accounts.map(() => 0);
  for (let h = 1; h <= HEIGHTS; h++) {
    const block = consensusBlock(executor, vals, transfersFor(7, h, accounts, nonces, 5));
    await executor.applyBlock(block, signCommit(vals, h, 0, blockHash(block.header)));
  }
  const source: SyncSource = {
    head: () => executor.head!.height,
    block: async (h) => {
      const [block, commit] = await Promise.all([executor.blocks.getBlockBytes(h), executor.blocks.getCommit(h)]);
      return block === undefined || commit === undefined ? undefined : { block, commit: encodeCommit(commit) };
    },
  };
  return { executor, source };
}

/** Applies into `executor` as the node does: bad bytes or a bad block are the peer's fault. */
function applier(executor: Executor) {
  return async (height: number, blockBytes: Uint8Array, commitBytes: Uint8Array) => {
    try {
      const block = decodeBlock(blockBytes);
      if (block.header.height !== height) throw new SyncRejected(`asked for ${height}, got ${block.header.height}`);
      await executor.applyBlock(block, decodeCommit(commitBytes));
    } catch (err) {
      if (err instanceof BlockError || err instanceof CodecError) throw new SyncRejected((err as Error).message);
      throw err;
    }
  };
}

type Serve = (from: number, count: number) => Promise<Uint8Array>;

function honest(source: SyncSource): Serve {
  return (from, count) => serveSyncRequest(decodeSyncRequest(encodeSyncRequest({ from, count })), source, 1 << 20);
}

async function expectSameChain(t: Test, a: Executor, b: Executor): Promise<void> {
  t.equal(b.head!.height, a.head!.height, 'same head height');
  t.same(b.head!.stateRoot, a.head!.stateRoot, 'same state root');
  for (let h = 1; h <= a.head!.height; h++) {
    const [x, y] = await Promise.all([a.blocks.getBlockBytes(h), b.blocks.getBlockBytes(h)]);
    if (!Buffer.from(x!).equals(Buffer.from(y!))) {
      t.fail(`block ${h} differs`);
      return;
    }
  }
  t.pass(`blocks 1..${a.head!.height} are identical`);
}

function run(target: Executor, peers: Record<string, Serve>, penalties: string[], config = CONFIG) {
  const sync = new BlockSync({
    config,
    request: (peer, from, count) => peers[peer]!(from, count),
    apply: applier(target),
    penalize: (peer, reason) => penalties.push(`${peer}:${reason}`),
  });
  const list: SyncPeer[] = Object.keys(peers).map((id) => ({ id, height: HEIGHTS }));
  return { sync, done: sync.run(target.head!.height + 1, () => list) };
}

t.test('catches up from three honest peers: the same blocks and state root as the source', async (t) => {
  const dir = t.testdir();
  const { executor: src, source } = await sourceChain(t, join(dir, 'src'));
  const { executor: dst } = await openValidated(t, join(dir, 'dst'));
  const served: Record<string, number> = { a: 0, b: 0, c: 0 };
  const counting = (id: string): Serve => (from, count) => {
    served[id] = (served[id] ?? 0) + 1;
    return honest(source)(from, count);
  };
  const penalties: string[] = [];
  const { sync, done } = run(dst, { a: counting('a'), b: counting('b'), c: counting('c') }, penalties);
  t.same(await done, { head: HEIGHTS, applied: HEIGHTS });
  t.same(penalties, []);
  t.ok(Object.values(served).filter((n) => n > 0).length >= 2, `requests were spread over peers (${JSON.stringify(served)})`);
  t.equal(sync.stats.blocksApplied, HEIGHTS);
  await expectSameChain(t, src, dst);
});

t.test('bad peers are penalised and their ranges fetched from honest ones', async (t) => {
  const dir = t.testdir();
  const { executor: src, source } = await sourceChain(t, join(dir, 'src'));
  const { executor: dst } = await openValidated(t, join(dir, 'dst'));
  const forged: Serve = async (from, count) => {
    const r = decodeSyncResponse(await honest(source)(from, count), 1 << 20);
    if (r.kind !== 'blocks') return encodeSyncResponse(r);
    // The first block's commit carries a signature that does not verify.
    const commit = decodeCommit(r.blocks[0]!.commit);
    const sig = Uint8Array.from(commit.signatures[0]!.signature);
    sig[5] = sig[5]! ^ 1;
    commit.signatures[0] = { ...commit.signatures[0]!, signature: sig };
    r.blocks[0] = { block: r.blocks[0]!.block, commit: encodeCommit(commit) };
    return encodeSyncResponse(r);
  };
  const wrongHeight: Serve = (from, count) => honest(source)(from + 1, count);
  const garbage: Serve = async () => Uint8Array.of(0x82, 0x00, 0xff);
  const silent: Serve = () => new Promise(() => {});
  const penalties: string[] = [];
  const { sync, done } = run(dst, { forged, wrongHeight, garbage, silent, good: honest(source) }, penalties);
  t.same(await done, { head: HEIGHTS, applied: HEIGHTS });
  for (const bad of ['forged', 'wrongHeight', 'garbage']) t.ok(penalties.includes(`${bad}:bad_sync_response`), `${bad} was penalised`);
  t.ok(penalties.includes('silent:timeout'), 'the silent peer was penalised for timing out');
  t.notOk(penalties.some((p) => p.startsWith('good')), 'the honest peer cost nothing');
  t.ok(sync.stats.badResponses >= 3 && sync.stats.timeouts >= 1);
  await expectSameChain(t, src, dst);
});

t.test('a peer that answers rate_limited or busy is asked again after the time it names, at no cost', async (t) => {
  const dir = t.testdir();
  const { executor: src, source } = await sourceChain(t, join(dir, 'src'));
  const { executor: dst } = await openValidated(t, join(dir, 'dst'));
  let calls = 0;
  const shy: Serve = async (from, count) => {
    calls++;
    if (calls % 3 === 1) return encodeSyncResponse({ kind: 'error', code: calls % 2 === 0 ? 'busy' : 'rate_limited', retryAfterMs: 5 });
    return honest(source)(from, count);
  };
  const penalties: string[] = [];
  const { done } = run(dst, { shy }, penalties);
  t.same(await done, { head: HEIGHTS, applied: HEIGHTS });
  t.same(penalties, [], 'no penalty');
  t.ok(calls > HEIGHTS / CONFIG.blocksPerRequest, `it was asked again after refusing (${calls} requests)`);
  await expectSameChain(t, src, dst);
});

t.test('only bad peers: a clear error, and nothing wrong applied', async (t) => {
  const dir = t.testdir();
  const { source } = await sourceChain(t, join(dir, 'src'));
  const { executor: dst } = await openValidated(t, join(dir, 'dst'));
  const penalties: string[] = [];
  const { done } = run(dst, { liar: (from, count) => honest(source)(from + 3, count) }, penalties);
  const err = await done.catch((e: unknown) => e);
  t.type(err, BlockSyncError);
  t.match((err as Error).message, /no peer can serve block 1: 1 served bad data/);
  t.equal(dst.head!.height, 0, 'nothing was applied');
  t.same(penalties, ['liar:bad_sync_response']);
  const none = await new BlockSync({ config: CONFIG, request: async () => new Uint8Array(), apply: async () => {}, penalize: () => {} })
    .run(1, () => []).catch((e: unknown) => e);
  t.match((none as Error).message, /no peers/);
});

t.test('a local failure to apply ends the sync with that error', async (t) => {
  const dir = t.testdir();
  const { source } = await sourceChain(t, join(dir, 'src'));
  const sync = new BlockSync({
    config: CONFIG, request: (_p, from, count) => honest(source)(from, count),
    apply: async () => { throw new Error('disk full'); }, penalize: () => t.fail('not the peer\'s fault'),
  });
  await t.rejects(sync.run(1, () => [{ id: 'a', height: HEIGHTS }]), /disk full/);
});

t.test('the wire: strict decoders with coded errors, and the byte budget', async (t) => {
  const dir = t.testdir();
  const { source } = await sourceChain(t, join(dir, 'src'));
  t.same(decodeSyncRequest(encodeSyncRequest({ from: 5, count: 7 })), { from: 5, count: 7 });
  for (const bad of [Uint8Array.of(), Uint8Array.of(0x82, 0x05), Uint8Array.of(0x82, 0x05, 0x07, 0x00), Uint8Array.of(0x82, 0x00, 0x01), Uint8Array.of(0x82, 0x01, 0x18, 0xff), Uint8Array.of(0x61, 0x61)]) {
    t.throws(() => decodeSyncRequest(bad), SyncError, `request ${Buffer.from(bad).toString('hex')} refused`);
  }
  for (const bad of [Uint8Array.of(0x82, 0x02, 0x80), Uint8Array.of(0x83, 0x01, 0x63, 0x66, 0x6f, 0x6f, 0x00), Uint8Array.of(0x82, 0x00, 0x81, 0x01), Uint8Array.of(0xff)]) {
    t.throws(() => decodeSyncResponse(bad, 1 << 20), SyncError, `response ${Buffer.from(bad).toString('hex')} refused`);
  }
  t.throws(() => encodeSyncRequest({ from: 0, count: 1 }), RangeError);
  t.throws(() => encodeSyncRequest({ from: 1, count: 101 }), RangeError);

  const one = (await source.block(1))!;
  const pairBytes = one.block.byteLength + one.commit.byteLength;
  const budget = Math.floor(pairBytes * 3.5);
  const smallBytes = await serveSyncRequest({ from: 1, count: 50 }, source, budget);
  const small = decodeSyncResponse(smallBytes, 1 << 20);
  t.ok(smallBytes.byteLength <= budget, 'the response fits the budget');
  t.ok(small.kind === 'blocks' && small.blocks.length >= 1 && small.blocks.length < 5, 'the budget cuts the response short');
  const none = decodeSyncResponse(await serveSyncRequest({ from: 1, count: 5 }, source, 100), 1 << 20);
  t.same(none, { kind: 'error', code: 'unavailable', retryAfterMs: 0 }, 'one block over the budget is refused, not sent too large');
  const past = decodeSyncResponse(await serveSyncRequest({ from: HEIGHTS - 1, count: 10 }, source, 1 << 20), 1 << 20);
  t.equal(past.kind === 'blocks' && past.blocks.length, 2, 'stops at the head');
  t.same(decodeBlock(past.kind === 'blocks' ? past.blocks[1]!.block : new Uint8Array()).header.height, HEIGHTS);
  t.same(encodeBlock(decodeBlock(one.block)), one.block, 'blocks travel as stored');
});
