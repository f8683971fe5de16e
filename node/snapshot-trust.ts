/**
 * What a node joining by snapshot believes, and why: the snapshots its peers offer, and the state
 * root the validators signed at a snapshot's height.
 *
 * An offer is only a claim. The root a snapshot must have is read from the header of the block
 * after it (block H+1 carries the state root after block H), and that header is believed only with
 * a commit for it holding +2/3 of the genesis validators' power in valid signatures; block H itself
 * is believed because H+1 names its hash, and the commit for H (H+1's last commit) is checked too,
 * because the restored node stores it for its first proposal. A peer that offers a root the
 * validators did not sign, or serves blocks that do not check, is penalised.
 */
import { blockHash, decodeBlock, type Block } from '../chain/block.ts';
import { equalBytes, toHex } from '../chain/bytes.ts';
import { CodecError } from '../chain/codec.ts';
import { decodeCommit, type Commit } from '../chain/vote.ts';
import type { ValidatorSet } from '../consensus/validators.ts';
import { CommitError, verifyCommit } from '../consensus/verify.ts';
import type { ChainHead } from '../execution/head.ts';
import type { Network } from '../p2p/network.ts';
import { decodeSnapshotResponse, type SnapshotOffer } from '../p2p/snapshot-wire.ts';
import { decodeSyncResponse, SyncError } from '../p2p/sync-wire.ts';
import { SNAPSHOT_FORMAT } from '../state/snapshot.ts';
import type { Logger } from './log.ts';

/** A snapshot and the peers that offer it. */
export interface Candidate {
  offer: SnapshotOffer;
  peers: Set<string>;
}

/** The state a verified snapshot restores to, and the commit the restored node keeps for height H. */
export interface TrustedSnapshot {
  head: ChainHead;
  commit: Commit;
}

export interface DiscoverOptions {
  network: Network;
  protocolVersion: number;
  /** How long to collect offers. */
  discoveryMs: number;
  /** Stop early once this many peers have answered (the configured persistent peers). */
  expectPeers: number;
  penalize(peer: string): void;
  log: Logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Asks every ready peer for its snapshots; returns the snapshots of our format and protocol, newest first. */
export async function discoverSnapshots(o: DiscoverOptions): Promise<Candidate[]> {
  const net = o.network;
  const limit = net.config.limits.snapshot.maxMessageBytes;
  const byKey = new Map<string, Candidate>();
  const asked = new Set<string>();
  let answered = 0;
  const deadline = Date.now() + o.discoveryMs;
  while (Date.now() < deadline) {
    const fresh = net.readyPeers().map((p) => p.id).filter((id) => !asked.has(id));
    await Promise.all(fresh.map(async (id) => {
      asked.add(id);
      try {
        const raw = await net.requestSnapshot(id, { kind: 'list' }, AbortSignal.timeout(net.config.sync.requestTimeoutMs));
        const r = decodeSnapshotResponse(raw, limit);
        answered++;
        if (r.kind !== 'offers') return;
        for (const offer of r.offers) {
          if (offer.format !== SNAPSHOT_FORMAT || offer.protocolVersion !== o.protocolVersion) continue;
          const key = `${offer.height}/${toHex(offer.root)}/${offer.chunks}`;
          const c = byKey.get(key) ?? { offer, peers: new Set<string>() };
          c.peers.add(id);
          byKey.set(key, c);
        }
      } catch (err) {
        if (err instanceof SyncError) o.penalize(id);
        o.log.debug('no snapshot offers from a peer', { peer: id, error: (err as Error).message });
      }
    }));
    if (o.expectPeers > 0 && answered >= o.expectPeers) break;
    await sleep(100);
  }
  return [...byKey.values()].sort((a, b) => b.offer.height - a.offer.height || b.peers.size - a.peers.size);
}

export class TrustError extends Error {}

/**
 * The head after block `height`, proven: blocks H and H+1 from one of `peers` (then any ready peer
 * that has them), H+1 with a +2/3 commit of `validators`. Throws TrustError when no peer serves
 * blocks that check.
 */
export async function trustedSnapshot(
  net: Network, chainId: string, validators: ValidatorSet, height: number, peers: Iterable<string>, penalize: (peer: string) => void, log: Logger,
): Promise<TrustedSnapshot> {
  const tried = new Set<string>();
  const order = [...peers, ...net.readyPeers().filter((p) => p.height > height).map((p) => p.id)];
  const problems: string[] = [];
  for (const peer of order) {
    if (tried.has(peer)) continue;
    tried.add(peer);
    let blocks;
    try {
      const raw = await net.requestBlocks(peer, height, 2, AbortSignal.timeout(net.config.sync.requestTimeoutMs));
      const r = decodeSyncResponse(raw, net.config.limits.sync.maxMessageBytes);
      if (r.kind === 'error' || r.blocks.length < 2) {
        problems.push(`${peer.slice(-8)}: does not have blocks ${height} and ${height + 1}`);
        continue;
      }
      blocks = r.blocks;
    } catch (err) {
      if (err instanceof SyncError) penalize(peer);
      problems.push(`${peer.slice(-8)}: ${(err as Error).message}`);
      continue;
    }
    try {
      return checkSnapshotBlocks(chainId, validators, height, decodeBlock(blocks[0]!.block), decodeBlock(blocks[1]!.block), decodeCommit(blocks[1]!.commit));
    } catch (err) {
      if (!(err instanceof TrustError || err instanceof CommitError || err instanceof CodecError)) throw err;
      log.warn('a peer served blocks that do not prove a snapshot height', { peer, height, error: err.message });
      penalize(peer);
      problems.push(`${peer.slice(-8)}: ${err.message}`);
    }
  }
  throw new TrustError(`no peer proved the state at height ${height}${problems.length > 0 ? `: ${problems.join('; ')}` : ''}`);
}

/** Blocks H and H+1 and the commit of H+1 prove the head after H; throws TrustError or CommitError if they do not. */
export function checkSnapshotBlocks(chainId: string, validators: ValidatorSet, height: number, b: Block, next: Block, commit: Commit): TrustedSnapshot {
  const h = b.header;
  const n = next.header;
  if (h.height !== height || n.height !== height + 1) throw new TrustError(`blocks of heights ${h.height} and ${n.height}, asked for ${height} and ${height + 1}`);
  if (h.chainId !== chainId || n.chainId !== chainId) throw new TrustError('blocks of another chain');
  const hash = blockHash(h);
  if (!equalBytes(n.lastBlockHash, hash)) throw new TrustError(`block ${height + 1} does not follow the block ${height} served`);
  verifyCommit(chainId, validators, commit, { height: height + 1, blockHash: blockHash(n) });
  if (next.lastCommit === null) throw new TrustError(`block ${height + 1} has no last commit`);
  verifyCommit(chainId, validators, next.lastCommit, { height, blockHash: hash });
  return {
    head: { chainId, height, blockHash: hash, stateRoot: n.stateRoot, resultsHash: n.lastResultsHash, time: h.time },
    commit: next.lastCommit,
  };
}
