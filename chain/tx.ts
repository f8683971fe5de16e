/**
 * Transactions. A transaction is signed over domain-separated bytes that include the chain id
 * (`hallmark/tx/v1\n` || canonical encoding of the unsigned transaction), so it cannot be replayed on
 * another chain or mistaken for a vote. Its hash is sha256 of the signed transaction's encoding.
 *
 * Wire shape (canonical CBOR tuples):
 *   signed  = [unsigned, signature(64)]
 *   unsigned = [1, chainId, sender publicKey(32), nonce, fee, gasLimit, payload]
 *   payload = [0, to(20), amount]                       transfer
 *           | [1, code, args]                             deploy a contract (WebAssembly module)
 *           | [2, contract(20), method, args, value]      call a contract method
 *           | [3, modelOp]                                a model registry operation (chain/model-op.ts)
 *           | [4, key]                                    register a Groth16 verification key (zk/encoding.ts bytes)
 *           | [5, contract(20), method, args, value, [[keyHash(32), proof(256), signals], ...]]
 *                                                         call a contract with 1 to MAX_TX_PROOFS proofs attached,
 *                                                         each verified before the call runs
 * Payload kinds are numbered; new kinds take the next numbers.
 */
import { ADDRESS_LENGTH, addressOf, type Address } from './address.ts';
import { concatBytes, utf8 } from './bytes.ts';
import { checkChainId, readChainId } from './chain-id.ts';
import {
  amount, bytes, checkAmount, checkUint, CodecError, decodeCanonical, encodeCanonical, text, tuple, uint,
  type CborValue,
} from './codec.ts';
import { sha256 } from './hash.ts';
import { modelOpTuple, readModelOp, type ModelOp } from './model-op.ts';
import { sign } from './keys.ts';
import { verifySignature, type SignedItem } from './signature.ts';

export const TX_VERSION = 1;
export const TX_SIGN_DOMAIN = utf8('hallmark/tx/v1\n');
/** Hard cap of the codec; the mempool applies its own, usually smaller, configured limit. */
export const MAX_TX_BYTES = 1 << 20;

export const PAYLOAD_TRANSFER = 0;
export const PAYLOAD_DEPLOY = 1;
export const PAYLOAD_CALL = 2;
export const PAYLOAD_MODEL = 3;
export const PAYLOAD_ZK_KEY = 4;
export const PAYLOAD_PROVEN_CALL = 5;
/** Most proofs one transaction may carry. */
export const MAX_TX_PROOFS = 16;
/** A Groth16 proof's bytes (zk/encoding.ts); signals are 32 bytes each, at most 1,024 of them. */
export const PROOF_BYTES = 256;
export const MAX_SIGNAL_BYTES = 1024 * 32;
/** The largest verification key (nPublic 1,024: zk/encoding.ts keyBytesLength). */
export const MAX_ZK_KEY_BYTES = 4 + 64 + 3 * 128 + 1025 * 64;
/** Longest contract method name. */
export const MAX_METHOD_LENGTH = 128;

export interface TransferPayload {
  kind: 'transfer';
  to: Address;
  amount: bigint;
}
export interface DeployPayload {
  kind: 'deploy';
  /** The WebAssembly module as written (the node validates and instruments it). */
  code: Uint8Array;
  /** Arguments for the module's `init`, in the contract ABI's encoding. */
  args: Uint8Array;
}
/** A proof a call carries: verified (with the others, in the verifier pool) before the call runs. */
export interface AttachedProof {
  /** The registered verification key's hash. */
  keyHash: Uint8Array;
  /** 256 bytes (zk/encoding.ts). */
  proof: Uint8Array;
  /** The public signals, 32 bytes each. */
  signals: Uint8Array;
}
export interface CallPayload {
  kind: 'call';
  contract: Address;
  method: string;
  args: Uint8Array;
  /** Base units moved from the sender to the contract with the call. */
  value: bigint;
  /** Proofs the call carries (payload kind 5); absent or empty for a plain call (kind 2). */
  proofs?: AttachedProof[];
}
export interface ZkKeyPayload {
  kind: 'zk_key';
  /** The key's canonical bytes (zk/encoding.ts). */
  key: Uint8Array;
}
export interface ModelPayload {
  kind: 'model';
  op: ModelOp;
}
export type Payload = TransferPayload | DeployPayload | CallPayload | ModelPayload | ZkKeyPayload;

export interface Transaction {
  chainId: string;
  /** The sender's ed25519 public key; the sender's address is derived from it. */
  sender: Uint8Array;
  nonce: number;
  fee: bigint;
  gasLimit: number;
  payload: Payload;
}

/** A decoded, signed transaction with its canonical bytes and hash kept alongside. */
export interface SignedTransaction {
  tx: Transaction;
  signature: Uint8Array;
  bytes: Uint8Array;
  hash: Uint8Array;
}

