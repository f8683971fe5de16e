/**
 * Equivocation evidence this node has seen and no block has carried yet: what its proposer puts in
 * the next blocks it builds. Bounded, because a faulty validator signs as many conflicting votes as
 * it likes (every round, every value) and each one reaches here:
 *
 *   - deduplicated by evidence hash, and one item per (validator, height): one proof that a
 *     validator double-signed at a height is all a block needs (there is no slashing yet), so the
 *     thousandth pair from the same offender cannot crowd out a first pair from another;
 *   - bounded by count and by bytes; when full, new evidence is refused, not older evidence evicted
 *     (the older is nearer to being included, and to being too old to be);
 *   - expired by height, as the executor refuses evidence more than `maxAgeHeights` below the block
 *     (and refused on arrival when already that old), and by time, `maxAgeMs` after the pool took
 *     it (like CometBFT's MaxAgeDuration), which clears a node that never proposes, or a stalled chain;
 *   - emptied of what the chain committed, whoever proposed the block.
 *
 * The clock is passed in; heights are the caller's (`nextHeight`, the height of the next block).
 */
import { toHex } from '../chain/bytes.ts';
import { encodeEvidence, evidenceHash, evidenceHeight, normalizeEvidence, type DuplicateVoteEvidence } from '../chain/evidence.ts';
import { sha256 } from '../chain/hash.ts';

/** Items held at most: ~600 bytes each, so well under the byte cap at the usual size. */
export const EVIDENCE_POOL_MAX_ITEMS = 1_000;
/** Encoded bytes held at most. */
export const EVIDENCE_POOL_MAX_BYTES = 1 << 20;
/** How long an item may wait for a block (CometBFT's default MaxAgeDuration). */
export const EVIDENCE_POOL_MAX_AGE_MS = 48 * 60 * 60 * 1000;

/** Why evidence left the pool (or never entered it) without this node proposing it in a block. */
export const EVIDENCE_DROP_REASONS = ['duplicate', 'redundant', 'full', 'too_old', 'expired', 'committed'] as const;
export type EvidenceDropReason = typeof EVIDENCE_DROP_REASONS[number];

export interface EvidencePoolOptions {
  /** The executor's evidenceMaxAgeHeights: a block at height H takes evidence of heights above H minus this. */
  maxAgeHeights: number;
  /** Milliseconds since the epoch. */
  now: () => number;
  maxItems?: number;
  maxBytes?: number;
  maxAgeMs?: number;
}

interface Pending {
  evidence: DuplicateVoteEvidence;
  hash: string;
  offence: string;
  height: number;
  bytes: number;
  addedAt: number;
  seq: number;
}

export class EvidencePool {
  readonly maxAgeHeights: number;
  readonly maxItems: number;
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  readonly #now: () => number;
  /** By evidence hash (hex), in arrival order. */
  readonly #items = new Map<string, Pending>();
  /** `${validator}/${height}` of the pending items. */
  readonly #offences = new Set<string>();
  #bytes = 0;
  #seq = 0;
  readonly dropped: Record<EvidenceDropReason, number> = Object.fromEntries(EVIDENCE_DROP_REASONS.map((r) => [r, 0])) as Record<EvidenceDropReason, number>;

  constructor(opts: EvidencePoolOptions) {
    const positive = (v: number | undefined, fallback: number, what: string): number => {
      const x = v ?? fallback;
      if (!Number.isSafeInteger(x) || x < 1) throw new RangeError(`EvidencePool ${what}: expected a positive integer, got ${x}`);
      return x;
    };
    this.maxAgeHeights = positive(opts.maxAgeHeights, 0, 'maxAgeHeights');
    this.maxItems = positive(opts.maxItems, EVIDENCE_POOL_MAX_ITEMS, 'maxItems');
    this.maxBytes = positive(opts.maxBytes, EVIDENCE_POOL_MAX_BYTES, 'maxBytes');
    this.maxAgeMs = positive(opts.maxAgeMs, EVIDENCE_POOL_MAX_AGE_MS, 'maxAgeMs');
    if (typeof opts.now !== 'function') throw new TypeError('EvidencePool now: expected a function returning milliseconds');
    this.#now = opts.now;
  }

  get size(): number {
    return this.#items.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Takes evidence seen at a time the chain's next block is `nextHeight`; says why not if it does not. */
  add(ev: DuplicateVoteEvidence, nextHeight: number): 'added' | EvidenceDropReason {
    this.expire(nextHeight);
    const evidence = normalizeEvidence(ev);
    const encoded = encodeEvidence(evidence);
    const hash = toHex(sha256(encoded));
    const height = evidenceHeight(evidence);
    const offence = `${toHex(evidence.first.validator)}/${height}`;
    let verdict: 'added' | EvidenceDropReason = 'added';
    if (this.#items.has(hash)) verdict = 'duplicate';
    else if (this.#tooOld(height, nextHeight)) verdict = 'too_old';
    else if (this.#offences.has(offence)) verdict = 'redundant';
    else if (this.#items.size >= this.maxItems || this.#bytes + encoded.length > this.maxBytes) verdict = 'full';
    if (verdict !== 'added') {
      this.dropped[verdict]++;
      return verdict;
    }
    this.#items.set(hash, { evidence, hash, offence, height, bytes: encoded.length, addedAt: this.#now(), seq: this.#seq++ });
    this.#offences.add(offence);
    this.#bytes += encoded.length;
    return 'added';
  }

  /**
   * What the proposer of block `nextHeight` includes: at most `max` items of lower heights (a
   * block cannot carry evidence of its own height), the oldest offences first, as they expire first.
   */
  reap(nextHeight: number, max: number): DuplicateVoteEvidence[] {
    this.expire(nextHeight);
    return [...this.#items.values()]
      .filter((p) => p.height < nextHeight)
      .sort((a, b) => a.height - b.height || a.seq - b.seq)
      .slice(0, Math.max(0, max))
      .map((p) => p.evidence);
  }

  /** A block carried this evidence (ours or another proposer's): it leaves the pool. */
  committed(evidence: readonly DuplicateVoteEvidence[]): void {
    for (const ev of evidence) this.#remove(toHex(evidenceHash(ev)));
  }

  /** Drops an item found to be committed already (it arrived again after its block). */
  dropCommitted(hash: Uint8Array): void {
    if (this.#remove(toHex(hash))) this.dropped.committed++;
  }

  /** Drops what the next block could no longer carry, and what has waited longer than maxAgeMs. */
  expire(nextHeight: number): void {
    const now = this.#now();
    for (const p of [...this.#items.values()]) {
      const reason = this.#tooOld(p.height, nextHeight) ? 'too_old' : now - p.addedAt > this.maxAgeMs ? 'expired' : null;
      if (reason === null) continue;
      this.#remove(p.hash);
      this.dropped[reason]++;
    }
  }

  /** Everything pending, in arrival order. */
  list(): DuplicateVoteEvidence[] {
    return [...this.#items.values()].map((p) => p.evidence);
  }

  #tooOld(height: number, nextHeight: number): boolean {
    return height < 1 || nextHeight - height > this.maxAgeHeights;
  }

  #remove(hash: string): boolean {
    const p = this.#items.get(hash);
    if (p === undefined) return false;
    this.#items.delete(hash);
    this.#offences.delete(p.offence);
    this.#bytes -= p.bytes;
    return true;
  }
}
