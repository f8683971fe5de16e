/**
 * Block sync: catching up by fetching blocks with their commits from peers, independent of the
 * transport (the node passes `request`, which p2p/network.ts sends over /hallmark/sync/1.0.0).
 *
 * Ranges of `blocksPerRequest` heights are asked of several peers at once (up to
 * `maxInflightRequests`, each to the least loaded peer whose reported head covers the range);
 * blocks are applied strictly in height order, out-of-order arrivals held in a bounded window.
 * `apply` verifies (the executor checks each commit's signatures as one batch against the
 * validator set) and rejects with SyncRejected when the block or commit is bad. A peer that serves
 * a bad block, garbage, the wrong heights or nothing it claimed to have is penalised, not asked
 * again in this run, and its ranges go to other peers; a peer that times out or says it is busy or
 * rate limited is rested for a while. The run ends when the applied head reaches the best head the
 * peers report (read again as it goes, since they keep committing).
 */
import { CodedError } from '../chain/errors.ts';
import type { P2PLog, SyncConfig } from './config.ts';
import { RunControl } from './run-control.ts';
import { decodeSyncResponse, SyncError, type SyncBlock } from './sync-wire.ts';

/** Thrown by `apply` when the block or its commit is invalid: the serving peer's fault. */
export class SyncRejected extends Error {
  readonly peerFault = true;
}

export class BlockSyncError extends CodedError<'no_peers' | 'stopped'> {}

export type SyncPenalty = 'bad_sync_response' | 'timeout';

export interface BlockSyncOptions {
  config: SyncConfig;
  /** Asks `peerId` for blocks from..from+count-1 and resolves with the raw response bytes. */
  request(peerId: string, from: number, count: number, signal: AbortSignal): Promise<Uint8Array>;
  /** Verifies and applies one block; rejects with SyncRejected if it is bad, anything else is local. */
  apply(height: number, block: Uint8Array, commit: Uint8Array): Promise<void>;
  penalize(peerId: string, reason: SyncPenalty): void;
  /** Largest response accepted, in bytes. */
  maxResponseBytes?: number;
  log?: P2PLog;
  now?: () => number;
}

export interface SyncPeer {
  id: string;
  height: number;
}

interface Held extends SyncBlock {
  peer: string;
}

const NO_LOG: P2PLog = { info() {}, warn() {}, debug() {} };
/** A peer that timed out or said busy rests at least this long. */
const MIN_REST_MS = 100;

export class BlockSync {
  readonly #o: BlockSyncOptions;
  readonly #log: P2PLog;
  readonly #now: () => number;
  readonly stats = { requests: 0, blocksApplied: 0, badResponses: 0, timeouts: 0 };
  readonly #run = new RunControl();

  constructor(o: BlockSyncOptions) {
    const c = o.config;
    if (!(c.blocksPerRequest >= 1 && c.maxInflightRequests >= 1 && c.requestTimeoutMs > 0)) throw new RangeError('sync config: blocksPerRequest, maxInflightRequests and requestTimeoutMs must be positive');
    this.#o = o;
    this.#log = o.log ?? NO_LOG;
    this.#now = o.now ?? Date.now;
  }

  /** Ends a run: in-flight requests are aborted and run() resolves with what was applied. */
  stop(): void {
    this.#run.stop(new BlockSyncError('stopped', 'block sync stopped'));
  }

