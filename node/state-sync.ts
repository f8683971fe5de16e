/**
 * Joining a running network by state snapshot (`hallmark start --sync snapshot`), before the node
 * opens its tree and starts consensus:
 *
 *   1. a libp2p host of its own asks the peers what snapshots they offer (node/snapshot-trust.ts);
 *   2. the newest snapshot offered by at least `min_peers` peers is proven: its root must be the
 *      one in the header after it, signed by +2/3 of the genesis validators (else the next
 *      candidate is tried);
 *   3. its chunks are fetched from every peer that offers it at once (p2p/chunk-fetch.ts), each
 *      verified alone against that root on arrival (state/snapshot.ts) and written into the tree
 *      bottom-up (state/restore.ts), beside the indexes rebuilt from its keys: the contract storage
 *      index and the model name index are never taken from a peer;
 *   4. the top of the tree, its root record, the chain head, the commit of the snapshot's height and
 *      the data directory's marker are written in one batch.
 *
 * Then the node opens as if it had executed up to the snapshot's height, and block sync carries it
 * to the tip. A restart during step 3 resumes with the chunks already written. With no usable
 * snapshot (none offered, none proven, or its peers all gone) the node says so and falls back to
 * block sync from genesis, discarding any partial restore.
 */
import { equalBytes, toHex } from '../chain/bytes.ts';
import type { Level } from 'level';
import cliProgress from 'cli-progress';
import type { ValidatorSet } from '../consensus/validators.ts';
import { BlockStore } from '../execution/block-store.ts';
import { STORAGE_INDEX, storageIndexOps } from '../execution/contracts.ts';
import { encodeHead, HEAD_KEY } from '../execution/head.ts';
import { NAME_INDEX, nameIndexOps } from '../execution/model-names.ts';
import { genesisHash, type Genesis } from '../genesis/genesis.ts';
import { ChunkFetcher, ChunkFetchError, ChunkRejected } from '../p2p/chunk-fetch.ts';
import type { NodeKey } from '../p2p/identity.ts';
import { Network } from '../p2p/network.ts';
import { SnapshotError, verifyChunk } from '../state/snapshot.ts';
import { restoreInProgress, TreeRestore } from '../state/restore.ts';
import type { NodeConfig } from './config.ts';
import { markerOps } from './data-dir.ts';
import type { Logger } from './log.ts';
import { discoverSnapshots, trustedSnapshot, TrustError, type Candidate, type TrustedSnapshot } from './snapshot-trust.ts';

/** What state sync did, for the log and metrics. */
export interface StateSyncStats {
  outcome: 'restored' | 'fallback' | 'none';
  height: number;
  chunks: number;
  chunksFetched: number;
  bytes: number;
  badChunks: number;
  timeouts: number;
  seconds: number;
  /** Penalties given while joining, by peer id (bad offers, bad blocks, bad chunks, timeouts). */
  penalties: Record<string, number>;
}

export interface StateSyncOptions {
  db: Level<Uint8Array, Uint8Array>;
  genesis: Genesis;
  validators: ValidatorSet;
  config: NodeConfig;
  nodeKey: NodeKey;
  log: Logger;
  /** Show a progress bar (default: when stderr is a TTY and the log is text). */
  progressBar?: boolean;
}

const noHandlers = {
  onStatus() {}, onProposal: () => null, onVotes: () => null, onTxs: async () => null, onPeerReady() {}, onPeerGone() {},
  syncSource: { head: () => 0, block: async () => undefined },
};

