/**
 * The consensus application's two questions before a decision: what block does this validator
 * propose, and may a proposed block be voted for. Both end in the executor's one validity check
 * (execution/executor.ts), so the proposer never sends what its peers would refuse.
 */
import type { Address } from '../chain/address.ts';
import { blockHash, decodeBlock, encodeBlock, type Block } from '../chain/block.ts';
import { cborHeaderBytes, worstBlockBytes, type BlockLimits } from '../chain/block-rules.ts';
import type { Commit } from '../chain/vote.ts';
import { validatorsHash } from '../chain/validators-hash.ts';
import type { ConsensusApp, ValidationResult } from '../consensus/ports.ts';
import type { EvidencePool } from '../consensus/evidence-pool.ts';
import { untimely, type SynchronyBounds } from '../consensus/timeliness.ts';
import type { ValidatorSet } from '../consensus/validators.ts';
import type { Executor } from '../execution/executor.ts';
import type { Mempool } from '../mempool/mempool.ts';
import type { Clock } from './clock.ts';

/** Evidence items a proposer puts in one block (the block format allows more). */
const MAX_EVIDENCE_PER_PROPOSAL = 16;

/**
 * The largest transaction a block of this chain has room for beside the largest header, commit
 * and evidence: what the mempool takes at most, so nothing it admits can be left out of every block.
 */
export function maxBlockTxBytes(limits: BlockLimits, validators: number): number {
  return limits.maxBytes - worstBlockBytes(validators, 0) - cborHeaderBytes(limits.maxBytes);
}

export interface BlockBuilderParts {
  executor: Executor;
  mempool: Mempool;
  evidencePool: EvidencePool;
  validators: ValidatorSet;
  limits: BlockLimits;
  synchrony: SynchronyBounds;
  clock: Clock;
  /** This validator's address (null on a node that only follows: it never proposes). */
  proposer: Address | null;
}

export class BlockBuilder implements Pick<ConsensusApp, 'propose' | 'validate'> {
  readonly #p: BlockBuilderParts;
  /** The commit of the head block: the next block's lastCommit. */
  lastCommit: Commit | null = null;

  constructor(parts: BlockBuilderParts) {
    this.#p = parts;
  }

  /**
   * The block this validator proposes: its time from our clock (after the previous block's, even
   * if our clock is behind), the pending evidence, and the best-paying transactions that fit what
   * is left of max_bytes once this very header, commit and evidence are counted, and max_gas. It
   * passes the same validity check every validator will run before it leaves.
   */
  propose(height: number, round: number): { block: Uint8Array; hash: Uint8Array } {
    const { executor, limits, proposer } = this.#p;
    const head = executor.head!;
    if (height !== head.height + 1) throw new Error(`asked to propose height ${height} on head ${head.height}`);
    if (proposer === null) throw new Error('this node has no validator key and cannot propose');
    const evidence = this.#p.evidencePool.reap(height, MAX_EVIDENCE_PER_PROPOSAL);
    const lastCommit = this.lastCommit;
    const build = (txs: Uint8Array[]): Block => {
      const header = executor.nextHeader({
        txs, time: Math.max(this.#p.clock(), head.time + 1), proposer,
        lastCommit, validatorsHash: validatorsHash(this.#p.validators.validators), evidence,
      });
      return { header, txs, lastCommit, evidence };
    };
    // What the block takes without transactions, and the most its list header can grow (to
    // maxTxs items); reap counts each transaction's bytes and its own header.
    const room = limits.maxBytes - encodeBlock(build([])).length - (cborHeaderBytes(limits.maxTxs) - cborHeaderBytes(0));
    const txs = this.#p.mempool.reap({ maxTxs: limits.maxTxs, maxBytes: Math.max(0, room), maxGas: limits.maxGas }).map((s) => s.bytes);
    const block = build(txs);
    const encoded = encodeBlock(block);
    executor.validateBlock(block, { round, encoded });
    return { block: encoded, hash: blockHash(block.header) };
  }

  /**
   * The one validity check; a fresh block must also name the round's proposer (who gets its fees),
   * while a re-proposed one keeps the proposer and the time of the round that built it. A fresh
   * block is also judged for timeliness, reported beside validity (ConsensusApp.validate).
   */
  validate(height: number, bytes: Uint8Array, { round, validRound, receivedAt }: { round: number; validRound: number; receivedAt: number }): ValidationResult {
    try {
      const block = decodeBlock(bytes);
      if (block.header.height !== height) return { error: `block is for height ${block.header.height}` };
      const fresh = validRound === -1;
      this.#p.executor.validateBlock(block, fresh ? { round, encoded: bytes } : { encoded: bytes });
      const late = fresh ? untimely(block.header.time, receivedAt, this.#p.synchrony, round) : null;
      return late === null ? { hash: blockHash(block.header) } : { hash: blockHash(block.header), untimely: `block ${height} is not timely: ${late}` };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
}