function payloadTuple(p: Payload): CborValue {
  switch (p.kind) {
    case 'transfer':
      if (!(p.to instanceof Uint8Array) || p.to.length !== ADDRESS_LENGTH) throw new TypeError('transfer.to: expected a 20-byte address');
      return [PAYLOAD_TRANSFER, p.to, checkAmount(p.amount, 'transfer.amount')];
    case 'deploy':
      if (!(p.code instanceof Uint8Array) || !(p.args instanceof Uint8Array)) throw new TypeError('deploy: code and args must be bytes');
      return [PAYLOAD_DEPLOY, p.code, p.args];
    case 'call':
      if (!(p.contract instanceof Uint8Array) || p.contract.length !== ADDRESS_LENGTH) throw new TypeError('call.contract: expected a 20-byte address');
      if (typeof p.method !== 'string' || p.method.length === 0 || p.method.length > MAX_METHOD_LENGTH) {
        throw new TypeError(`call.method: expected a name of 1 to ${MAX_METHOD_LENGTH} characters`);
      }
      if (!(p.args instanceof Uint8Array)) throw new TypeError('call.args: expected bytes');
      if (p.proofs === undefined || p.proofs.length === 0) return [PAYLOAD_CALL, p.contract, p.method, p.args, checkAmount(p.value, 'call.value')];
      return [PAYLOAD_PROVEN_CALL, p.contract, p.method, p.args, checkAmount(p.value, 'call.value'), proofsTuple(p.proofs)];
    case 'model':
      return [PAYLOAD_MODEL, modelOpTuple(p.op)];
    case 'zk_key':
      if (!(p.key instanceof Uint8Array) || p.key.length > MAX_ZK_KEY_BYTES) throw new TypeError(`zk_key.key: expected at most ${MAX_ZK_KEY_BYTES} bytes`);
      return [PAYLOAD_ZK_KEY, p.key];
    default:
      throw new TypeError(`unknown payload kind ${JSON.stringify((p as { kind: unknown }).kind)}`);
  }
}

function proofsTuple(proofs: readonly AttachedProof[]): CborValue {
  if (proofs.length > MAX_TX_PROOFS) throw new TypeError(`call.proofs: at most ${MAX_TX_PROOFS} proofs`);
  return proofs.map((a, i) => {
    const ok = a.keyHash instanceof Uint8Array && a.keyHash.length === 32 && a.proof instanceof Uint8Array && a.proof.length === PROOF_BYTES
      && a.signals instanceof Uint8Array && a.signals.length % 32 === 0 && a.signals.length <= MAX_SIGNAL_BYTES;
    if (!ok) throw new TypeError(`call.proofs[${i}]: expected a 32-byte key hash, a ${PROOF_BYTES}-byte proof and 32-byte signals`);
    return [a.keyHash, a.proof, a.signals];
  });
}

function readProofs(v: CborValue | undefined): AttachedProof[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_TX_PROOFS) throw new CodecError('schema', `call.proofs: expected a list of 1 to ${MAX_TX_PROOFS} proofs`);
  return v.map((p, i) => {
    const [keyHash, proof, signals] = tuple(p, 3, `call.proofs[${i}]`);
    const s = bytes(signals, `call.proofs[${i}].signals`, { max: MAX_SIGNAL_BYTES });
    if (s.length % 32 !== 0) throw new CodecError('schema', `call.proofs[${i}].signals: ${s.length} bytes is not a whole number of 32-byte signals`);
    return { keyHash: bytes(keyHash, `call.proofs[${i}].keyHash`, 32), proof: bytes(proof, `call.proofs[${i}].proof`, PROOF_BYTES), signals: s };
  });
}

function unsignedTuple(tx: Transaction): CborValue {
  if (!(tx.sender instanceof Uint8Array) || tx.sender.length !== 32) throw new TypeError('tx.sender: expected a 32-byte public key');
  return [
    TX_VERSION,
    checkChainId(tx.chainId),
    tx.sender,
    checkUint(tx.nonce, 'tx.nonce'),
    checkAmount(tx.fee, 'tx.fee'),
    checkUint(tx.gasLimit, 'tx.gasLimit'),
    payloadTuple(tx.payload),
  ];
}

/** The exact bytes a sender signs. */
export function txSignBytes(tx: Transaction): Uint8Array {
  return concatBytes(TX_SIGN_DOMAIN, encodeCanonical(unsignedTuple(tx)));
}

export function signTransaction(tx: Transaction, secretKey: Uint8Array): SignedTransaction {
  const unsigned = unsignedTuple(tx);
  const signature = sign(secretKey, concatBytes(TX_SIGN_DOMAIN, encodeCanonical(unsigned)));
  const encoded = encodeCanonical([unsigned, signature]);
  return { tx, signature, bytes: encoded, hash: sha256(encoded) };
}

