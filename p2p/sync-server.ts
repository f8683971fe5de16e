/**
 * Serving the request/response protocols a node answers for others, /hallmark/sync/1.0.0 (blocks)
 * and /hallmark/snapshot/1.0.0 (state snapshots): one request and one response per stream, within
 * the peer's stream cap and quota for that protocol, and refused as `busy` under memory pressure
 * (serving others is the first work to go). Snapshot chunks are the lowest priority of all: beside
 * the per-peer quota, at most MAX_CHUNK_READS are read at once and `snapshot_chunks_per_s` are
 * served per second over all peers, so a crowd of syncing nodes cannot keep the disk and the event
 * loop (Noise encrypts every byte on it) from consensus. A malformed or oversized
 * request costs the peer score.
 */
import type { Stream } from '@libp2p/interface';
import type { P2PConfig, PenaltyReason } from './config.ts';
import { messageStream } from './host.ts';
import type { MemoryMonitor } from './memory.ts';
import type { Gcra, PeerRateLimiter } from './rate-limit.ts';
import { decodeSnapshotRequest, encodeSnapshotResponse, serveSnapshotRequest, type SnapshotSource } from './snapshot-wire.ts';
import { decodeSyncRequest, encodeSyncResponse, serveSyncRequest, type SyncErrorCode, type SyncSource } from './sync-wire.ts';

/** Snapshot chunks being read and sent at once, over all peers. */
export const MAX_CHUNK_READS = 2;

/** What serving needs from the network: its limits, state and counters, shared, not copied. */
export interface SyncServer {
  config: P2PConfig;
  limiter: PeerRateLimiter;
  memory: MemoryMonitor;
  handlers: { readonly syncSource: SyncSource; readonly snapshotSource?: SnapshotSource };
  counters: { messagesIn: { sync: number; snapshot: number }; invalidMessages: number; syncServed: number; snapshotChunksServed: number };
  /** Snapshot chunks being read and sent now. */
  inflight: { chunks: number };
  /** Snapshot chunks served per second over all peers ([p2p] snapshot_chunks_per_s). */
  chunkBudget: Gcra;
  penalize(peerId: string, reason: PenaltyReason): void;
}

export type ServedProtocol = 'sync' | 'snapshot';

/** One protocol's request decoding, answer and error encoding. */
function answer(protocol: ServedProtocol, d: SyncServer): { error(code: SyncErrorCode, retryAfterMs: number): Uint8Array; serve(data: Uint8Array): Promise<Uint8Array> } {
  if (protocol === 'sync') {
    return {
      error: (code, retryAfterMs) => encodeSyncResponse({ kind: 'error', code, retryAfterMs }),
      serve: async (data) => {
        const response = await serveSyncRequest(decodeSyncRequest(data), d.handlers.syncSource, d.config.limits.sync.maxMessageBytes);
        d.counters.syncServed++;
        return response;
      },
    };
  }
  const error = (code: SyncErrorCode, retryAfterMs: number) => encodeSnapshotResponse({ kind: 'error', code, retryAfterMs });
  return {
    error,
    serve: async (data) => {
      const req = decodeSnapshotRequest(data);
      const source = d.handlers.snapshotSource;
      if (source === undefined) return error('unavailable', 0);
      if (req.kind === 'list') return serveSnapshotRequest(req, source);
      // Asking for what the node does not offer costs it nothing, and the asker no budget.
      if (!source.list().some((o) => o.height === req.height && req.index < o.chunks)) return error('unavailable', 0);
      if (d.inflight.chunks >= MAX_CHUNK_READS) return error('busy', 250);
      const wait = d.chunkBudget.take(1, performance.now());
      if (wait > 0) return error('busy', wait);
      d.inflight.chunks++;
      try {
        const response = await serveSnapshotRequest(req, source);
        d.counters.snapshotChunksServed++;
        return response;
      } finally {
        d.inflight.chunks--;
      }
    },
  };
}

/** Serves one inbound stream of `protocol` from peer `id`; nothing the peer sends escapes as an exception. */
export async function serveRequest(protocol: ServedProtocol, stream: Stream, id: string, d: SyncServer): Promise<void> {
  const c = d.config;
  if (!d.limiter.openStream(id, protocol)) {
    stream.abort(new Error(`too many ${protocol} streams`));
    d.penalize(id, 'stream_limit');
    return;
  }
  const a = answer(protocol, d);
  const signal = AbortSignal.timeout(c.sync.requestTimeoutMs);
  try {
    const lp = messageStream(stream, c.limits[protocol].maxMessageBytes);
    const data = (await lp.read({ signal })).subarray();
    d.counters.messagesIn[protocol]++;
    let response: Uint8Array;
    const admitted = d.limiter.admit(id, protocol, data.byteLength);
    if (!admitted.ok) {
      d.penalize(id, 'rate_limited');
      response = a.error('rate_limited', Math.ceil(admitted.retryAfterMs));
    } else if (d.memory.shedsSync()) {
      // Under memory pressure, serving others is the first work to go.
      d.memory.countSyncRefused();
      response = a.error('busy', 1_000);
    } else {
      try {
        response = await a.serve(data);
      } catch (err) {
        if ((err as { code?: string }).code === 'sync_malformed') {
          d.counters.invalidMessages++;
          d.penalize(id, 'invalid_message');
        }
        throw err;
      }
    }
    await lp.write(response, { signal });
    await stream.close({ signal });
  } catch (err) {
    const e = err as Error & { name?: string };
    if (e.name === 'InvalidDataLengthError' || (e as { code?: string }).code === 'message_malformed') d.penalize(id, 'oversized_message');
    stream.abort(e);
  } finally {
    d.limiter.closeStream(id, protocol);
  }
}
