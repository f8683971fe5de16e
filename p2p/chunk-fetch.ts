/**
 * Fetching a state snapshot's chunks from several peers at once, independent of the transport (the
 * node passes `request`, which p2p/network.ts sends over /hallmark/snapshot/1.0.0) and of what a
 * chunk is (the node's `accept` verifies each one against the trusted root and writes it).
 *
 * Up to `fetchers` chunks are in flight, each asked of the least loaded peer that offers the
 * snapshot (at most PER_PEER of them at a time, counting chunks it sent that are still being
 * checked, so every serving peer gets a share and a bad one wastes at most PER_PEER transfers). Chunks are
 * accepted one at a time, in whatever order they arrive. A peer that sends a chunk `accept` rejects
 * (corrupt, truncated, another height, a bad proof), garbage, or says it lacks a chunk it offered is
 * penalised and not asked again in this run, and the chunk goes to another peer; a peer that does
 * not answer within `timeoutMs` is penalised and rested, and after STRIKES timeouts dropped; one
 * that says it is busy or rate limited is rested for as long as it asks. The run ends when every
 * chunk is in, or fails when no peer is left that could serve the rest.
 */
import { CodedError } from '../chain/errors.ts';
import type { P2PLog } from './config.ts';
import { RunControl } from './run-control.ts';
import { decodeSnapshotResponse } from './snapshot-wire.ts';
import { SyncError } from './sync-wire.ts';

/** Thrown by `accept` when a chunk is bad: the serving peer's fault. */
export class ChunkRejected extends Error {
  readonly peerFault = true;
}

export class ChunkFetchError extends CodedError<'no_peers' | 'stopped'> {}

export type ChunkPenalty = 'bad_chunk' | 'timeout';

export interface ChunkFetchOptions {
  /** Chunks in the snapshot (indexes 0..chunks-1). */
  chunks: number;
  /** Indexes already written (a resumed restore): not fetched again. */
  done: ReadonlySet<number>;
  /** Peers that offer the snapshot, read again as the run goes (peers come and go). */
  peers(): string[];
  /** Asks `peer` for chunk `index`; resolves with the raw response bytes. */
  request(peer: string, index: number, signal: AbortSignal): Promise<Uint8Array>;
  /** Verifies and writes chunk `index`; rejects with ChunkRejected if the chunk is bad, anything else is local. */
  accept(index: number, chunk: Uint8Array, peer: string): Promise<void>;
  penalize(peer: string, reason: ChunkPenalty): void;
  /** Chunks in flight at once, over all peers. */
  fetchers: number;
  timeoutMs: number;
  /** Largest response accepted, in bytes. */
  maxResponseBytes: number;
  log?: P2PLog;
  now?: () => number;
}

/** Requests in flight to one peer at once. */
const PER_PEER = 2;
/** Timeouts after which a peer is no longer asked in this run. */
const STRIKES = 2;
const MIN_REST_MS = 100;
const NO_LOG: P2PLog = { info() {}, warn() {}, debug() {} };

export class ChunkFetcher {
  readonly #o: ChunkFetchOptions;
  readonly #log: P2PLog;
  readonly #now: () => number;
  readonly stats = { requests: 0, accepted: 0, rejected: 0, timeouts: 0, bytes: 0 };
  readonly bad = new Set<string>();
  readonly #run = new RunControl();

  constructor(o: ChunkFetchOptions) {
    if (!(Number.isSafeInteger(o.chunks) && o.chunks >= 1 && o.fetchers >= 1 && o.timeoutMs > 0)) throw new RangeError('chunk fetch: chunks, fetchers and timeoutMs must be positive');
    this.#o = o;
    this.#log = o.log ?? NO_LOG;
    this.#now = o.now ?? Date.now;
  }

  stop(): void {
    this.#run.stop(new ChunkFetchError('stopped', 'snapshot fetch stopped'));
  }