/** Restores the newest proven snapshot into the empty database `db`, or falls back (and says why). */
export async function stateSync(o: StateSyncOptions): Promise<StateSyncStats> {
  const started = performance.now();
  const stats: StateSyncStats = { outcome: 'none', height: 0, chunks: 0, chunksFetched: 0, bytes: 0, badChunks: 0, timeouts: 0, seconds: 0, penalties: {} };
  const log = o.log.child({ module: 'statesync' });
  const pending = await restoreInProgress(o.db);
  const s = o.config.sync;
  const network = await Network.start({
    config: o.config.p2p, nodeKey: o.nodeKey, genesisHash: genesisHash(o.genesis), maxTxBytes: o.config.mempool.maxTxBytes, handlers: noHandlers, log,
  });
  // Every penalty of this run is counted by peer, for the log and the tests.
  const penalize = (peer: string) => {
    stats.penalties[peer] = (stats.penalties[peer] ?? 0) + 1;
    network.penalize(peer, 'bad_sync_response');
  };
  try {
    if (pending) log.info('resuming an interrupted snapshot restore', { height: pending.version, chunks_done: pending.done });
    log.info('looking for state snapshots', { discovery_ms: s.discoveryMs, min_peers: s.minPeers });
    const candidates = (await discoverSnapshots({
      network, protocolVersion: o.genesis.protocolVersion, discoveryMs: s.discoveryMs, expectPeers: o.config.p2p.persistentPeers.length, penalize, log,
    })).filter((c) => c.peers.size >= s.minPeers);
    // An interrupted restore is finished from the same snapshot if anyone still offers it.
    if (pending) candidates.sort((a, b) => Number(matches(b, pending)) - Number(matches(a, pending)));
    const problems: string[] = [];
    for (const c of candidates) {
      let trusted: TrustedSnapshot;
      try {
        trusted = await trustedSnapshot(network, o.genesis.chainId, o.validators, c.offer.height, c.peers, penalize, log);
      } catch (err) {
        if (!(err instanceof TrustError)) throw err;
        problems.push(`height ${c.offer.height}: ${err.message}`);
        continue;
      }
      if (!equalBytes(trusted.head.stateRoot, c.offer.root)) {
        log.warn('refusing a snapshot whose root the validators did not sign', { height: c.offer.height, offered: toHex(c.offer.root), signed: toHex(trusted.head.stateRoot) });
        for (const p of c.peers) penalize(p);
        problems.push(`height ${c.offer.height}: offered root ${toHex(c.offer.root).slice(0, 16)}… is not the signed ${toHex(trusted.head.stateRoot).slice(0, 16)}…`);
        continue;
      }
      if (pending && !matches(c, pending)) {
        log.warn('the interrupted restore is offered by no peer; starting over', { height: pending.version });
        await discard(o.db);
      }
      try {
        await restore(o, network, c, trusted, stats, penalize, log);
      } catch (err) {
        // No peer left for a chunk, or chunks that do not tile the keyspace: the next snapshot, from scratch.
        if (!(err instanceof ChunkFetchError || err instanceof SnapshotError)) throw err;
        problems.push(`height ${c.offer.height}: ${err.message}`);
        log.warn('snapshot sync failed; trying the next snapshot', { height: c.offer.height, error: err.message });
        await discard(o.db);
        continue;
      }
      stats.outcome = 'restored';
      stats.seconds = (performance.now() - started) / 1000;
      log.info('restored the state from a snapshot', {
        height: stats.height, chunks: stats.chunks, fetched: stats.chunksFetched, mib: Number((stats.bytes / 2 ** 20).toFixed(1)),
        bad_chunks: stats.badChunks, seconds: Number(stats.seconds.toFixed(1)),
      });
      return stats;
    }
    const why = candidates.length === 0 ? `no peer offered a snapshot (${s.minPeers} peer(s) must offer the same one)` : problems.join('; ');
    log.warn('no usable state snapshot: falling back to block sync from genesis', { reason: why });
    await discard(o.db);
    stats.outcome = 'fallback';
    stats.seconds = (performance.now() - started) / 1000;
    return stats;
  } finally {
    await network.close();
  }
}

function matches(c: Candidate, pending: { version: number; root: Uint8Array }): boolean {
  return c.offer.height === pending.version && equalBytes(c.offer.root, pending.root);
}

/** Removes a partial restore: the tree's records and the indexes rebuilt beside it. */
async function discard(db: Level<Uint8Array, Uint8Array>): Promise<void> {
  await TreeRestore.abandon(db);
  for (const p of [STORAGE_INDEX, NAME_INDEX]) await db.clear({ gte: Uint8Array.of(p), lt: Uint8Array.of(p + 1) });
}

