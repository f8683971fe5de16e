/**
 * Serving /hallmark/sync/1.0.0 to a peer: one request and one response per stream, within the
 * peer's stream cap and quota, and refused as `busy` under memory pressure (serving others is the
 * first work to go). A malformed or oversized request costs the peer score.
 */
import type { Stream } from '@libp2p/interface';
import type { P2PConfig, PenaltyReason } from './config.ts';
import { messageStream } from './host.ts';
import type { MemoryMonitor } from './memory.ts';
import type { PeerRateLimiter } from './rate-limit.ts';
import { decodeSyncRequest, encodeSyncResponse, serveSyncRequest, type SyncSource } from './sync-wire.ts';

/** What serving needs from the network: its limits, state and counters, shared, not copied. */
export interface SyncServer {
  config: P2PConfig;
  limiter: PeerRateLimiter;
  memory: MemoryMonitor;
  handlers: { readonly syncSource: SyncSource };
  counters: { messagesIn: { sync: number }; invalidMessages: number; syncServed: number };
  penalize(peerId: string, reason: PenaltyReason): void;
}

/** Serves one inbound sync stream from peer `id`; nothing the peer sends escapes as an exception. */
export async function serveSync(stream: Stream, id: string, d: SyncServer): Promise<void> {
  const c = d.config;
  if (!d.limiter.openStream(id, 'sync')) {
    stream.abort(new Error('too many sync streams'));
    d.penalize(id, 'stream_limit');
    return;
  }
  const signal = AbortSignal.timeout(c.sync.requestTimeoutMs);
  try {
    const lp = messageStream(stream, c.limits.sync.maxMessageBytes);
    const data = (await lp.read({ signal })).subarray();
    d.counters.messagesIn.sync++;
    let response: Uint8Array;
    const admitted = d.limiter.admit(id, 'sync', data.byteLength);
    if (!admitted.ok) {
      d.penalize(id, 'rate_limited');
      response = encodeSyncResponse({ kind: 'error', code: 'rate_limited', retryAfterMs: Math.ceil(admitted.retryAfterMs) });
    } else if (d.memory.shedsSync()) {
      // Under memory pressure, serving others is the first work to go.
      d.memory.countSyncRefused();
      response = encodeSyncResponse({ kind: 'error', code: 'busy', retryAfterMs: 1_000 });
    } else {
      let req;
      try {
        req = decodeSyncRequest(data);
      } catch (err) {
        d.counters.invalidMessages++;
        d.penalize(id, 'invalid_message');
        throw err;
      }
      response = await serveSyncRequest(req, d.handlers.syncSource, c.limits.sync.maxMessageBytes);
      d.counters.syncServed++;
    }
    await lp.write(response, { signal });
    await stream.close({ signal });
  } catch (err) {
    const e = err as Error & { name?: string };
    if (e.name === 'InvalidDataLengthError' || (e as { code?: string }).code === 'message_malformed') d.penalize(id, 'oversized_message');
    stream.abort(e);
  } finally {
    d.limiter.closeStream(id, 'sync');
  }
}
