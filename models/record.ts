/**
 * The model registry's state: where each record, manifest, attestation and index entry lives in the
 * authenticated tree, and how each is encoded. The executor writes it (execution/models.ts); the
 * RPC reads it; a light client (models/light-client.ts) decodes what it has proven. Everything here
 * is under a tree key, so `state_getProof` proves any of it; only the name index used by
 * `model_search` lives beside the tree in LevelDB (execution/model-names.ts).
 *
 * State keys:
 *   0x10 || fingerprint                      -> record (encodeModelRecord)
 *   0x11 || fingerprint                      -> [file manifest, tensor list | null] as registered
 *   0x12 || family || id                     -> count of the list (canonical uint)
 *   0x13 || family || id || u32be(i)         -> the list's item i
 *   0x14 || family || id || item             -> i (removable lists only: an owner's records)
 *   0x15 || attestation id                   -> attestation (encodeAttestation)
 * Lists (family byte): 1 records by owner (id: address), 2 records by tensor fingerprint, 3 the
 * children of a record (id: the parent's fingerprint), 4 a record's attestations. Lists are
 * append-only except an owner's, which a transfer removes from by moving the last item into the gap.
 */
import { ADDRESS_LENGTH, type Address } from '../chain/address.ts';
import { concatBytes } from '../chain/bytes.ts';
import {
  bytes, decodeCanonical, encodeCanonical, list, optionalBytes, text, tuple, uint, type CborValue,
} from '../chain/codec.ts';
import type { ModelDescription, ModelRelation } from '../chain/model-op.ts';
import type { StateOverlay } from '../state/overlay.ts';

export const MODEL_STATUSES = ['active', 'revoked', 'superseded'] as const;
export type ModelStatus = (typeof MODEL_STATUSES)[number];

export interface ModelRecord extends ModelDescription {
  owner: Address;
  registeredHeight: number;
  /** Block time, ms since the epoch. */
  registeredTime: number;
  /** Height of the last change to the record (its registration at first). */
  updatedHeight: number;
  status: ModelStatus;
  revokeReason: string | null;
  supersededBy: Uint8Array | null;
}

export interface Attestation {
  /** The hash of the transaction that made it. */
  id: Uint8Array;
  fingerprint: Uint8Array;
  author: Address;
  kind: string;
  value: string;
  digest: Uint8Array | null;
  uri: string | null;
  height: number;
  time: number;
  revoked: boolean;
  revokeReason: string | null;
}

const RECORD = 0x10;
const MANIFEST = 0x11;
const LIST_COUNT = 0x12;
const LIST_ITEM = 0x13;
const LIST_POS = 0x14;
const ATTESTATION = 0x15;

export const LIST = Object.freeze({ byOwner: 1, byTensor: 2, children: 3, attestations: 4 });
export type ListFamily = (typeof LIST)[keyof typeof LIST];

export const recordKey = (fp: Uint8Array) => concatBytes(Uint8Array.of(RECORD), fp);
export const manifestKey = (fp: Uint8Array) => concatBytes(Uint8Array.of(MANIFEST), fp);
export const attestationKey = (id: Uint8Array) => concatBytes(Uint8Array.of(ATTESTATION), id);
const listId = (family: ListFamily, id: Uint8Array) => concatBytes(Uint8Array.of(family), id);
export const listCountKey = (family: ListFamily, id: Uint8Array) => concatBytes(Uint8Array.of(LIST_COUNT), listId(family, id));
export const listItemKey = (family: ListFamily, id: Uint8Array, i: number) => {
  const index = new Uint8Array(4);
  new DataView(index.buffer).setUint32(0, i);
  return concatBytes(Uint8Array.of(LIST_ITEM), listId(family, id), index);
};
const listPosKey = (family: ListFamily, id: Uint8Array, item: Uint8Array) => concatBytes(Uint8Array.of(LIST_POS), listId(family, id), item);

/** True for a tree key that holds a model record: what the name index follows. */
export function isRecordKey(key: Uint8Array): boolean {
  return key.length === 33 && key[0] === RECORD;
}

// ---- encodings

const STATUS_CODE: Record<ModelStatus, number> = { active: 0, revoked: 1, superseded: 2 };

export function encodeModelRecord(r: ModelRecord): Uint8Array {
  return encodeCanonical([
    r.fingerprint, r.tensorFingerprint, r.name, r.version, r.owner,
    r.parents.map((p) => [p.fingerprint, p.relation]), r.datasets.map((d) => [d.digest, d.uri]),
    r.code === null ? null : [r.code.repository, r.code.commit], r.evalDigest, r.license, r.metadataUri,
    r.registeredHeight, r.registeredTime, r.updatedHeight, STATUS_CODE[r.status], r.revokeReason, r.supersededBy,
  ]);
}

const optionalText = (v: CborValue | undefined, what: string, max: number) => (v === null ? null : text(v, what, max));

