/**
 * The block header's validatorsHash: the Merkle root (chain/merkle.ts) over the canonical encodings
 * of [address(20), publicKey(32), power], sorted by address, so the order validators are listed in
 * does not matter. It lives in chain/ because genesis, the executor and consensus all compute it.
 */
import type { Address } from './address.ts';
import { compareBytes } from './bytes.ts';
import { encodeCanonical } from './codec.ts';
import { merkleRoot } from './merkle.ts';

export function validatorsHash(validators: readonly { address: Address; publicKey: Uint8Array; power: number }[]): Uint8Array {
  if (!Array.isArray(validators)) throw new TypeError('validatorsHash: expected a list of validators');
  const sorted = [...validators].sort((a, b) => compareBytes(a.address, b.address));
  return merkleRoot(sorted.map((v) => encodeCanonical([v.address, v.publicKey, v.power])));
}
