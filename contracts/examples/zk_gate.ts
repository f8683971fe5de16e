// A proof-gated claim: a claim shows a Groth16 proof for the verification key fixed at deploy,
// and each statement (its public signals) can be claimed once, by whoever claims it first.
// Register the key first (a zk_key transaction) and carry the proof on the claim (a call's
// `proofs`) so it is verified before the call runs; docs/zk.md.
import { Args, Values, Storage, key as slot, revert, caller, emit, sha256, groth16Verify, GROTH16_KEY_HASH_BYTES } from "../sdk";

const KEY_HASH = slot("key_hash");
const COUNT = slot("count");

function claimKey(nullifier: Uint8Array): Uint8Array {
  return slot("claimed", nullifier);
}

function keyHash(): Uint8Array {
  const k = Storage.get(KEY_HASH);
  if (k == null) revert("zk_gate: not initialised");
  return k!;
}

// The nullifier is the hash of the public signals, never of the proof: proofs are malleable, and
// anyone who sees a valid proof (in the mempool, in a block) can re-randomize it into other valid
// bytes for the same signals, so a proof-bytes nullifier would let the same statement be claimed
// again. The signals are what the proof proves; hashing them gives a fixed-size key (signals may
// be many) and an event topic.
function nullifierOf(signals: Uint8Array): Uint8Array {
  return sha256(signals);
}

/** init(key_hash: bytes): the SHA-256 of the registered verification key claims are proved against. */
export function init(): void {
  const hash = Args.input().readBytes();
  if (hash.length != GROTH16_KEY_HASH_BYTES) revert("the key hash is 32 bytes");
  Storage.set(KEY_HASH, hash);
}

/**
 * claim(proof: bytes, signals: bytes) -> u64: records the caller as the claimant of `signals` and
 * returns the number of claims; emits an event whose topic is the nullifier, with the caller as
 * data. Reverts "already claimed" (checked first: a storage read is cheap, a proof that was not
 * carried costs the proof price) or "invalid proof".
 */
export function claim(): void {
  const args = Args.input();
  const proof = args.readBytes();
  const signals = args.readBytes();
  const nullifier = nullifierOf(signals);
  if (Storage.has(claimKey(nullifier))) revert("already claimed");
  if (!groth16Verify(keyHash(), proof, signals)) revert("invalid proof");
  const who = caller();
  Storage.set(claimKey(nullifier), who);
  const count = Storage.getU64(COUNT) + 1;
  Storage.setU64(COUNT, count);
  emit([nullifier], who);
  new Values().u64(count).ret();
}

/** claims() -> u64: how many claims succeeded. */
export function claims(): void {
  new Values().u64(Storage.getU64(COUNT)).ret();
}

/** claimed_by(signals: bytes) -> address: who claimed these signals; reverts "not claimed". */
export function claimed_by(): void {
  const who = Storage.get(claimKey(nullifierOf(Args.input().readBytes())));
  if (who == null) revert("not claimed");
  new Values().address(who!).ret();
}

/** key() -> bytes: the verification key's hash. */
export function key(): void {
  new Values().bytes(keyHash()).ret();
}
