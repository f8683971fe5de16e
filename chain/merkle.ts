/**
 * Merkle root of an ordered list (transactions, receipts), as in RFC 6962 §2.1: leaves and inner
 * nodes are hashed with different prefixes so a leaf can never pass for an inner node, and the list
 * is split at the largest power of two below its length. The empty list's root is sha256("").
 */
import { concatBytes } from './bytes.ts';
import { sha256 } from './hash.ts';

const LEAF = Uint8Array.of(0);
const INNER = Uint8Array.of(1);

export function merkleRoot(items: readonly Uint8Array[]): Uint8Array {
  if (items.length === 0) return sha256(new Uint8Array(0));
  return subtree(items, 0, items.length);
}

function subtree(items: readonly Uint8Array[], from: number, to: number): Uint8Array {
  if (to - from === 1) return sha256(concatBytes(LEAF, items[from]!));
  let k = 1;
  while (k * 2 < to - from) k *= 2;
  return sha256(concatBytes(INNER, subtree(items, from, from + k), subtree(items, from + k, to)));
}
