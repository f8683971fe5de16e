/**
 * Peer scores with decay. Every peer starts at 0; penalties subtract points; the score decays
 * exponentially back toward 0 (halving every `decayHalfLifeMs`), computed lazily from the clock.
 * At or below `disconnectThreshold` the caller disconnects the peer; at or below `banThreshold` the
 * peer is also banned for `banDurationMs` and the gater refuses its reconnects. Protected peers
 * (our validators) are scored and reported but never disconnected or banned.
 */
import type { PenaltyReason, ScoreConfig } from './config.ts';

export type PenaltyAction = 'none' | 'disconnect' | 'ban';

/** Peers whose score decayed to within this of 0 and are not banned are forgotten. */
const NEGLIGIBLE = 0.5;
const MAX_TRACKED = 8192;

export class PeerScores {
  readonly #cfg: ScoreConfig;
  readonly #now: () => number;
  readonly #isProtected: (peerId: string) => boolean;
  readonly #scores = new Map<string, { score: number; at: number }>();
  readonly #bans = new Map<string, number>();
  readonly counters: { penalties: Record<PenaltyReason, number>; disconnects: number; bans: number } = {
    penalties: { invalid_message: 0, oversized_message: 0, rate_limited: 0, bad_sync_response: 0, stream_limit: 0, wrong_chain: 0 },
    disconnects: 0,
    bans: 0,
  };

  constructor(cfg: ScoreConfig, opts: { now?: () => number; isProtected?: (peerId: string) => boolean } = {}) {
    if (!(cfg.decayHalfLifeMs > 0)) throw new RangeError('decayHalfLifeMs: expected a positive number');
    if (!(cfg.banThreshold < cfg.disconnectThreshold && cfg.disconnectThreshold < 0)) {
      throw new RangeError('score thresholds: expected banThreshold < disconnectThreshold < 0');
    }
    this.#cfg = cfg;
    this.#now = opts.now ?? Date.now;
    this.#isProtected = opts.isProtected ?? (() => false);
  }

  score(peerId: string): number {
    const s = this.#scores.get(peerId);
    if (s === undefined) return 0;
    return s.score * 0.5 ** ((this.#now() - s.at) / this.#cfg.decayHalfLifeMs);
  }

  /** Subtracts the reason's points; says what the caller must do now. */
  penalize(peerId: string, reason: PenaltyReason): PenaltyAction {
    this.counters.penalties[reason]++;
    const now = this.#now();
    const score = this.score(peerId) - this.#cfg.penalties[reason];
    if (!this.#scores.has(peerId) && this.#scores.size >= MAX_TRACKED) this.#prune(now);
    this.#scores.set(peerId, { score, at: now });
    if (this.#isProtected(peerId)) return 'none';
    if (score <= this.#cfg.banThreshold) {
      this.ban(peerId);
      return 'ban';
    }
    if (score <= this.#cfg.disconnectThreshold) {
      this.counters.disconnects++;
      return 'disconnect';
    }
    return 'none';
  }

  /** Bans a peer for `ms` (the configured duration by default); protected peers are never banned. */
  ban(peerId: string, ms = this.#cfg.banDurationMs): void {
    if (this.#isProtected(peerId)) return;
    this.#bans.set(peerId, this.#now() + ms);
    this.counters.bans++;
  }

  isBanned(peerId: string): boolean {
    const until = this.#bans.get(peerId);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#bans.delete(peerId);
    return false;
  }

  banned(): { peerId: string; untilMs: number }[] {
    const now = this.#now();
    const out: { peerId: string; untilMs: number }[] = [];
    for (const [peerId, untilMs] of this.#bans) {
      if (untilMs > now) out.push({ peerId, untilMs });
      else this.#bans.delete(peerId);
    }
    return out;
  }

  #prune(now: number): void {
    for (const [id, s] of this.#scores) {
      if (Math.abs(s.score * 0.5 ** ((now - s.at) / this.#cfg.decayHalfLifeMs)) < NEGLIGIBLE && !this.#bans.has(id)) this.#scores.delete(id);
    }
    // Still full: the oldest entry goes (bans are kept separately). By first penalty, not by use,
    // so not chain/lru.ts: a table pruned by decay first, not a cache.
    if (this.#scores.size >= MAX_TRACKED) this.#scores.delete(this.#scores.keys().next().value!);
  }
}
