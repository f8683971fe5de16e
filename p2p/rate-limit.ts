/**
 * Per-peer, per-protocol quotas. Each peer gets, for each protocol, a GCRA bucket for messages and
 * one for bytes, and a count of open inbound streams.
 *
 * GCRA (the generic cell rate algorithm) keeps one number per bucket, the theoretical arrival time
 * (TAT): a cost is admitted when TAT - now <= burst interval, and moves TAT by cost * interval.
 * It is a token bucket without the refill bookkeeping, so a check is a few arithmetic operations.
 */
import type { ProtocolLimits, ProtocolName, Quota } from './config.ts';

/** One GCRA bucket: `perSecond` sustained, up to `burst` at once. */
export class Gcra {
  /** ms one unit of cost takes to be paid off. */
  readonly #interval: number;
  /** How far ahead of now the TAT may run: what a full burst uses. */
  readonly #tolerance: number;
  readonly burst: number;
  #tat = 0;

  constructor(quota: Quota) {
    for (const [k, v] of [['perSecond', quota.perSecond], ['burst', quota.burst]] as const) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`quota ${k}: expected a positive finite number, got ${String(v)}`);
    }
    this.#interval = 1000 / quota.perSecond;
    this.#tolerance = quota.burst * this.#interval;
    this.burst = quota.burst;
  }

  /** Would `cost` be admitted at `nowMs`? 0 if so, else the ms until it would be. Takes nothing. */
  wait(cost: number, nowMs: number): number {
    // A cost above the burst is never admitted: no amount of waiting makes room for it.
    if (cost > this.burst) return Infinity;
    const tat = Math.max(this.#tat, nowMs);
    const next = tat + cost * this.#interval;
    const over = next - nowMs - this.#tolerance;
    return over > 0 ? over : 0;
  }

  /** Admits `cost` at `nowMs` and returns 0, or returns the ms to wait and takes nothing. */
  take(cost: number, nowMs: number): number {
    const wait = this.wait(cost, nowMs);
    if (wait === 0) this.#tat = Math.max(this.#tat, nowMs) + cost * this.#interval;
    return wait;
  }

  /** True once the bucket is full again (nothing owed): the state can be dropped. */
  idle(nowMs: number): boolean {
    return this.#tat <= nowMs;
  }
}

export type Admission = { ok: true } | { ok: false; reason: 'messages' | 'bytes'; retryAfterMs: number };

interface PeerState {
  buckets: Record<ProtocolName, { messages: Gcra; bytes: Gcra }>;
  streams: Record<ProtocolName, number>;
}

const PROTOCOLS: readonly ProtocolName[] = ['consensus', 'txs', 'sync', 'snapshot'];

export class PeerRateLimiter {
  readonly #limits: Record<ProtocolName, ProtocolLimits>;
  readonly #now: () => number;
  readonly #maxPeers: number;
  readonly #peers = new Map<string, PeerState>();
  readonly drops: Record<ProtocolName, { messages: number; bytes: number; streams: number }> = {
    consensus: { messages: 0, bytes: 0, streams: 0 }, txs: { messages: 0, bytes: 0, streams: 0 }, sync: { messages: 0, bytes: 0, streams: 0 },
    snapshot: { messages: 0, bytes: 0, streams: 0 },
  };

  constructor(limits: Record<ProtocolName, ProtocolLimits>, opts: { now?: () => number; maxPeers?: number } = {}) {
    for (const name of PROTOCOLS) {
      // Checked here so a bad quota fails at start, not on the first message.
      new Gcra(limits[name].messages);
      new Gcra(limits[name].bytes);
    }
    this.#limits = limits;
    this.#now = opts.now ?? (() => performance.now());
    this.#maxPeers = opts.maxPeers ?? 4096;
  }

  #peer(id: string): PeerState {
    let p = this.#peers.get(id);
    if (p === undefined) {
      if (this.#peers.size >= this.#maxPeers) this.#evictIdle();
      p = {
        buckets: Object.fromEntries(PROTOCOLS.map((n) => [n, { messages: new Gcra(this.#limits[n].messages), bytes: new Gcra(this.#limits[n].bytes) }])) as PeerState['buckets'],
        streams: { consensus: 0, txs: 0, sync: 0, snapshot: 0 },
      };
      this.#peers.set(id, p);
    }
    return p;
  }

  /**
   * Forgets peers owing nothing and holding no streams (and, if still full, the oldest). The oldest
   * by first message, not by use, so not chain/lru.ts: idle peers go before any order is consulted.
   */
  #evictIdle(): void {
    const now = this.#now();
    for (const [id, p] of this.#peers) {
      if (PROTOCOLS.every((n) => p.streams[n] === 0 && p.buckets[n].messages.idle(now) && p.buckets[n].bytes.idle(now))) this.#peers.delete(id);
    }
    if (this.#peers.size >= this.#maxPeers) this.#peers.delete(this.#peers.keys().next().value!);
  }

  /** One message of `bytes` from `peerId` on `protocol`: admitted, or refused with nothing taken. */
  admit(peerId: string, protocol: ProtocolName, bytes: number): Admission {
    const b = this.#peer(peerId).buckets[protocol];
    const now = this.#now();
    const messageWait = b.messages.wait(1, now);
    if (messageWait > 0) {
      this.drops[protocol].messages++;
      return { ok: false, reason: 'messages', retryAfterMs: messageWait };
    }
    const byteWait = b.bytes.take(bytes, now);
    if (byteWait > 0) {
      this.drops[protocol].bytes++;
      return { ok: false, reason: 'bytes', retryAfterMs: byteWait };
    }
    b.messages.take(1, now);
    return { ok: true };
  }

  /** A new inbound stream: false (and counted) when the peer already has its cap open. */
  openStream(peerId: string, protocol: ProtocolName): boolean {
    const p = this.#peer(peerId);
    if (p.streams[protocol] >= this.#limits[protocol].maxStreams) {
      this.drops[protocol].streams++;
      return false;
    }
    p.streams[protocol]++;
    return true;
  }

  closeStream(peerId: string, protocol: ProtocolName): void {
    const p = this.#peers.get(peerId);
    if (p !== undefined && p.streams[protocol] > 0) p.streams[protocol]--;
  }

  /** A disconnected peer: its buckets go (its streams are closing with the connection). */
  forget(peerId: string): void {
    const p = this.#peers.get(peerId);
    if (p !== undefined && PROTOCOLS.every((n) => p.streams[n] === 0)) this.#peers.delete(peerId);
  }

  get trackedPeers(): number {
    return this.#peers.size;
  }
}
