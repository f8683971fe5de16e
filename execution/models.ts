/**
 * The model registry, a native module of the executor: what each model operation (chain/model-op.ts)
 * does to the state (execution/model-state.ts). It runs inside a transaction after its fee and nonce
 * (execution/transaction.ts); an operation the state refuses fails the transaction as
 * `model_refused` with the reason, and the transaction's writes are reverted.
 *
 * Rules:
 * - register: the fingerprint is not registered yet; every parent is registered (so a lineage can
 *   only point back in time: no cycles); parents are distinct; the manifest's Merkle root is the
 *   fingerprint and the tensor list's root the tensor fingerprint. The sender becomes the owner.
 * - update (license, metadata URI, evaluation digest), revoke (with a reason), transfer, supersede:
 *   only the owner, and not on a revoked record. Revocation is final. Supersede points an active
 *   record at another active one and makes it `superseded`, so supersede chains have no cycles.
 * - attest: anyone, on any registered record; the attestation's id is its transaction's hash and
 *   only its author can revoke it. The owner cannot remove it.
 */
import { formatAddress, type Address } from '../chain/address.ts';
import { equalBytes, toHex } from '../chain/bytes.ts';
import type { Header } from '../chain/block.ts';
import { CodedError } from '../chain/errors.ts';
import type { ModelOp, RegisterModel } from '../chain/model-op.ts';
import type { Event } from '../chain/receipt.ts';
import type { StateOverlay } from '../state/overlay.ts';
import { decodeManifest, manifestRoot } from '../models/manifest.ts';
import { decodeTensors, tensorRoot } from '../models/tensors.ts';
import {
  attestationKey, decodeAttestation, decodeModelRecord, encodeAttestation, encodeModelRecord, encodeStoredManifest,
  LIST, listAppend, listRemove, manifestKey, recordKey, type ModelRecord,
} from '../models/record.ts';

/**
 * Gas of a model operation beyond the transaction's own (execution/transaction.ts): a base per
 * operation for its reads and writes of records and index entries, per parent (a read and an index
 * append), and per byte of the manifest and tensor list (decoded and hashed into their roots).
 */
export const MODEL_GAS = Object.freeze({
  register: 1_200_000, perParent: 250_000, manifestByte: 300,
  update: 400_000, revoke: 400_000, transfer: 900_000, attest: 700_000, revokeAttestation: 400_000, supersede: 600_000,
});

export function modelOpGas(op: ModelOp): number {
  switch (op.op) {
    case 'register':
      return MODEL_GAS.register + MODEL_GAS.perParent * op.parents.length +
        MODEL_GAS.manifestByte * (op.manifest.length + (op.tensors?.length ?? 0));
    case 'update': return MODEL_GAS.update;
    case 'revoke': return MODEL_GAS.revoke;
    case 'transfer': return MODEL_GAS.transfer;
    case 'attest': return MODEL_GAS.attest;
    case 'revoke_attestation': return MODEL_GAS.revokeAttestation;
    case 'supersede': return MODEL_GAS.supersede;
  }
}

/** Why the state refused an operation; the receipt's error is `code: message`. */
export class ModelRefusal extends CodedError<
  'duplicate' | 'unknown_parent' | 'duplicate_parent' | 'manifest_mismatch' | 'not_found' | 'not_owner' | 'revoked' | 'not_active' | 'not_author' | 'same_owner' | 'self_supersede'
> {}

const fp = (b: Uint8Array) => toHex(b);

async function readRecord(overlay: StateOverlay, fingerprint: Uint8Array): Promise<ModelRecord> {
  const raw = await overlay.get(recordKey(fingerprint));
  if (raw === undefined) throw new ModelRefusal('not_found', `no model with fingerprint ${fp(fingerprint)} is registered`);
  return decodeModelRecord(raw);
}

