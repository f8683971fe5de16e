// The call's context, failing, logging, events, hashing, signatures and proofs, and cross-contract calls.
import * as host from "./host";
import { ptr, utf8 } from "./bytes";

export const ADDRESS_BYTES = 20;

/** Stops the call and undoes its writes; `reason` ends up in the receipt (at most 256 bytes). */
export function revert(reason: string): void {
  const b = utf8(reason);
  host.revert_raw(ptr(b), b.length);
}

/** A line for the node's debug log (when the operator turned it on); never part of consensus. */
export function debugLog(line: string): void {
  const b = utf8(line);
  host.debug_log(ptr(b), b.length);
}

function address(read: (dst: usize) => void): Uint8Array {
  const out = new Uint8Array(ADDRESS_BYTES);
  read(ptr(out));
  return out;
}

export function caller(): Uint8Array { return address((d: usize) => host.caller(d)); }
export function selfAddress(): Uint8Array { return address((d: usize) => host.self_address(d)); }
export function origin(): Uint8Array { return address((d: usize) => host.origin(d)); }
export function blockHeight(): u64 { return <u64>host.block_height(); }
export function blockTime(): u64 { return <u64>host.block_time(); }
export function gasLeft(): u64 { return <u64>host.gas_left(); }
/** Base units sent with this call. */
export function value(): u64 { return <u64>host.value(); }

export function chainId(): string {
  const buf = new Uint8Array(64);
  const n = host.chain_id(ptr(buf), buf.length);
  return String.UTF8.decodeUnsafe(buf.dataStart, <usize>min(n, buf.length));
}

export function sha256(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  host.sha256(ptr(data), data.length, ptr(out));
  return out;
}

export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): bool {
  if (publicKey.length != 32 || signature.length != 64) return false;
  return host.ed25519_verify(ptr(publicKey), ptr(message), message.length, ptr(signature)) == 1;
}

export const GROTH16_KEY_HASH_BYTES = 32;
export const GROTH16_PROOF_BYTES = 256;
export const GROTH16_SIGNAL_BYTES = 32;

/**
 * Whether `proof` is a valid Groth16 proof, with the public `signals`, for the verification key
 * registered under `keyHash`, in the binary forms of docs/zk.md: the key's 32-byte SHA-256, a
 * 256-byte proof (pi_a ‖ pi_b ‖ pi_c), and 32 big-endian bytes per signal in the order of
 * public.json. From protocol 3; a key that is not registered fails the call (a host error).
 *
 * Gas: a proof the transaction carried (a call's `proofs`) was verified and paid for before the
 * call ran, so checking it here costs only its copy and the contract does not wait. A proof passed
 * only as an argument pays the proof price here (docs/zk.md, "Gas") and is verified while the
 * contract waits. Carry the proofs a call will check.
 *
 * False, without asking the host, when the lengths cannot be right (a key hash that is not 32
 * bytes, a proof that is not 256 bytes, signals that are not whole 32-byte numbers): the host would
 * fail the call for the key hash, and charge the proof price before answering 0 for the others.
 *
 * Proofs are malleable: anyone can turn a valid proof into another valid one. Never use a proof's
 * bytes as a unique key (to stop a replay, say); use the public signals.
 */
export function groth16Verify(keyHash: Uint8Array, proof: Uint8Array, signals: Uint8Array): bool {
  if (keyHash.length != GROTH16_KEY_HASH_BYTES || proof.length != GROTH16_PROOF_BYTES || signals.length % GROTH16_SIGNAL_BYTES != 0) return false;
  return host.groth16_verify(ptr(keyHash), keyHash.length, ptr(proof), proof.length, ptr(signals), signals.length) == 1;
}

/** An event: up to 4 topics of 32 bytes each (shorter ones are zero-padded on the left), and data. */
export function emit(topics: Uint8Array[], data: Uint8Array): void {
  if (topics.length > 4) revert("an event has at most 4 topics");
  const packed = new Uint8Array(32 * topics.length);
  for (let i = 0; i < topics.length; i++) {
    const t = topics[i];
    if (t.length > 32) revert("an event topic is at most 32 bytes");
    packed.set(t, 32 * i + 32 - t.length);
  }
  host.emit(ptr(packed), topics.length, ptr(data), data.length);
}

/** What a cross-contract call gave back: success, and its return data or failure reason. */
export class CallResult {
  constructor(public ok: bool, public data: Uint8Array) {}
  /** The failure reason as text (empty when the call succeeded). */
  reason(): string {
    return this.ok ? "" : String.UTF8.decodeUnsafe(this.data.dataStart, this.data.length);
  }
}

/** Calls `method` of the contract at `contract` with ABI-encoded `args`, forwarding at most `gas`. */
export function callContract(contract: Uint8Array, method: string, args: Uint8Array, value: u64 = 0, gas: u64 = <u64>-1): CallResult {
  const m = utf8(method);
  const status = host.call(ptr(contract), ptr(args), args.length, ptr(m), m.length, <i64>value, <i64>gas);
  const out = new Uint8Array(host.returndata_size());
  host.returndata_read(ptr(out));
  return new CallResult(status == 0, out);
}

/** The handler AssemblyScript's `abort` is routed to (asc --use abort=…): a revert with the message. */
export function abortHandler(message: string | null, fileName: string | null, line: u32, column: u32): void {
  revert(message != null ? message : "abort");
  unreachable();
}