  /** Fetches every chunk not in `done`; resolves when all are accepted. */
  async run(): Promise<void> {
    const o = this.#o;
    const missing: number[] = [];
    for (let i = 0; i < o.chunks; i++) if (!o.done.has(i)) missing.push(i);
    const inflight = new Map<number, string>();
    const load = new Map<string, number>();
    const restUntil = new Map<string, number>();
    const strikes = new Map<string, number>();
    let accepting: Promise<void> = Promise.resolve();
    let failure: Error | null = null;
    let remaining = missing.length;
    const requeue = (index: number) => {
      missing.push(index);
      missing.sort((a, b) => a - b);
    };
    const drop = (peer: string, why: string) => {
      this.bad.add(peer);
      this.#log.warn('snapshot peer dropped', { peer, reason: why });
    };

    const take = (index: number, peer: string, raw: Uint8Array) => {
      let response;
      try {
        response = decodeSnapshotResponse(raw, o.maxResponseBytes);
      } catch (err) {
        if (!(err instanceof SyncError)) throw err;
        this.stats.rejected++;
        o.penalize(peer, 'bad_chunk');
        drop(peer, err.message);
        return requeue(index);
      }
      if (response.kind !== 'chunk') {
        if (response.kind === 'error' && response.code !== 'unavailable') {
          restUntil.set(peer, this.#now() + Math.max(MIN_REST_MS, response.retryAfterMs));
        } else {
          // It offered the snapshot but lacks the chunk (pruned meanwhile?), or answered nonsense.
          if (response.kind !== 'error') o.penalize(peer, 'bad_chunk');
          drop(peer, response.kind === 'error' ? `chunk ${index} unavailable` : 'answered a chunk request with offers');
        }
        return requeue(index);
      }
      const chunk = response.chunk;
      // The peer's share stays taken until the chunk is judged: a peer sending bad chunks gets at
      // most PER_PEER of them in before it is dropped.
      load.set(peer, (load.get(peer) ?? 0) + 1);
      accepting = accepting.then(async () => {
        if (this.#run.stopped) return;
        try {
          await o.accept(index, chunk, peer);
          this.stats.accepted++;
          this.stats.bytes += chunk.byteLength;
          remaining--;
        } catch (err) {
          if (!(err instanceof ChunkRejected)) throw err;
          this.stats.rejected++;
          this.#log.warn('peer served a bad snapshot chunk', { peer, index, error: err.message });
          o.penalize(peer, 'bad_chunk');
          drop(peer, err.message);
          requeue(index);
        }
      }).catch((err: unknown) => {
        failure ??= err as Error;
      }).finally(() => {
        load.set(peer, (load.get(peer) ?? 1) - 1);
        this.#run.wake();
      });
    };

    const fetch = (index: number, peer: string) => {
      inflight.set(index, peer);
      load.set(peer, (load.get(peer) ?? 0) + 1);
      this.stats.requests++;
      this.#run.request(o.timeoutMs, `no chunk within ${o.timeoutMs} ms`, (signal) => o.request(peer, index, signal)).then(
        (raw) => take(index, peer, raw),
        (err: unknown) => {
          if (this.#run.stopped) return;
          this.stats.timeouts++;
          this.#log.debug('snapshot chunk request failed', { peer, index, error: (err as Error).message });
          o.penalize(peer, 'timeout');
          const n = (strikes.get(peer) ?? 0) + 1;
          strikes.set(peer, n);
          if (n >= STRIKES) drop(peer, `${n} chunk requests failed or timed out`);
          else restUntil.set(peer, this.#now() + o.timeoutMs);
          requeue(index);
        },
      ).catch((err: unknown) => {
        failure ??= err as Error;
      }).finally(() => {
        inflight.delete(index);
        load.set(peer, (load.get(peer) ?? 1) - 1);
        this.#run.wake();
      });
    };

    while (!this.#run.stopped) {
      if (failure !== null) throw failure;
      if (remaining === 0) {
        await accepting;
        if (failure !== null) throw failure;
        return;
      }
      const all = o.peers().filter((p) => !this.bad.has(p));
      const usable = all.filter((p) => (restUntil.get(p) ?? 0) <= this.#now());
      while (missing.length > 0 && inflight.size < o.fetchers) {
        const peer = usable.filter((p) => (load.get(p) ?? 0) < PER_PEER).sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0))[0];
        if (peer === undefined) break;
        fetch(missing.shift()!, peer);
      }
      if (inflight.size === 0 && missing.length > 0) {
        if (all.length === 0) {
          throw new ChunkFetchError('no_peers', `no peer left to serve ${missing.length} snapshot chunk(s): ${this.bad.size} dropped for bad chunks or timeouts`);
        }
        const wait = Math.min(...all.map((p) => restUntil.get(p) ?? 0)) - this.#now();
        await this.#run.wait(Math.max(MIN_REST_MS, wait));
        continue;
      }
      await this.#run.wait();
    }
    throw new ChunkFetchError('stopped', 'snapshot fetch stopped');
  }
}