/** Reads a stored record. What is stored was checked when written; this still refuses anything out of shape. */
export function decodeModelRecord(b: Uint8Array): ModelRecord {
  const [fp, tfp, name, version, owner, parents, datasets, code, evalDigest, license, uri, height, time, updated, status, reason, by] =
    tuple(decodeCanonical(b, 'model record', 1 << 20), 17, 'model record');
  const statusName = MODEL_STATUSES[uint(status, 'model.status', MODEL_STATUSES.length - 1)]!;
  return {
    fingerprint: bytes(fp, 'model.fingerprint', 32),
    tensorFingerprint: optionalBytes(tfp, 'model.tensorFingerprint', 32),
    name: text(name, 'model.name', 1024),
    version: text(version, 'model.version', 1024),
    owner: bytes(owner, 'model.owner', ADDRESS_LENGTH),
    parents: list(parents, 1024, 'model.parents').map((p) => {
      const [pfp, rel] = tuple(p, 2, 'model.parent');
      return { fingerprint: bytes(pfp, 'model.parent', 32), relation: text(rel, 'model.relation', 16) as ModelRelation };
    }),
    datasets: list(datasets, 1024, 'model.datasets').map((d) => {
      const [digest, u] = tuple(d, 2, 'model.dataset');
      return { digest: bytes(digest, 'model.dataset.digest', 32), uri: text(u, 'model.dataset.uri', 4096) };
    }),
    code: code === null ? null : (() => {
      const [repository, commit] = tuple(code!, 2, 'model.code');
      return { repository: text(repository, 'model.code.repository', 4096), commit: text(commit, 'model.code.commit', 128) };
    })(),
    evalDigest: optionalBytes(evalDigest, 'model.evalDigest', 32),
    license: optionalText(license, 'model.license', 1024),
    metadataUri: optionalText(uri, 'model.metadataUri', 4096),
    registeredHeight: uint(height, 'model.registeredHeight'),
    registeredTime: uint(time, 'model.registeredTime'),
    updatedHeight: uint(updated, 'model.updatedHeight'),
    status: statusName,
    revokeReason: optionalText(reason, 'model.revokeReason', 4096),
    supersededBy: optionalBytes(by, 'model.supersededBy', 32),
  };
}

export function encodeAttestation(a: Attestation): Uint8Array {
  return encodeCanonical([a.id, a.fingerprint, a.author, a.kind, a.value, a.digest, a.uri, a.height, a.time, a.revoked, a.revokeReason]);
}

export function decodeAttestation(b: Uint8Array): Attestation {
  const [id, fp, author, kind, value, digest, uri, height, time, revoked, reason] =
    tuple(decodeCanonical(b, 'attestation', 1 << 16), 11, 'attestation');
  if (typeof revoked !== 'boolean') throw new TypeError('attestation.revoked: expected a boolean');
  return {
    id: bytes(id, 'attestation.id', 32), fingerprint: bytes(fp, 'attestation.fingerprint', 32),
    author: bytes(author, 'attestation.author', ADDRESS_LENGTH), kind: text(kind, 'attestation.kind', 1024),
    value: text(value, 'attestation.value', 8192), digest: optionalBytes(digest, 'attestation.digest', 32),
    uri: optionalText(uri, 'attestation.uri', 4096), height: uint(height, 'attestation.height'), time: uint(time, 'attestation.time'),
    revoked, revokeReason: optionalText(reason, 'attestation.revokeReason', 4096),
  };
}

export function encodeStoredManifest(manifest: Uint8Array, tensors: Uint8Array | null): Uint8Array {
  return encodeCanonical([manifest, tensors]);
}

export function decodeStoredManifest(b: Uint8Array): { manifest: Uint8Array; tensors: Uint8Array | null } {
  const [manifest, tensors] = tuple(decodeCanonical(b, 'model manifest', 4 << 20), 2, 'model manifest');
  return { manifest: bytes(manifest, 'manifest', { max: 4 << 20 }), tensors: tensors === null ? null : bytes(tensors, 'tensors', { max: 4 << 20 }) };
}

// ---- lists

/** Reads state at one version: a committed height or a block's overlay. */
export type StateGet = (key: Uint8Array) => Promise<Uint8Array | undefined>;

export async function listCount(get: StateGet, family: ListFamily, id: Uint8Array): Promise<number> {
  const raw = await get(listCountKey(family, id));
  return raw === undefined ? 0 : uint(decodeCanonical(raw, 'list count', 16), 'list count');
}

/** Items [from, from + limit) of a list, in list order. */
export async function listItems(get: StateGet, family: ListFamily, id: Uint8Array, from: number, limit: number): Promise<{ items: Uint8Array[]; total: number }> {
  const total = await listCount(get, family, id);
  const items: Uint8Array[] = [];
  for (let i = from; i < Math.min(total, from + limit); i++) {
    const item = await get(listItemKey(family, id, i));
    if (item === undefined) throw new Error(`model index: item ${i} of a list of ${total} is missing`);
    items.push(item);
  }
  return { items, total };
}

/** Appends `item`; for the owner family also records its position so it can be removed. */
export async function listAppend(overlay: StateOverlay, family: ListFamily, id: Uint8Array, item: Uint8Array): Promise<void> {
  const get = (k: Uint8Array) => overlay.get(k);
  const n = await listCount(get, family, id);
  overlay.set(listItemKey(family, id, n), item);
  overlay.set(listCountKey(family, id), encodeCanonical(n + 1));
  if (family === LIST.byOwner) overlay.set(listPosKey(family, id, item), encodeCanonical(n));
}

/** Removes `item` from a removable list, moving the last item into its place. */
export async function listRemove(overlay: StateOverlay, family: ListFamily, id: Uint8Array, item: Uint8Array): Promise<void> {
  const get = (k: Uint8Array) => overlay.get(k);
  const posRaw = await overlay.get(listPosKey(family, id, item));
  if (posRaw === undefined) throw new Error('model index: the item to remove is not in the list');
  const pos = uint(decodeCanonical(posRaw, 'list position', 16), 'list position');
  const last = (await listCount(get, family, id)) - 1;
  if (pos !== last) {
    const moved = (await overlay.get(listItemKey(family, id, last)))!;
    overlay.set(listItemKey(family, id, pos), moved);
    overlay.set(listPosKey(family, id, moved), encodeCanonical(pos));
  }
  overlay.delete(listItemKey(family, id, last));
  overlay.delete(listPosKey(family, id, item));
  if (last === 0) overlay.delete(listCountKey(family, id));
  else overlay.set(listCountKey(family, id), encodeCanonical(last));
}