  /** Fetches and applies blocks from `from` until caught up with the best head `peers()` reports. */
  async run(from: number, peers: () => SyncPeer[]): Promise<{ head: number; applied: number }> {
    const { blocksPerRequest: per, maxInflightRequests: maxInflight } = this.#o.config;
    const window = per * maxInflight * 2;
    let next = from;
    let applied = 0;
    const held = new Map<number, Held>();
    const inflight = new Map<number, { count: number; peer: string }>();
    const load = new Map<string, number>();
    const bad = new Set<string>();
    const restUntil = new Map<string, number>();
    let failure: Error | null = null;

    const covered = (h: number) => held.has(h) || [...inflight].some(([s, r]) => h >= s && h < s + r.count);
    const usable = (p: SyncPeer) => !bad.has(p.id) && (restUntil.get(p.id) ?? 0) <= this.#now();

    const fetch = (start: number, count: number, peer: string) => {
      inflight.set(start, { count, peer });
      load.set(peer, (load.get(peer) ?? 0) + 1);
      this.stats.requests++;
      const timeoutMs = this.#o.config.requestTimeoutMs;
      this.#run.request(timeoutMs, `no answer within ${timeoutMs} ms`, (signal) => this.#o.request(peer, start, count, signal)).then(
        (raw) => this.#take(raw, start, count, peer, held, bad, restUntil),
        (err: unknown) => {
          if (this.#run.stopped) return;
          this.stats.timeouts++;
          this.#log.debug('block sync request failed', { peer, from: start, error: (err as Error).message });
          this.#o.penalize(peer, 'timeout');
          restUntil.set(peer, this.#now() + Math.max(MIN_REST_MS, this.#o.config.requestTimeoutMs));
        },
      ).catch((err: unknown) => {
        failure = err as Error;
      }).finally(() => {
        inflight.delete(start);
        load.set(peer, (load.get(peer) ?? 1) - 1);
        this.#run.wake();
      });
    };

    while (!this.#run.stopped) {
      if (failure !== null) throw failure;
      // Apply what is ready, in order.
      for (let b = held.get(next); b !== undefined && !this.#run.stopped; b = held.get(next)) {
        held.delete(next);
        try {
          await this.#o.apply(next, b.block, b.commit);
        } catch (err) {
          if (!(err instanceof SyncRejected)) throw err;
          this.stats.badResponses++;
          this.#log.warn('peer served a bad block', { peer: b.peer, height: next, error: err.message });
          this.#o.penalize(b.peer, 'bad_sync_response');
          bad.add(b.peer);
          for (const [h, x] of held) if (x.peer === b.peer) held.delete(h);
          break;
        }
        this.stats.blocksApplied++;
        applied++;
        next++;
      }
      if (this.#run.stopped) break;

      const all = peers();
      const good = all.filter((p) => !bad.has(p.id));
      if (good.length === 0) {
        throw new BlockSyncError('no_peers', all.length === 0 ? `no peers to sync block ${next} from` : `no peer can serve block ${next}: ${bad.size} served bad data`);
      }
      const target = good.reduce((m, p) => Math.max(m, p.height), 0);
      if (next > target) return { head: next - 1, applied };
      // Ask for every uncovered range in the window, each of the least loaded peer that has it.
      const candidates = all.filter(usable);
      for (let h = next; h <= Math.min(target, next + window - 1) && inflight.size < maxInflight; h++) {
        if (covered(h)) continue;
        const owners = candidates.filter((p) => p.height >= h).sort((a, b) => (load.get(a.id) ?? 0) - (load.get(b.id) ?? 0));
        if (owners.length === 0) break;
        let count = 1;
        while (count < per && h + count <= Math.min(target, owners[0]!.height) && !covered(h + count)) count++;
        fetch(h, count, owners[0]!.id);
        h += count - 1;
      }
      if (inflight.size === 0 && !held.has(next)) {
        const resting = all.filter((p) => !bad.has(p.id) && p.height >= next).map((p) => restUntil.get(p.id) ?? 0);
        if (resting.length === 0) {
          throw new BlockSyncError('no_peers', `no peer can serve block ${next}: ${bad.size > 0 ? `${bad.size} served bad data` : 'none reports it'}`);
        }
        // Everyone who has it is resting: wait for the first to be usable again.
        await this.#run.wait(Math.max(MIN_REST_MS, Math.min(...resting) - this.#now()));
        continue;
      }
      if (!held.has(next)) await this.#run.wait();
    }
    return { head: next - 1, applied };
  }

  #take(raw: Uint8Array, start: number, count: number, peer: string, held: Map<number, Held>, bad: Set<string>, restUntil: Map<string, number>): void {
    if (this.#run.stopped) return;
    const fault = (why: string) => {
      this.stats.badResponses++;
      this.#log.warn('bad block sync response', { peer, from: start, reason: why });
      this.#o.penalize(peer, 'bad_sync_response');
      bad.add(peer);
    };
    let response;
    try {
      response = decodeSyncResponse(raw, this.#o.maxResponseBytes ?? 64 << 20);
    } catch (err) {
      if (err instanceof SyncError) return fault(err.message);
      throw err;
    }
    if (response.kind === 'error') {
      // Busy or rate limited is the server protecting itself, not a fault: ask it again later.
      restUntil.set(peer, this.#now() + Math.max(MIN_REST_MS, response.retryAfterMs));
      return;
    }
    // It reported a head covering `start`, so it must have at least that block.
    if (response.blocks.length === 0) return fault(`no blocks from ${start}, though it reported them`);
    if (response.blocks.length > count) return fault(`${response.blocks.length} blocks for a request of ${count}`);
    response.blocks.forEach((b, i) => held.set(start + i, { ...b, peer }));
  }
}
