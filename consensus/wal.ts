/**
 * The consensus write-ahead log: what goes in it, how an entry is encoded, and which entries a
 * restarted node replays. Pure: the storage is a port (`WalStore`); node/wal-file.ts keeps it in
 * files, `MemoryWal` below keeps it in memory for the simulator.
 *
 * The driver appends every message it is about to act on (its own included) before acting, and
 * `endHeight(h)` once height h's block is committed. On restart it reads the log and feeds back
 * `entriesToReplay(entries, height)`: what it had seen in the height it was in.
 *
 * Entry wire shapes (canonical CBOR, a kind tag first):
 *   proposal   = [1, proposal tuple (chain/proposal.ts), block bytes]
 *   vote       = [2, vote encoding (chain/vote.ts) as bytes]
 *   timeout    = [3, step (1 propose, 2 prevote, 3 precommit), height, round]
 *   end-height = [4, height]
 *   start      = [5, height]
 *   value      = [6, height, round, block bytes]
 */
import { MAX_BLOCK_BYTES } from '../chain/block.ts';
import { bytes, checkUint, CodecError, decodeCanonical, encodeCanonical, tuple, uint, type CborValue } from '../chain/codec.ts';
import { CodedError } from '../chain/errors.ts';
import { proposalTuple, readProposal, type Proposal } from '../chain/proposal.ts';
import { decodeVote, encodeVote, type Vote } from '../chain/vote.ts';

export type WalTimeout = 'propose' | 'prevote' | 'precommit';

export type WalEntry =
  | { kind: 'proposal'; proposal: Proposal; block: Uint8Array }
  | { kind: 'vote'; vote: Vote }
  | { kind: 'timeout'; timeout: WalTimeout; height: number; round: number }
  /** Written and synced after the height's block is committed. */
  | { kind: 'end-height'; height: number }
  /** Optional marker: the driver started (or restarted) this height. */
  | { kind: 'start'; height: number }
  /** A block this validator built to propose at (height, round), synced before the proposal is
   * signed: after a crash it proposes this block again, never a new one it could not sign. */
  | { kind: 'value'; height: number; round: number; block: Uint8Array };

/** The largest entry: a proposal carrying a block of the maximum size, plus its framing. */
export const MAX_WAL_ENTRY_BYTES = MAX_BLOCK_BYTES + 1024;

export type WalErrorCode = 'corrupt' | 'ahead' | 'closed' | 'failed';

/**
 * corrupt: bytes on disk are damaged somewhere other than a torn last record.
 * ahead: the log records a height the node's state has not reached (stores disagree).
 * closed / failed: the log was closed, or a write or sync failed and it can no longer be trusted.
 */
export class WalError extends CodedError<WalErrorCode> {}

/**
 * The storage port the consensus driver writes through. Calls are synchronous on purpose: an
 * entry is durable when `append(..., {sync: true})` returns, so nothing is acted on before it is
 * logged.
 */
export interface WalStore {
  append(entry: WalEntry, opts: { sync: boolean }): void;
  /** Appends `end-height(height)` and syncs; the store may then drop what is older. */
  endHeight(height: number): void;
  /** Every entry the store still holds, oldest first. */
  readAll(): WalEntry[];
  close(): void;
}

const TAG = { proposal: 1, vote: 2, timeout: 3, 'end-height': 4, start: 5, value: 6 } as const;
const TIMEOUTS: readonly WalTimeout[] = ['propose', 'prevote', 'precommit'];

export function encodeWalEntry(e: WalEntry): Uint8Array {
  let value: CborValue;
  switch (e.kind) {
    case 'proposal':
      if (!(e.block instanceof Uint8Array)) throw new TypeError('wal proposal.block: expected bytes');
      if (e.block.length > MAX_BLOCK_BYTES) throw new RangeError(`wal proposal.block: ${e.block.length} bytes exceeds ${MAX_BLOCK_BYTES}`);
      value = [TAG.proposal, proposalTuple(e.proposal), e.block];
      break;
    case 'vote':
      value = [TAG.vote, encodeVote(e.vote)];
      break;
    case 'timeout': {
      const step = TIMEOUTS.indexOf(e.timeout);
      if (step < 0) throw new RangeError(`wal timeout: expected propose, prevote or precommit, got ${JSON.stringify(e.timeout)}`);
      value = [TAG.timeout, step + 1, checkUint(e.height, 'wal timeout.height'), checkUint(e.round, 'wal timeout.round')];
      break;
    }
    case 'end-height':
      value = [TAG['end-height'], checkUint(e.height, 'wal end-height.height')];
      break;
    case 'start':
      value = [TAG.start, checkUint(e.height, 'wal start.height')];
      break;
    case 'value':
      if (!(e.block instanceof Uint8Array)) throw new TypeError('wal value.block: expected bytes');
      if (e.block.length > MAX_BLOCK_BYTES) throw new RangeError(`wal value.block: ${e.block.length} bytes exceeds ${MAX_BLOCK_BYTES}`);
      value = [TAG.value, checkUint(e.height, 'wal value.height'), checkUint(e.round, 'wal value.round'), e.block];
      break;
    default:
      throw new TypeError(`wal entry: unknown kind ${JSON.stringify((e as { kind: unknown }).kind)}`);
  }
  const encoded = encodeCanonical(value);
  // The chain encoders do not check every field (a vote's signature length, say), and an entry
  // written that cannot be read back would stop the node at its next start: read it back now.
  try {
    decodeWalEntry(encoded);
  } catch (err) {
    if (err instanceof CodecError) throw new RangeError(`wal ${e.kind} entry would not read back: ${err.message}`);
    throw err;
  }
  return encoded;
}

