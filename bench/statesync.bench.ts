/**
 * Joining a running 4-validator testnet (four `hallmark testnet` processes over loopback libp2p, a
 * genesis of ACCOUNTS funded accounts) at HEIGHTS heights:
 *   - by snapshot (`[sync] mode = "snapshot"`: restore the snapshot the validators took at HEIGHTS,
 *     then block-sync the rest) against by block sync from genesis, each a fresh node process, timed
 *     from its spawn to reaching the validators' height at that moment;
 *   - the serving validator's proposal-to-commit latency (its metrics) while two peers download
 *     its snapshot chunks as fast as its quota lets them, against a window of the same length
 *     without them.
 * HEIGHTS=… and ACCOUNTS=… to try others.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '../chain/hash.ts';
import { addTestnetNode } from '../cli/testnet-join.ts';
import { writeTestnet } from '../cli/testnet.ts';
import { formatGenesis, parseGenesis } from '../genesis/schema.ts';
import { genesisHash } from '../genesis/genesis.ts';
import { formatConfig, loadConfig } from '../node/config.ts';
import { createLogger } from '../node/log.ts';
import { loadOrCreateNodeKey } from '../p2p/identity.ts';
import { Network } from '../p2p/network.ts';
import { decodeSnapshotResponse } from '../p2p/snapshot-wire.ts';
import { rpc } from '../test/fixtures/node.ts';
import { freeBasePort, spawnNode, type NodeProcess } from '../test/fixtures/processes.ts';
import { report } from './harness.ts';

const HEIGHTS = Number(process.env.HEIGHTS ?? 10_000);
const ACCOUNTS = Number(process.env.ACCOUNTS ?? 100_000);
const WINDOW_MS = 15_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'hallmark-statesync-bench-'));
const procs: NodeProcess[] = [];
try {
  const layout = await writeTestnet({ dir: join(dir, 'tn'), validators: 4, basePort: await freeBasePort(7), blockTimeMs: 0, snapshotInterval: HEIGHTS });
  const genesis = parseGenesis(readFileSync(join(layout.nodes[0]!.home, 'genesis.json'), 'utf8'));
  for (let i = 0; i < ACCOUNTS; i++) genesis.accounts.push({ address: sha256(Uint8Array.of(i >>> 24, i >>> 16, i >>> 8, i)).subarray(0, 20), balance: 1n });
  const genesisText = formatGenesis(genesis);
  for (const n of layout.nodes) {
    writeFileSync(join(n.home, 'genesis.json'), genesisText);
    const c = await loadConfig(n.home);
    c.logLevel = 'warn';
    c.consensus.timeouts = { proposeMs: 1000, prevoteMs: 500, precommitMs: 500 };
    writeFileSync(join(n.home, 'config.toml'), formatConfig(c));
  }
  for (const n of layout.nodes) procs.push(await spawnNode(n.home, n.logPath));
  const v0 = layout.nodes[0]!;
  const height = async (url: string) => ((await rpc(url, 'chain_status').catch(() => null)) as { latest_height: number } | null)?.latest_height ?? -1;
  const t0 = performance.now();
  while ((await height(v0.rpcUrl)) < HEIGHTS + 1) await sleep(500);
  report({ bench: 'statesync', name: 'testnet heights per second (empty blocks, building the history)', value: (HEIGHTS * 1000) / (performance.now() - t0), unit: 'heights/s' });
  while (((await rpc(v0.rpcUrl, 'chain_status')).latest_snapshot_height ?? 0) < HEIGHTS) await sleep(200);

  /** A new node of the testnet, started in `mode`; seconds from its spawn until it reaches the validators' height then. */
  const joinAs = async (mode: 'snapshot' | 'block'): Promise<number> => {
    const added = await addTestnetNode(layout.dir);
    const c = await loadConfig(added.home);
    c.sync.mode = mode;
    c.snapshot.interval = 0;
    c.logLevel = 'info';
    writeFileSync(join(added.home, 'config.toml'), formatConfig(c));
    const target = await height(v0.rpcUrl);
    const start = performance.now();
    const p = await spawnNode(added.home, join(added.home, 'node.log'));
    procs.push(p);
    while ((await height(added.rpcUrl)) < target) {
      if (p.done) throw new Error(`the ${mode} joiner exited; see ${join(added.home, 'node.log')}`);
      await sleep(100);
    }
    const seconds = (performance.now() - start) / 1000;
    p.kill('SIGINT');
    await p.exited;
    return seconds;
  };
  const bySnapshot = await joinAs('snapshot');
  report({ bench: 'statesync', name: 'join by snapshot', value: bySnapshot, unit: 's', heights: HEIGHTS, accounts: ACCOUNTS });
  const byBlocks = await joinAs('block');
  report({ bench: 'statesync', name: 'join by block sync from genesis', value: byBlocks, unit: 's', heights: HEIGHTS, accounts: ACCOUNTS });
  report({ bench: 'statesync', name: 'join: block sync time / snapshot time', value: byBlocks / bySnapshot, unit: 'x' });

  // The serving node's commit latency, idle and while two peers download its chunks.
  const scrape = async () => {
    const text = await (await fetch(v0.metricsUrl)).text();
    const get = (n: string) => Number(new RegExp(`^hallmark_proposal_to_commit_seconds_${n} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { sum: get('sum'), count: get('count') };
  };
  const mean = async (during: Promise<unknown> | null) => {
    const a = await scrape();
    await sleep(WINDOW_MS);
    const b = await scrape();
    await during;
    return { ms: (1000 * (b.sum - a.sum)) / (b.count - a.count), blocks: b.count - a.count };
  };
  const idle = await mean(null);
  const log = createLogger({ level: 'silent', format: 'text' });
  const config = await loadConfig(v0.home);
  const chunksServed = { n: 0, bytes: 0 };
  const offer = (await rpc(v0.rpcUrl, 'chain_status')).latest_snapshot_height as number;
  const clients = await Promise.all([0, 1].map(async (i) => Network.start({
    config: { ...config.p2p, port: 0, persistentPeers: [v0.p2pMultiaddr] },
    nodeKey: await loadOrCreateNodeKey(join(dir, `client${i}.json`)),
    genesisHash: genesisHash(genesis), maxTxBytes: config.mempool.maxTxBytes, log,
    handlers: { onStatus() {}, onProposal: () => null, onVotes: () => null, onTxs: async () => null, onPeerReady() {}, onPeerGone() {}, syncSource: { head: () => 0, block: async () => undefined } },
  })));
  while (clients.some((c) => c.readyPeers().length === 0)) await sleep(50);
  let stop = false;
  const listed = decodeSnapshotResponse(await clients[0]!.requestSnapshot(clients[0]!.readyPeers()[0]!.id, { kind: 'list' }, AbortSignal.timeout(10_000)), 1 << 20);
  const chunks = listed.kind === 'offers' ? listed.offers.find((o) => o.height === offer)?.chunks ?? 1 : 1;
  const download = Promise.all(clients.map(async (c) => {
    const peer = c.readyPeers()[0]!.id;
    for (let i = 0; !stop; i++) {
      const raw = await c.requestSnapshot(peer, { kind: 'chunk', height: offer, index: i % chunks }, AbortSignal.timeout(10_000)).catch(() => null);
      const r = raw && decodeSnapshotResponse(raw, 64 << 20);
      if (r?.kind === 'chunk') {
        chunksServed.n++;
        chunksServed.bytes += r.chunk.byteLength;
      } else await sleep(100); // rate limited or busy: the quota at work
    }
  }));
  const serving = await mean(sleep(0));
  stop = true;
  await download;
  await Promise.all(clients.map((c) => c.close()));
  report({ bench: 'statesync', name: 'serving validator: proposal to commit, idle', value: idle.ms, unit: 'ms', blocks: idle.blocks });
  report({ bench: 'statesync', name: 'serving validator: proposal to commit, serving chunks', value: serving.ms, unit: 'ms', blocks: serving.blocks, chunks_served: chunksServed.n, mib_served: Number((chunksServed.bytes / 2 ** 20).toFixed(1)), window_s: WINDOW_MS / 1000 });
  report({ bench: 'statesync', name: 'serving validator: commit latency serving / idle', value: serving.ms / idle.ms, unit: 'x' });
} finally {
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  rmSync(dir, { recursive: true, force: true });
}
