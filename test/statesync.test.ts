/**
 * Joining by state snapshot, end to end: four validators in one process over loopback libp2p with
 * a state of 110,000+ keys (genesis accounts and contract storage), and nodes that join them by
 * `[sync] mode = "snapshot"`:
 *
 *   - a joiner restores the snapshot, ends with the validators' state roots and contract answers
 *     (the storage index rebuilt from the restored keys), keeps up, and then serves the very same
 *     chunks itself;
 *   - a joiner whose other peers corrupt, truncate, send another height's chunks or stall still
 *     restores, from the one honest peer, and penalises the bad ones;
 *   - a joiner offered roots the validators did not sign refuses them and falls back to block sync;
 *   - blocks whose commit has too little power prove nothing;
 *   - a joiner killed mid-restore (a real process, SIGKILL) resumes with the chunks it wrote.
 */
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { addressOf, formatAddress } from '../chain/address.ts';
import { toHex } from '../chain/bytes.ts';
import { signTransaction } from '../chain/tx.ts';
import { CommitError } from '../consensus/verify.ts';
import { formatGenesis } from '../genesis/schema.ts';
import { formatConfig, type NodeConfig } from '../node/config.ts';
import { checkSnapshotBlocks } from '../node/snapshot-trust.ts';
import type { SnapshotOffer } from '../p2p/snapshot-wire.ts';
import { liveDir } from './fixtures/dirs.ts';
import { FAUCET, rpc } from './fixtures/node.ts';
import { closeAll, networkConfig, startNetNode, waitAllHeight, type NetNode } from './fixtures/network.ts';
import { freePort, spawnNode } from './fixtures/processes.ts';
import { bigGenesis, fillAnswers, fillContract } from './fixtures/statesync.ts';

const ACCOUNTS = 90_000;
const KEYS = 24_000;

const dir = liveDir(t);
const genesis = bigGenesis(ACCOUNTS);
const base = (c: NodeConfig) => {
  c.snapshot.interval = 0; // snapshots are taken by the test, at heights it chooses
  c.consensus.blockTimeMs = 50;
};
const joiner = (extra: (c: NodeConfig) => void = () => {}) => (c: NodeConfig) => {
  base(c);
  c.sync = { ...c.sync, mode: 'snapshot', discoveryMs: 5_000 };
  extra(c);
};
const nodes: NetNode[] = [];
t.teardown(() => closeAll(nodes));

for (let i = 0; i < 4; i++) nodes.push(await startNetNode(dir, i, genesis, nodes.map((n) => n.addr), { tweak: base }));
const validators = nodes.slice(0, 4);
const v = (i: number) => validators[i]!.running.node;
await waitAllHeight(validators, 2);
const contract = await fillContract(validators[0]!.url, genesis.chainId, KEYS);
const H = v(0).executor.head!.height;
await waitAllHeight(validators, H);
await Promise.all(validators.map((n) => n.running.node.snapshots.take(H)));
const offer = v(0).snapshots.list()[0]!;
const height = async (n: NetNode) => (await rpc(n.url, 'chain_status')).latest_height as number;

/** Waits until `n` reaches the validators' height as it is now, then checks its roots from `from` up. */
async function sameStateAs(t: Test, n: NetNode, from: number): Promise<number> {
  const target = await height(validators[0]!);
  for (let i = 0; i < 3_000 && (await height(n)) < target; i++) await new Promise((r) => setTimeout(r, 20));
  const top = Math.min(await height(n), v(0).executor.head!.height);
  t.ok(top >= target, `${n.home.split('/').pop()} caught up to height ${target}`);
  for (const h of [from, Math.floor((from + top) / 2), top]) {
    t.equal(toHex(await n.running.node.tree.root(h)), toHex(await v(0).tree.root(h)), `the same state root at height ${h}`);
  }
  return top;
}

t.test('the validators took the same snapshot, in several chunks', async (t) => {
  t.equal(offer.height, H);
  t.ok(offer.chunks >= 5, `${offer.chunks} chunks (a state of ${ACCOUNTS + KEYS}+ keys)`);
  for (let i = 1; i < 4; i++) t.same(v(i).snapshots.list()[0], offer, `validator ${i} offers the same snapshot`);
  t.same(await v(3).snapshots.chunk(H, 2), await v(0).snapshots.chunk(H, 2), 'chunks are cut identically on every node');
});