/** Decodes one entry; CodecError if the bytes are not exactly a canonical entry. */
export function decodeWalEntry(encoded: Uint8Array): WalEntry {
  const value = decodeCanonical(encoded, 'wal entry', MAX_WAL_ENTRY_BYTES);
  if (!Array.isArray(value) || value.length === 0) throw new CodecError('schema', 'wal entry: expected a non-empty list');
  const tag = value[0];
  switch (tag) {
    case TAG.proposal: {
      const [, proposal, block] = tuple(value, 3, 'wal proposal');
      return { kind: 'proposal', proposal: readProposal(proposal), block: bytes(block, 'wal proposal.block', { max: MAX_BLOCK_BYTES }) };
    }
    case TAG.vote: {
      const [, vote] = tuple(value, 2, 'wal vote');
      return { kind: 'vote', vote: decodeVote(bytes(vote, 'wal vote.vote', { max: 256 })) };
    }
    case TAG.timeout: {
      const [, step, height, round] = tuple(value, 4, 'wal timeout');
      const timeout = TIMEOUTS[uint(step, 'wal timeout.step', 3) - 1];
      if (timeout === undefined) throw new CodecError('schema', 'wal timeout.step: expected 1, 2 or 3');
      return { kind: 'timeout', timeout, height: uint(height, 'wal timeout.height'), round: uint(round, 'wal timeout.round') };
    }
    case TAG['end-height']: {
      const [, height] = tuple(value, 2, 'wal end-height');
      return { kind: 'end-height', height: uint(height, 'wal end-height.height') };
    }
    case TAG.start: {
      const [, height] = tuple(value, 2, 'wal start');
      return { kind: 'start', height: uint(height, 'wal start.height') };
    }
    case TAG.value: {
      const [, height, round, block] = tuple(value, 4, 'wal value');
      return {
        kind: 'value', height: uint(height, 'wal value.height'), round: uint(round, 'wal value.round'),
        block: bytes(block, 'wal value.block', { max: MAX_BLOCK_BYTES }),
      };
    }
    default:
      throw new CodecError('schema', `wal entry: unknown kind tag ${typeof tag === 'number' ? tag : JSON.stringify(typeof tag)}`);
  }
}

/** The height an entry belongs to. */
export function walEntryHeight(e: WalEntry): number {
  switch (e.kind) {
    case 'proposal': return e.proposal.height;
    case 'vote': return e.vote.height;
    default: return e.height;
  }
}

/**
 * What a node restarting at `height` feeds back: the entries of `height` after the last
 * end-height marker below it (normally end-height(height - 1)). A fresh log without any marker
 * replays everything of `height`. Entries of lower heights after the last marker are dropped: the
 * node left those heights without committing through consensus (block sync), so they are history.
 *
 * Throws WalError 'ahead' if the log holds end-height(>= height): it says a block the node's
 * state does not have was committed, so the block store and the WAL disagree and an operator must
 * look. Entries above `height` (messages buffered for a later height) are left out, not an error.
 */
export function entriesToReplay(entries: readonly WalEntry[], height: number): WalEntry[] {
  checkUint(height, 'height');
  let from = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const h = walEntryHeight(e);
    if (e.kind === 'end-height' && h >= height) {
      throw new WalError('ahead', `the WAL records that height ${h} was committed but the node is at height ${height}: `
        + 'its block store is behind its consensus log; restore the data directory from one point in time, or move the WAL aside knowing that the node may then re-sign');
    }
    if (e.kind === 'end-height') from = i + 1;
  }
  return entries.slice(from).filter((e) => walEntryHeight(e) === height);
}

/**
 * The WAL in memory, for the in-process simulator. `simulateCrash()` drops what was appended
 * since the last sync, which is the worst a real disk may do.
 */
export class MemoryWal implements WalStore {
  #entries: WalEntry[] = [];
  #synced = 0;
  #closed = false;

  append(entry: WalEntry, opts: { sync: boolean }): void {
    this.#open();
    encodeWalEntry(entry); // the same checks a file store applies
    this.#entries.push(entry);
    if (opts.sync) this.#synced = this.#entries.length;
  }

  endHeight(height: number): void {
    this.append({ kind: 'end-height', height }, { sync: true });
    // Keep from the previous end-height marker on, as the file store keeps its previous file.
    let markers = 0;
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      if (this.#entries[i]!.kind === 'end-height' && ++markers === 2) {
        this.#entries = this.#entries.slice(i);
        this.#synced = this.#entries.length;
        break;
      }
    }
  }

  readAll(): WalEntry[] {
    this.#open();
    return [...this.#entries];
  }

  /** Forgets everything not synced; the store stays usable, as a reopened file would be. */
  simulateCrash(): void {
    this.#entries.length = this.#synced;
    this.#closed = false;
  }

  close(): void {
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new WalError('closed', 'the WAL is closed');
  }
}