function ownerOnly(r: ModelRecord, sender: Address): void {
  if (!equalBytes(r.owner, sender)) throw new ModelRefusal('not_owner', `model ${fp(r.fingerprint)} is owned by ${formatAddress(r.owner)}, not the sender`);
  if (r.status === 'revoked') throw new ModelRefusal('revoked', `model ${fp(r.fingerprint)} is revoked (${r.revokeReason}); revocation is final`);
}

export interface ModelTxContext {
  sender: Address;
  header: Header;
  /** The transaction's hash: an attestation's id. */
  txHash: Uint8Array;
}

/** Applies one operation to `overlay`; returns its events, or throws ModelRefusal (the caller reverts). */
export async function executeModelOp(overlay: StateOverlay, op: ModelOp, ctx: ModelTxContext): Promise<Event[]> {
  const { sender, header } = ctx;
  const put = (r: ModelRecord) => overlay.set(recordKey(r.fingerprint), encodeModelRecord({ ...r, updatedHeight: header.height }));
  const event = (type: string, attributes: [string, string][]): Event[] => [{ type, attributes }];
  switch (op.op) {
    case 'register':
      return register(overlay, op, ctx);
    case 'update': {
      const r = await readRecord(overlay, op.fingerprint);
      ownerOnly(r, sender);
      put({ ...r, license: op.license, metadataUri: op.metadataUri, evalDigest: op.evalDigest });
      return event('model_update', [['fingerprint', fp(r.fingerprint)]]);
    }
    case 'revoke': {
      const r = await readRecord(overlay, op.fingerprint);
      ownerOnly(r, sender);
      put({ ...r, status: 'revoked', revokeReason: op.reason });
      return event('model_revoke', [['fingerprint', fp(r.fingerprint)], ['reason', op.reason]]);
    }
    case 'transfer': {
      const r = await readRecord(overlay, op.fingerprint);
      ownerOnly(r, sender);
      if (equalBytes(op.to, r.owner)) throw new ModelRefusal('same_owner', `${formatAddress(op.to)} already owns model ${fp(r.fingerprint)}`);
      await listRemove(overlay, LIST.byOwner, r.owner, r.fingerprint);
      await listAppend(overlay, LIST.byOwner, op.to, r.fingerprint);
      put({ ...r, owner: op.to });
      return event('model_transfer', [['fingerprint', fp(r.fingerprint)], ['from', formatAddress(r.owner)], ['to', formatAddress(op.to)]]);
    }
    case 'attest': {
      await readRecord(overlay, op.fingerprint);
      overlay.set(attestationKey(ctx.txHash), encodeAttestation({
        id: ctx.txHash, fingerprint: op.fingerprint, author: sender, kind: op.kind, value: op.value, digest: op.digest, uri: op.uri,
        height: header.height, time: header.time, revoked: false, revokeReason: null,
      }));
      await listAppend(overlay, LIST.attestations, op.fingerprint, ctx.txHash);
      return event('model_attest', [['fingerprint', fp(op.fingerprint)], ['id', fp(ctx.txHash)], ['author', formatAddress(sender)], ['kind', op.kind]]);
    }
    case 'revoke_attestation': {
      const raw = await overlay.get(attestationKey(op.id));
      if (raw === undefined) throw new ModelRefusal('not_found', `no attestation with id ${fp(op.id)}`);
      const a = decodeAttestation(raw);
      if (!equalBytes(a.author, sender)) throw new ModelRefusal('not_author', `attestation ${fp(op.id)} was made by ${formatAddress(a.author)}; only its author can revoke it`);
      if (a.revoked) throw new ModelRefusal('revoked', `attestation ${fp(op.id)} is already revoked`);
      overlay.set(attestationKey(op.id), encodeAttestation({ ...a, revoked: true, revokeReason: op.reason }));
      return event('model_attestation_revoke', [['id', fp(op.id)], ['fingerprint', fp(a.fingerprint)], ['reason', op.reason]]);
    }
    case 'supersede': {
      const r = await readRecord(overlay, op.fingerprint);
      ownerOnly(r, sender);
      if (equalBytes(op.by, op.fingerprint)) throw new ModelRefusal('self_supersede', 'a model cannot supersede itself');
      if (r.status !== 'active') throw new ModelRefusal('not_active', `model ${fp(r.fingerprint)} is already ${r.status}`);
      const newer = await readRecord(overlay, op.by);
      if (newer.status !== 'active') throw new ModelRefusal('not_active', `model ${fp(op.by)} is ${newer.status}; only an active model can supersede another`);
      put({ ...r, status: 'superseded', supersededBy: op.by });
      return event('model_supersede', [['fingerprint', fp(r.fingerprint)], ['by', fp(op.by)]]);
    }
  }
}

