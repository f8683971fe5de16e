/**
 * The parts of the executor's one validity check (execution/executor.ts #check) that need no
 * state: the header's links to the head and to the block's contents, every transaction's
 * signature, and the form of the evidence. Each reports a problem through `fail`, which throws.
 */
import { commitHash, txsRoot, type Block } from '../chain/block.ts';
import { equalBytes, toHex } from '../chain/bytes.ts';
import { evidenceHash, evidenceHeight, evidenceProblem, evidenceRoot } from '../chain/evidence.ts';
import { signedItemOf, type SignedTransaction } from '../chain/tx.ts';
import type { SignedItem } from '../chain/signature.ts';
import type { SignaturePool } from '../chain/signature-pool.ts';
import type { SignatureCache } from '../consensus/verify.ts';
import type { ChainHead } from './executor.ts';

/** Transactions whose signatures are checked per call: a bad one stops the check at its chunk. */
const SIGNATURE_CHUNK = 256;

/**
 * Every transaction's signature, through the cache shared with the mempool (what it admitted is
 * not verified again), a chunk at a time: a proposer who packs a block with bad signatures makes
 * us check at most one chunk of them, each of which costs a fallback ZIP-215 verification.
 */
export function checkSignatures(
  sigCache: SignatureCache, txs: readonly SignedTransaction[], fail: (what: string) => never, verified?: ReadonlySet<SignedTransaction>,
): void {
  const at = unverified(txs, verified);
  for (let start = 0; start < at.length; start += SIGNATURE_CHUNK) {
    const part = at.slice(start, start + SIGNATURE_CHUNK);
    const ok = sigCache.verify(signedItems(txs, part));
    const bad = ok.indexOf(false);
    if (bad >= 0) fail(`txs[${part[bad]}]: signature does not verify`);
  }
}

/**
 * checkSignatures on the worker threads of `pool`, in one request (the same failure, for the same
 * transaction: the lowest index whose signature does not verify). A bad signature stops the
 * request early: each thread stops at its first and the parts not yet dispatched are dropped, so a
 * block of bad signatures costs at most one fallback verification per thread.
 */
export async function checkSignaturesOn(
  pool: SignaturePool, sigCache: SignatureCache, txs: readonly SignedTransaction[], fail: (what: string) => never,
  verified?: ReadonlySet<SignedTransaction>,
): Promise<void> {
  const at = unverified(txs, verified);
  const bad = await sigCache.firstInvalidOn(pool, signedItems(txs, at));
  if (bad >= 0) fail(`txs[${at[bad]}]: signature does not verify`);
}

/**
 * The indexes of the transactions whose signatures are to be checked: all but those in `verified`
 * (objects this node verified before, its mempool's). The lowest bad one among them is the lowest
 * bad one of the block.
 */
function unverified(txs: readonly SignedTransaction[], verified: ReadonlySet<SignedTransaction> | undefined): number[] {
  const at: number[] = [];
  for (let i = 0; i < txs.length; i++) if (verified === undefined || !verified.has(txs[i]!)) at.push(i);
  return at;
}

function signedItems(txs: readonly SignedTransaction[], at: readonly number[]): SignedItem[] {
  return at.map((i) => signedItemOf(txs[i]!));
}

/** Evidence checks that need no signatures: form, height, age, duplicates; returns the hashes. */
export function checkEvidenceForm(
  block: Block, maxAgeHeights: number, committedAt: (id: string) => number | undefined, fail: (what: string) => never,
): Uint8Array[] {
  const height = block.header.height;
  const hashes = block.evidence.map(evidenceHash);
  const inBlock = new Map<string, number>();
  block.evidence.forEach((ev, i) => {
    const id = toHex(hashes[i]!);
    const what = `evidence[${i}] (${id})`;
    const problem = evidenceProblem(ev);
    if (problem !== null) fail(`${what}: ${problem}`);
    const at = evidenceHeight(ev);
    if (at < 1 || at >= height) fail(`${what} is for height ${at}; a block at height ${height} may only carry evidence from heights 1 to ${height - 1}`);
    if (height - at > maxAgeHeights) {
      fail(`${what} is for height ${at}, older than the maximum age of ${maxAgeHeights} heights`);
    }
    const twin = inBlock.get(id);
    if (twin !== undefined) fail(`${what} is the same as evidence[${twin}]`);
    inBlock.set(id, i);
    const committed = committedAt(id);
    if (committed !== undefined) fail(`${what} was already committed at height ${committed}`);
  });
  if (!equalBytes(block.header.evidenceHash, evidenceRoot(block.evidence))) fail('evidenceHash does not match the evidence');
  return hashes;
}

/** The header links to the head and to the block's own contents (everything but evidence). */
export function checkLinks(head: ChainHead, block: Block, txHashes: readonly Uint8Array[], fail: (what: string) => never): void {
  const h = block.header;
  if (h.chainId !== head.chainId) fail(`chain id ${h.chainId} is not ${head.chainId}`);
  if (h.height !== head.height + 1) fail(`expected height ${head.height + 1}`);
  if (h.time <= head.time) fail(`time ${h.time} is not after the previous block's ${head.time}`);
  if (!equalBytes(h.lastBlockHash, head.blockHash)) fail('lastBlockHash does not match the previous block');
  if (!equalBytes(h.stateRoot, head.stateRoot)) fail('stateRoot does not match the state after the previous block');
  if (!equalBytes(h.lastResultsHash, head.resultsHash)) fail("lastResultsHash does not match the previous block's receipts");
  if (!equalBytes(h.txsHash, txsRoot(txHashes))) fail('txsHash does not match the transactions');
  if (!equalBytes(h.lastCommitHash, commitHash(block.lastCommit))) fail('lastCommitHash does not match lastCommit');
  if (h.height === 1 ? block.lastCommit !== null : block.lastCommit === null) {
    fail(h.height === 1 ? 'the first block has no lastCommit' : 'lastCommit is missing');
  }
  if (block.lastCommit && (block.lastCommit.height !== head.height || !equalBytes(block.lastCommit.blockHash, head.blockHash))) {
    fail('lastCommit is not for the previous block');
  }
}
