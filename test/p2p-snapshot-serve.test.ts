/**
 * Serving snapshot chunks is the lowest-priority work a node does, over real libp2p on loopback:
 * a node-wide budget of chunks per second ([p2p] snapshot_chunks_per_s) and at most two chunk
 * reads at once, past which a peer is told `busy` with when to come back; a chunk the node does
 * not have is `unavailable`; the offers list is always answered.
 */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { DEFAULT_P2P_CONFIG, type P2PConfig } from '../p2p/config.ts';
import { loadOrCreateNodeKey } from '../p2p/identity.ts';
import { Network, type NetworkHandlers } from '../p2p/network.ts';
import { decodeSnapshotResponse, type SnapshotSource } from '../p2p/snapshot-wire.ts';
import { MAX_CHUNK_READS } from '../p2p/sync-server.ts';
import { createLogger } from '../node/log.ts';

const log = createLogger({ level: 'silent', format: 'text' });
const GENESIS = new Uint8Array(32).fill(3);

function handlers(source?: SnapshotSource): NetworkHandlers {
  return {
    onStatus() {}, onProposal: () => null, onVotes: () => null, onTxs: async () => null, onPeerReady() {}, onPeerGone() {},
    syncSource: { head: () => 0, block: async () => undefined },
    ...(source && { snapshotSource: source }),
  };
}

async function pair(t: Test, serverConfig: Partial<P2PConfig>, source: SnapshotSource) {
  const dir = t.testdir();
  const config = (over: Partial<P2PConfig>): P2PConfig => ({ ...structuredClone(DEFAULT_P2P_CONFIG), port: 0, ...over });
  const server = await Network.start({ config: config(serverConfig), nodeKey: await loadOrCreateNodeKey(join(dir, 's.json')), genesisHash: GENESIS, maxTxBytes: 1 << 20, handlers: handlers(source), log });
  t.teardown(() => server.close());
  const client = await Network.start({
    config: config({ persistentPeers: [server.multiaddrs[0]!.toString()] }), nodeKey: await loadOrCreateNodeKey(join(dir, 'c.json')),
    genesisHash: GENESIS, maxTxBytes: 1 << 20, handlers: handlers(), log,
  });
  t.teardown(() => client.close());
  for (let i = 0; i < 500 && client.readyPeers().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const peer = client.readyPeers()[0]!.id;
  const ask = async (index: number, height = 7) => decodeSnapshotResponse(await client.requestSnapshot(peer, { kind: 'chunk', height, index }, AbortSignal.timeout(5_000)), 1 << 24);
  return { server, client, peer, ask };
}

const offer = { format: 1, height: 7, protocolVersion: 3, root: new Uint8Array(32).fill(1), chunks: 100 };
const chunkOf = (i: number) => new Uint8Array(64 * 1024).fill(i);

t.test('past the node-wide budget peers are told busy, with when to come back', async (t) => {
  const { ask, server } = await pair(t, { snapshotChunksPerS: 2 }, { list: () => [offer], chunk: async (_h, i) => chunkOf(i) });
  const answers = [];
  for (let i = 0; i < 6; i++) answers.push(await ask(i));
  const served = answers.filter((a) => a.kind === 'chunk');
  const busy = answers.filter((a) => a.kind === 'error' && a.code === 'busy');
  t.ok(served.length >= 2 && served.length <= 3, `${served.length} chunks served: the burst of 2 (and one more if half a second passed)`);
  t.equal(served.length + busy.length, 6, 'the rest were told busy');
  t.ok(busy.every((b) => b.kind === 'error' && b.retryAfterMs > 0), 'each busy answer says when to come back');
  t.equal(server.counters.snapshotChunksServed, served.length);
  t.same(await ask(0, 8), { kind: 'error', code: 'unavailable', retryAfterMs: 0 }, 'a snapshot it does not have is unavailable');
});

t.test(`at most ${MAX_CHUNK_READS} chunks are read at once; the offers list is answered meanwhile`, async (t) => {
  let reading = 0;
  let most = 0;
  const slow: SnapshotSource = {
    list: () => [offer],
    chunk: async (_h, i) => {
      most = Math.max(most, ++reading);
      await new Promise((r) => setTimeout(r, 400));
      reading--;
      return chunkOf(i);
    },
  };
  const { ask, client, peer } = await pair(t, { snapshotChunksPerS: 1_000 }, slow);
  const asked = [0, 1, 2, 3].map((i) => ask(i));
  await new Promise((r) => setTimeout(r, 100));
  const list = decodeSnapshotResponse(await client.requestSnapshot(peer, { kind: 'list' }, AbortSignal.timeout(5_000)), 1 << 20);
  t.same(list, { kind: 'offers', offers: [offer] }, 'offers are answered while chunks are read');
  const answers = await Promise.all(asked);
  t.equal(most, MAX_CHUNK_READS, `never more than ${MAX_CHUNK_READS} reads at once`);
  t.equal(answers.filter((a) => a.kind === 'chunk').length, MAX_CHUNK_READS);
  t.equal(answers.filter((a) => a.kind === 'error' && a.code === 'busy').length, 4 - MAX_CHUNK_READS, 'the others were told busy');
});