async function register(overlay: StateOverlay, op: RegisterModel, ctx: ModelTxContext): Promise<Event[]> {
  if (await overlay.get(recordKey(op.fingerprint)) !== undefined) {
    throw new ModelRefusal('duplicate', `a model with fingerprint ${fp(op.fingerprint)} is already registered`);
  }
  const seen = new Set<string>();
  for (const p of op.parents) {
    const key = fp(p.fingerprint);
    if (seen.has(key)) throw new ModelRefusal('duplicate_parent', `parent ${key} is listed twice`);
    seen.add(key);
    if (await overlay.get(recordKey(p.fingerprint)) === undefined) {
      throw new ModelRefusal('unknown_parent', `parent ${key} is not registered: register it first`);
    }
  }
  checkManifest(op);
  const { header, sender } = ctx;
  overlay.set(recordKey(op.fingerprint), encodeModelRecord({
    fingerprint: op.fingerprint, tensorFingerprint: op.tensorFingerprint, name: op.name, version: op.version, owner: sender,
    parents: op.parents, datasets: op.datasets, code: op.code, evalDigest: op.evalDigest, license: op.license, metadataUri: op.metadataUri,
    registeredHeight: header.height, registeredTime: header.time, updatedHeight: header.height, status: 'active', revokeReason: null, supersededBy: null,
  }));
  overlay.set(manifestKey(op.fingerprint), encodeStoredManifest(op.manifest, op.tensors));
  await listAppend(overlay, LIST.byOwner, sender, op.fingerprint);
  if (op.tensorFingerprint !== null) await listAppend(overlay, LIST.byTensor, op.tensorFingerprint, op.fingerprint);
  for (const p of op.parents) await listAppend(overlay, LIST.children, p.fingerprint, op.fingerprint);
  return [{
    type: 'model_register',
    attributes: [['fingerprint', fp(op.fingerprint)], ['name', op.name], ['version', op.version], ['owner', formatAddress(sender)],
      ...op.parents.map((p): [string, string] => ['parent', `${fp(p.fingerprint)}:${p.relation}`])],
  }];
}

/** The manifest and tensor list carried must be what the fingerprints are the roots of. */
function checkManifest(op: RegisterModel): void {
  let root: Uint8Array;
  try {
    root = manifestRoot(decodeManifest(op.manifest));
  } catch (err) {
    throw new ModelRefusal('manifest_mismatch', `the manifest does not decode: ${(err as Error).message}`);
  }
  if (!equalBytes(root, op.fingerprint)) {
    throw new ModelRefusal('manifest_mismatch', `the manifest's root is ${fp(root)}, not the fingerprint ${fp(op.fingerprint)}`);
  }
  if (op.tensors === null || op.tensorFingerprint === null) return;
  let troot: Uint8Array;
  try {
    troot = tensorRoot(decodeTensors(op.tensors));
  } catch (err) {
    throw new ModelRefusal('manifest_mismatch', `the tensor list does not decode: ${(err as Error).message}`);
  }
  if (!equalBytes(troot, op.tensorFingerprint)) {
    throw new ModelRefusal('manifest_mismatch', `the tensor list's root is ${fp(troot)}, not the tensor fingerprint ${fp(op.tensorFingerprint)}`);
  }
}