export function encodeSignedTransaction(stx: Pick<SignedTransaction, 'tx' | 'signature'>): Uint8Array {
  if (!(stx.signature instanceof Uint8Array) || stx.signature.length !== 64) throw new TypeError('signature: expected 64 bytes');
  return encodeCanonical([unsignedTuple(stx.tx), stx.signature]);
}

function readPayload(v: CborValue | undefined): Payload {
  if (!Array.isArray(v) || v.length === 0) throw new CodecError('schema', 'tx.payload: expected a list');
  const kind = v[0];
  if (kind === PAYLOAD_TRANSFER) {
    const [, to, amt] = tuple(v, 3, 'tx.payload(transfer)');
    return { kind: 'transfer', to: bytes(to, 'transfer.to', ADDRESS_LENGTH), amount: amount(amt, 'transfer.amount') };
  }
  if (kind === PAYLOAD_DEPLOY) {
    const [, code, args] = tuple(v, 3, 'tx.payload(deploy)');
    return { kind: 'deploy', code: bytes(code, 'deploy.code', { max: MAX_TX_BYTES }), args: bytes(args, 'deploy.args', { max: MAX_TX_BYTES }) };
  }
  if (kind === PAYLOAD_CALL || kind === PAYLOAD_PROVEN_CALL) {
    const proven = kind === PAYLOAD_PROVEN_CALL;
    const [, contract, method, args, value, proofs] = tuple(v, proven ? 6 : 5, proven ? 'tx.payload(proven call)' : 'tx.payload(call)');
    const name = text(method, 'call.method', MAX_METHOD_LENGTH);
    if (name.length === 0) throw new CodecError('schema', 'call.method: empty');
    const call: CallPayload = { kind: 'call', contract: bytes(contract, 'call.contract', ADDRESS_LENGTH), method: name, args: bytes(args, 'call.args', { max: MAX_TX_BYTES }), value: amount(value, 'call.value') };
    if (proven) call.proofs = readProofs(proofs);
    return call;
  }
  if (kind === PAYLOAD_ZK_KEY) {
    const [, key] = tuple(v, 2, 'tx.payload(zk_key)');
    return { kind: 'zk_key', key: bytes(key, 'zk_key.key', { max: MAX_ZK_KEY_BYTES }) };
  }
  if (kind === PAYLOAD_MODEL) {
    const [, op] = tuple(v, 2, 'tx.payload(model)');
    return { kind: 'model', op: readModelOp(op) };
  }
  throw new CodecError('schema', `tx.payload: unknown kind ${JSON.stringify(kind)}`);
}

/**
 * Decodes and shape-checks a signed transaction. It does not check the signature. `hash`, when the
 * caller has already hashed these bytes (a block's transactions are hashed for its header), is
 * taken as the transaction's hash instead of hashing them again.
 */
export function decodeSignedTransaction(encoded: Uint8Array, maxBytes = MAX_TX_BYTES, hash?: Uint8Array): SignedTransaction {
  const [unsigned, signature] = tuple(decodeCanonical(encoded, 'transaction', maxBytes), 2, 'transaction');
  const [version, chainId, sender, nonce, fee, gasLimit, payload] = tuple(unsigned!, 7, 'tx');
  if (version !== TX_VERSION) throw new CodecError('schema', `tx.version: unsupported version ${JSON.stringify(version)}`);
  const tx: Transaction = {
    chainId: readChainId(chainId, 'tx.chainId'),
    sender: bytes(sender, 'tx.sender', 32),
    nonce: uint(nonce, 'tx.nonce'),
    fee: amount(fee, 'tx.fee'),
    gasLimit: uint(gasLimit, 'tx.gasLimit'),
    payload: readPayload(payload),
  };
  return { tx, signature: bytes(signature, 'transaction.signature', 64), bytes: encoded, hash: hash ?? sha256(encoded) };
}

export function senderAddress(stx: SignedTransaction): Address {
  return addressOf(stx.tx.sender);
}

/**
 * The bytes the sender signed, taken from the bytes actually received: the signed encoding is a
 * 2-item list header (1 byte), the unsigned transaction, then the 64-byte signature with its 2-byte
 * header, so the signed-over bytes are a slice of it and need no re-encoding.
 */
export function signedMessage(stx: SignedTransaction): Uint8Array {
  return concatBytes(TX_SIGN_DOMAIN, stx.bytes.subarray(1, stx.bytes.length - 66));
}

/** What the signature rule checks for a transaction: its sender's key, its sign bytes, its signature. */
export function signedItemOf(stx: SignedTransaction): SignedItem {
  return { publicKey: stx.tx.sender, message: signedMessage(stx), signature: stx.signature };
}

export function verifyTransactionSignature(stx: SignedTransaction): boolean {
  return verifySignature(stx.tx.sender, signedMessage(stx), stx.signature);
}
