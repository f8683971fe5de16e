/**
 * What the consensus driver (driver.ts) is handed: the application, the signer, timers, an outbox
 * and a log. Consensus acts on the world only through these, which is what lets one driver run in
 * a node, in tests and in the deterministic simulator.
 */
import type { Commit, Vote, VoteType } from '../chain/vote.ts';
import type { Proposal } from '../chain/proposal.ts';
import type { DuplicateVoteEvidence } from '../chain/evidence.ts';
import type { TimeoutConfig, TimeoutKind } from './state-machine.ts';
import type { ValidatorSet } from './validators.ts';
import type { SignatureCache } from './verify.ts';
import type { WalStore } from './wal.ts';

/** The application side: blocks are opaque bytes to consensus. */
export interface ConsensusApp {
  /** Builds the block this validator proposes at (height, round); a throw skips the proposal. */
  propose(height: number, round: number): { block: Uint8Array; hash: Uint8Array };
  /**
   * The paper's valid(v): the block's hash if it may be voted for, else a reason. Should not throw
   * (a throw counts as invalid and is logged as a bug).
   * `proposal` says in which round it is proposed and its validRound: a fresh block (-1) was built
   * by that round's proposer; a block re-proposed after a polka keeps the proposer that built it.
   * `receivedAt` is when the proposal reached this validator (the timers' clock): a fresh block's
   * time is judged against it (consensus/timeliness.ts), and a valid block that is not timely comes
   * back with the reason in `untimely`. Timeliness is not validity: it only withholds our prevote
   * for a fresh proposal (ProposalFact.timely), never a lock or a decision.
   */
  validate(height: number, block: Uint8Array, proposal: { round: number; validRound: number; receivedAt: number }): ValidationResult;
  /**
   * Applies a decided block with the commit that finalised it. The next height starts when it
   * resolves; a rejection (or throw) halts the driver: the block is decided, and a node that cannot
   * store it must not vote on a state it does not have.
   */
  commit(height: number, block: Uint8Array, commit: Commit): Promise<void>;
}

export type ValidationResult = { hash: Uint8Array; untimely?: string } | { error: string };

/** Signs for this validator behind the double-sign guard (privval.ts). Throws rather than sign a conflict. */
export interface ConsensusSigner {
  readonly address: Uint8Array;
  signVote(v: { type: VoteType; height: number; round: number; blockHash: Uint8Array | null }): Vote;
  signProposal(p: { height: number; round: number; validRound: number; blockHash: Uint8Array }): Proposal;
}

export interface ConsensusTimers {
  /** Calls fn after ms; returns a cancel function. */
  schedule(ms: number, fn: () => void): () => void;
  /** This validator's clock, Unix ms: when a proposal arrived. */
  now(): number;
}

export interface ConsensusOutbox {
  proposal(p: Proposal, block: Uint8Array): void;
  vote(v: Vote): void;
}

export interface DriverLog {
  error(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

export interface DriverOptions {
  chainId: string;
  validators: ValidatorSet;
  /** null for a node that follows consensus without voting. */
  signer: ConsensusSigner | null;
  app: ConsensusApp;
  wal: WalStore;
  timers: ConsensusTimers;
  outbox: ConsensusOutbox;
  timeouts: Readonly<Record<TimeoutKind, TimeoutConfig>>;
  /** Pause after a commit before the next height starts: the block time. */
  commitTimeoutMs: number;
  sigCache?: SignatureCache;
  onEvidence?: (ev: DuplicateVoteEvidence) => void;
  onDecide?: (height: number, round: number, blockHash: Uint8Array) => void;
  /** Told once, when the driver halts for good (driver.ts, "Faults"); it has logged the error already. */
  onHalt?: (err: Error) => void;
  log?: DriverLog;
}

/** The log of a driver that is given none. */
export const NO_LOG: DriverLog = { error() {}, info() {}, warn() {}, debug() {} };