t.test('a fifth node joins by snapshot, has the same state and contract answers, keeps up, and serves the same chunks', async (t) => {
  const n4 = await startNetNode(dir, 4, genesis, validators.map((n) => n.addr), { tweak: joiner() });
  nodes.push(n4);
  const s = n4.running.node.stateSync!;
  t.match(s, { outcome: 'restored', height: H, chunks: offer.chunks, chunksFetched: offer.chunks, badChunks: 0 });
  t.same(s.penalties, {}, 'no peer was penalised');
  await sameStateAs(t, n4, H);
  t.same(await fillAnswers(n4.url, contract, KEYS), await fillAnswers(validators[0]!.url, contract, KEYS), 'contract queries (get, and count through the storage index) agree');
  const someone = formatAddress(genesis.accounts[77_777]!.address);
  t.same((await rpc(n4.url, 'state_getAccount', { address: someone })).balance, (await rpc(validators[0]!.url, 'state_getAccount', { address: someone })).balance);

  // It keeps up with new blocks: a transfer committed by the validators reaches it.
  const faucet = addressOf(FAUCET.publicKey);
  const nonce = (await rpc(validators[1]!.url, 'state_getAccount', { address: formatAddress(faucet) })).nonce as number;
  const to = genesis.accounts[5]!.address;
  const tx = signTransaction({ chainId: genesis.chainId, sender: FAUCET.publicKey, nonce, fee: 2_000_000n, gasLimit: 2_000_000, payload: { kind: 'transfer', to, amount: 1_000n } }, FAUCET.secretKey);
  const done = await rpc(validators[1]!.url, 'tx_broadcast', { tx: toHex(tx.bytes), wait: 'committed' });
  for (let i = 0; i < 1_000 && (await height(n4)) < done.height; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal((await rpc(n4.url, 'tx_get', { hash: toHex(tx.hash) })).height, done.height, 'the joiner has the new transaction');
  const status = await rpc(n4.url, 'chain_status');
  t.equal(status.earliest_block_height, H + 1, 'it has no block below the snapshot');
  t.equal(status.catching_up, false);

  await n4.running.node.snapshots.take(H);
  t.same(n4.running.node.snapshots.list()[0], offer, 'its own snapshot of H is the validators\'');
  for (let i = 0; i < offer.chunks; i++) t.same(await n4.running.node.snapshots.chunk(H, i), await v(0).snapshots.chunk(H, i), `chunk ${i} is byte for byte theirs`);
});

t.test('corrupt, truncated, wrong-height and stalling peers: the sync succeeds from the honest one and penalises them', async (t) => {
  const honest = nodes[4]!;
  const later = v(2).executor.head!.height;
  await v(2).snapshots.take(later);
  const restore: (() => void)[] = [];
  type Chunk = (h: number, index: number) => Promise<Uint8Array | undefined>;
  const patch = (i: number, make: (own: Chunk) => Chunk) => {
    const s = v(i).snapshots;
    const [list, chunk] = [s.list, s.chunk];
    s.list = () => [offer];
    s.chunk = make(chunk.bind(s));
    restore.push(() => Object.assign(s, { list, chunk }));
  };
  const src = honest.running.node.snapshots;
  patch(0, () => async (h, i) => {
    const c = (await src.chunk(h, i))!.slice();
    c[c.length >> 1] = c[c.length >> 1]! ^ 0x20;
    return c;
  });
  patch(1, () => async (h, i) => (await src.chunk(h, i))!.subarray(0, 1000));
  patch(2, (own) => async (_h, i) => (await own(later, i)) ?? own(later, 0));
  patch(3, () => () => new Promise(() => {}));
  t.teardown(() => restore.forEach((f) => f()));

  const n5 = await startNetNode(dir, 5, genesis, [...validators.map((n) => n.addr), honest.addr], {
    tweak: joiner((c) => Object.assign(c.sync, { chunkFetchers: 5, chunkTimeoutMs: 2_000 })),
  });
  nodes.push(n5);
  const s = n5.running.node.stateSync!;
  t.equal(s.outcome, 'restored');
  t.equal(s.height, H);
  t.ok(s.badChunks >= 3, `${s.badChunks} bad chunks refused`);
  t.ok(s.timeouts >= 1, 'the staller timed out');
  const peerId = (n: NetNode) => n.addr.split('/p2p/')[1]!;
  for (let i = 0; i < 4; i++) t.ok((s.penalties[peerId(validators[i]!)] ?? 0) >= 1, `peer ${i} (${['corrupt', 'truncated', 'wrong height', 'stalled'][i]}) was penalised`);
  t.equal(s.penalties[peerId(honest)], undefined, 'the honest peer was not');
  restore.forEach((f) => f());
  await sameStateAs(t, n5, H);
});

t.test('an offered root the validators did not sign is refused: the node falls back to block sync', async (t) => {
  const restore: (() => void)[] = [];
  for (let i = 0; i < 4; i++) {
    const s = v(i).snapshots;
    const list = s.list;
    const forged: SnapshotOffer = { ...offer, root: offer.root.map((b, k) => (k === 0 ? b ^ 1 : b)) };
    s.list = () => [forged];
    restore.push(() => Object.assign(s, { list }));
  }
  t.teardown(() => restore.forEach((f) => f()));
  const n6 = await startNetNode(dir, 6, genesis, validators.map((n) => n.addr), { tweak: joiner() });
  nodes.push(n6);
  restore.forEach((f) => f());
  const s = n6.running.node.stateSync!;
  t.equal(s.outcome, 'fallback', 'no snapshot was restored');
  t.equal(Object.keys(s.penalties).length, 4, 'every peer that offered the forged root was penalised');
  await sameStateAs(t, n6, 1);
  t.equal((await rpc(n6.url, 'chain_status')).earliest_block_height, 1, 'it replayed from genesis');
});

t.test('blocks whose commit lacks +2/3 of the power, or whose header was changed, prove no snapshot', async (t) => {
  const blocks = v(0).executor.blocks;
  const [b, next, commit] = [(await blocks.getBlock(H))!, (await blocks.getBlock(H + 1))!, (await blocks.getCommit(H + 1))!];
  const proven = checkSnapshotBlocks(genesis.chainId, v(0).validators, H, b, next, commit);
  t.equal(toHex(proven.head.stateRoot), toHex(offer.root), 'the real blocks prove the snapshot root');
  const weak = { ...commit, signatures: commit.signatures.slice(0, 2) };
  t.throws(() => checkSnapshotBlocks(genesis.chainId, v(0).validators, H, b, next, weak), CommitError, 'two of four validators are not +2/3');
  const forged = { ...next, header: { ...next.header, stateRoot: new Uint8Array(32).fill(9) } };
  t.throws(() => checkSnapshotBlocks(genesis.chainId, v(0).validators, H, b, forged, commit), CommitError, 'a changed header is not what was signed');
});

t.test('a joiner killed mid-restore resumes with the chunks it wrote', async (t) => {
  // Chunks past the second are served slowly this time, so the kill lands mid-restore.
  let slow = true;
  const restore: (() => void)[] = [];
  for (let i = 0; i < 4; i++) {
    const s = v(i).snapshots;
    const chunk = s.chunk;
    s.chunk = async (h, index) => {
      if (slow && index >= 2) await new Promise((r) => setTimeout(r, 5_000));
      return chunk.call(s, h, index);
    };
    restore.push(() => Object.assign(s, { chunk }));
  }
  t.teardown(() => restore.forEach((f) => f()));
  const home = join(dir, 'node7');
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'genesis.json'), formatGenesis(genesis));
  const config = networkConfig(validators.map((n) => n.addr), joiner((c) => Object.assign(c.sync, { chunkFetchers: 1, chunkTimeoutMs: 30_000 })));
  config.logLevel = 'info';
  config.rpc = { ...config.rpc, port: await freePort() };
  config.p2p = { ...config.p2p, port: await freePort() };
  writeFileSync(join(home, 'config.toml'), formatConfig(config));
  const logPath = join(home, 'node.log');
  const log = () => readFileSync(logPath, 'utf8');

  const first = await spawnNode(home, logPath);
  t.teardown(() => first.kill('SIGKILL'));
  for (let i = 0; i < 1_500 && !/state sync progress.*chunks=\D*2\//.test(log()); i++) await new Promise((r) => setTimeout(r, 20));
  t.match(log(), /state sync progress.*chunks=\D*2\//, 'two chunks were written');
  first.kill('SIGKILL');
  await first.exited;

  // Restarted without --sync snapshot: an interrupted restore is finished whatever the mode.
  slow = false;
  config.sync.mode = 'block';
  writeFileSync(join(home, 'config.toml'), formatConfig(config));
  const second = await spawnNode(home, logPath);
  t.teardown(() => second.kill('SIGKILL'));
  const url = `http://127.0.0.1:${config.rpc.port}`;
  let status: { latest_height: number; latest_state_root: string } | null = null;
  for (let i = 0; i < 3_000 && status === null; i++) {
    status = await rpc(url, 'chain_status').catch(() => null);
    if (status === null) await new Promise((r) => setTimeout(r, 20));
  }
  t.match(log(), /resuming an interrupted snapshot restore.*chunks_done=[2-9]/, 'it resumed with the chunks it had');
  const restored = /restored the state from a snapshot.*fetched=(\d+)/.exec(log());
  t.ok(restored && Number(restored[1]) < offer.chunks, `it fetched only the rest (${restored?.[1]} of ${offer.chunks})`);
  for (let i = 0; i < 3_000 && (status!.latest_height < H + 5); i++) {
    await new Promise((r) => setTimeout(r, 20));
    status = await rpc(url, 'chain_status');
  }
  t.equal(status!.latest_state_root, toHex(await v(0).tree.root(status!.latest_height)), `the same state root at height ${status!.latest_height}`);
  second.kill('SIGINT');
  t.equal(await second.exited, 0, 'it stops cleanly');
});