async function restore(
  o: StateSyncOptions, network: Network, c: Candidate, trusted: TrustedSnapshot, stats: StateSyncStats, penalize: (peer: string) => void, log: Logger,
): Promise<void> {
  const { height, root, chunks } = c.offer;
  const s = o.config.sync;
  const tree = await TreeRestore.begin(o.db, { version: height, root });
  Object.assign(stats, { height, chunks });
  log.info('restoring a state snapshot', { height, root: toHex(root).slice(0, 16), chunks, peers: c.peers.size, done: tree.done.size });
  const progress = progressReporter(o, log, chunks, tree.done.size);
  const fetcher = new ChunkFetcher({
    chunks, done: tree.done, fetchers: s.chunkFetchers, timeoutMs: s.chunkTimeoutMs,
    maxResponseBytes: network.config.limits.snapshot.maxMessageBytes,
    peers: () => network.readyPeers().map((p) => p.id).filter((id) => c.peers.has(id)),
    request: (peer, index, signal) => network.requestSnapshot(peer, { kind: 'chunk', height, index }, signal, s.chunkTimeoutMs),
    accept: async (index, bytes) => {
      let chunk;
      try {
        chunk = verifyChunk(bytes, { root, version: height, index });
        if (chunk.last !== (index === chunks - 1)) throw new ChunkRejected(`chunk ${index} of ${chunks} ${chunk.last ? 'ends' : 'does not end'} the keyspace`);
      } catch (err) {
        if (err instanceof SnapshotError) throw new ChunkRejected(`chunk ${index}: ${err.message}`);
        throw err;
      }
      // The indexes first: a crash before the tree records lands refetches the chunk, and puts are idempotent.
      const indexOps = [...storageIndexOps(chunk.entries.map((e) => [e.key, e.value] as const)), ...nameIndexOps(chunk.entries.map((e) => [e.key, e.value] as const))];
      if (indexOps.length > 0) await o.db.batch(indexOps);
      try {
        await tree.add(chunk);
      } catch (err) {
        // A true chunk re-sent under another index: its range does not meet its neighbours'.
        if (err instanceof SnapshotError && err.code === 'chunk_range_conflict') throw new ChunkRejected(`chunk ${index}: ${err.message}`);
        throw err;
      }
      stats.chunksFetched++;
      stats.bytes += bytes.byteLength;
      progress.tick(bytes.byteLength);
    },
    penalize,
    log,
  });
  try {
    await fetcher.run();
  } finally {
    stats.badChunks += fetcher.stats.rejected;
    stats.timeouts += fetcher.stats.timeouts;
    progress.stop();
  }
  await tree.finish([
    { type: 'put', key: HEAD_KEY, value: encodeHead(trusted.head) },
    ...new BlockStore(o.db).commitOps(trusted.commit),
    ...markerOps(o.genesis),
  ]);
}

/** A progress bar on a TTY (chunks, MiB, rate, ETA), else a log line every 10% or 5 s. */
function progressReporter(o: StateSyncOptions, log: Logger, total: number, done: number): { tick(bytes: number): void; stop(): void } {
  const t0 = performance.now();
  let chunks = done;
  let bytes = 0;
  const useBar = o.progressBar ?? (process.stderr.isTTY === true && o.config.logFormat === 'text');
  if (useBar) {
    const bar = new cliProgress.SingleBar({
      format: 'state sync |{bar}| {value}/{total} chunks | {mib} MiB | {rate} MiB/s | ETA {eta_formatted}', stream: process.stderr, hideCursor: true,
    });
    bar.start(total, done, { mib: '0.0', rate: '0.0' });
    return {
      tick(n) {
        chunks++;
        bytes += n;
        const mib = bytes / 2 ** 20;
        bar.update(chunks, { mib: mib.toFixed(1), rate: (mib / Math.max(1e-3, (performance.now() - t0) / 1000)).toFixed(1) });
      },
      stop: () => bar.stop(),
    };
  }
  let lastLog = t0;
  let lastPct = Math.floor((100 * done) / total / 10);
  return {
    tick(n) {
      chunks++;
      bytes += n;
      const now = performance.now();
      const pct = Math.floor((100 * chunks) / total / 10);
      if (pct === lastPct && now - lastLog < 5_000 && chunks < total) return;
      lastPct = pct;
      lastLog = now;
      const secs = (now - t0) / 1000;
      const rate = (chunks - done) / Math.max(1e-3, secs);
      log.info('state sync progress', {
        chunks: `${chunks}/${total}`, mib: Number((bytes / 2 ** 20).toFixed(1)), mib_per_s: Number((bytes / 2 ** 20 / Math.max(1e-3, secs)).toFixed(1)),
        eta_s: Math.round((total - chunks) / Math.max(1e-9, rate)),
      });
    },
    stop() {},
  };
}
