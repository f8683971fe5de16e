/**
 * Model registry operations: the payload of a transaction of kind 3 (chain/tx.ts). Each operation
 * is a canonical CBOR tuple whose first item names it:
 *
 *   [0, fingerprint(32), tensorFingerprint(32)|null, name, version, [[parentFp(32), relation]...],
 *       [[datasetDigest(32), uri]...], [repository, commit]|null, evalDigest(32)|null,
 *       license|null, metadataUri|null, manifest, tensors|null]                         register
 *   [1, fingerprint, license|null, metadataUri|null, evalDigest|null]                   update
 *   [2, fingerprint, reason]                                                            revoke
 *   [3, fingerprint, to(20)]                                                            transfer
 *   [4, fingerprint, kind, value, digest(32)|null, uri|null]                            attest
 *   [5, attestationId(32), reason]                                                      revoke an attestation
 *   [6, fingerprint, by(32)]                                                            supersede
 *
 * This file checks form only (lengths, characters, the relation and license syntax). What the
 * state must hold (the fingerprint is free, the parents exist, the sender owns the record, the
 * manifest's root is the fingerprint) is the executor's (execution/models.ts). The manifest and
 * tensor lists are carried as their canonical encodings (models/manifest.ts, models/tensors.ts).
 */
import { ADDRESS_LENGTH, type Address } from './address.ts';
import { bytes, CodecError, list, optionalBytes, text, tuple, type CborValue } from './codec.ts';

export const MODEL_RELATIONS = ['finetune', 'adapter', 'merge', 'quantized', 'distilled'] as const;
export type ModelRelation = (typeof MODEL_RELATIONS)[number];

export const MODEL_LIMITS = Object.freeze({
  name: 128,
  version: 64,
  parents: 16,
  datasets: 32,
  uri: 512,
  repository: 256,
  commit: 64,
  license: 128,
  reason: 512,
  attestationKind: 64,
  attestationValue: 1024,
  /** The encoded file manifest and the encoded tensor list, each. */
  manifestBytes: 512 * 1024,
});

export interface ModelParent {
  fingerprint: Uint8Array;
  relation: ModelRelation;
}
export interface ModelDataset {
  digest: Uint8Array;
  uri: string;
}
export interface ModelCode {
  repository: string;
  commit: string;
}

/** What a registration says of a model, and its record keeps. */
export interface ModelDescription {
  fingerprint: Uint8Array;
  tensorFingerprint: Uint8Array | null;
  name: string;
  version: string;
  parents: ModelParent[];
  datasets: ModelDataset[];
  code: ModelCode | null;
  evalDigest: Uint8Array | null;
  license: string | null;
  metadataUri: string | null;
}

export interface RegisterModel extends ModelDescription {
  op: 'register';
  /** models/manifest.ts encodeManifest: its Merkle root must be `fingerprint`. */
  manifest: Uint8Array;
  /** models/tensors.ts encodeTensors: present exactly when tensorFingerprint is. */
  tensors: Uint8Array | null;
}
export interface UpdateModel {
  op: 'update';
  fingerprint: Uint8Array;
  license: string | null;
  metadataUri: string | null;
  evalDigest: Uint8Array | null;
}
export interface RevokeModel {
  op: 'revoke';
  fingerprint: Uint8Array;
  reason: string;
}
export interface TransferModel {
  op: 'transfer';
  fingerprint: Uint8Array;
  to: Address;
}
export interface AttestModel {
  op: 'attest';
  fingerprint: Uint8Array;
  /** What is claimed, e.g. `eval`, `scan`, `license-review`. */
  kind: string;
  /** The claim itself, e.g. `mmlu=0.684` or `clean`. */
  value: string;
  digest: Uint8Array | null;
  uri: string | null;
}
export interface RevokeAttestation {
  op: 'revoke_attestation';
  /** The attestation's id: the hash of the transaction that made it. */
  id: Uint8Array;
  reason: string;
}
export interface SupersedeModel {
  op: 'supersede';
  fingerprint: Uint8Array;
  by: Uint8Array;
}
export type ModelOp = RegisterModel | UpdateModel | RevokeModel | TransferModel | AttestModel | RevokeAttestation | SupersedeModel;

const OPS = ['register', 'update', 'revoke', 'transfer', 'attest', 'revoke_attestation', 'supersede'] as const;

const PRINTABLE = /^[^\p{Cc}\p{Cs}\p{Co}\p{Zl}\p{Zp}]*$/u;
/** An SPDX license identifier or expression: ids, `+`, parentheses, AND / OR / WITH, spaces. */
const SPDX = /^[A-Za-z0-9.+\-() :]+$/;
const COMMIT = /^[0-9a-f]{7,64}$/;

function fail(message: string): never {
  throw new CodecError('schema', message);
}

/** Text of 1..max characters with no control characters. */
function label(v: CborValue | undefined, what: string, max: number, allowEmpty = false): string {
  const s = text(v, what, max);
  if (!allowEmpty && s.length === 0) fail(`${what}: empty`);
  if (!PRINTABLE.test(s)) fail(`${what}: contains control characters`);
  return s;
}

function optionalLabel(v: CborValue | undefined, what: string, max: number): string | null {
  return v === null ? null : label(v, what, max);
}

function license(v: CborValue | undefined): string | null {
  const s = optionalLabel(v, 'model.license', MODEL_LIMITS.license);
  if (s !== null && !SPDX.test(s)) fail(`model.license: ${JSON.stringify(s)} is not an SPDX license id or expression`);
  return s;
}

function relation(v: CborValue | undefined, what: string): ModelRelation {
  const s = text(v, what, 16);
  if (!(MODEL_RELATIONS as readonly string[]).includes(s)) fail(`${what}: ${JSON.stringify(s)} is not one of ${MODEL_RELATIONS.join(', ')}`);
  return s as ModelRelation;
}

/** The tuple of an operation; throws TypeError or CodecError for a field out of form. */
export function modelOpTuple(op: ModelOp): CborValue {
  // Encode, then read back: one set of rules for what is written and what is accepted.
  const t = rawTuple(op);
  readModelOp(t);
  return t;
}

function rawTuple(op: ModelOp): CborValue {
  const code = OPS.indexOf(op.op);
  switch (op.op) {
    case 'register':
      return [code, op.fingerprint, op.tensorFingerprint, op.name, op.version,
        op.parents.map((p) => [p.fingerprint, p.relation]),
        op.datasets.map((d) => [d.digest, d.uri]),
        op.code === null ? null : [op.code.repository, op.code.commit],
        op.evalDigest, op.license, op.metadataUri, op.manifest, op.tensors];
    case 'update': return [code, op.fingerprint, op.license, op.metadataUri, op.evalDigest];
    case 'revoke': return [code, op.fingerprint, op.reason];
    case 'transfer': return [code, op.fingerprint, op.to];
    case 'attest': return [code, op.fingerprint, op.kind, op.value, op.digest, op.uri];
    case 'revoke_attestation': return [code, op.id, op.reason];
    case 'supersede': return [code, op.fingerprint, op.by];
    default: throw new TypeError(`unknown model operation ${JSON.stringify((op as { op: unknown }).op)}`);
  }
}

const hash32 = (v: CborValue | undefined, what: string) => bytes(v, what, 32);

/** Reads an operation's tuple (the payload after its kind), checking every field's form. */
export function readModelOp(v: CborValue | undefined): ModelOp {
  if (!Array.isArray(v) || v.length === 0) fail('model: expected a list');
  const op = OPS[v[0] as number];
  if (typeof v[0] !== 'number' || op === undefined) fail(`model: unknown operation ${JSON.stringify(v[0])}`);
  switch (op) {
    case 'register': {
      const [, fp, tfp, name, version, parents, datasets, code, evalDigest, lic, uri, manifest, tensors] = tuple(v, 13, 'model(register)');
      const ps = list(parents, MODEL_LIMITS.parents, 'model.parents').map((p, i): ModelParent => {
        const [pfp, rel] = tuple(p, 2, `model.parents[${i}]`);
        return { fingerprint: hash32(pfp, `model.parents[${i}].fingerprint`), relation: relation(rel, `model.parents[${i}].relation`) };
      });
      const ds = list(datasets, MODEL_LIMITS.datasets, 'model.datasets').map((d, i): ModelDataset => {
        const [digest, u] = tuple(d, 2, `model.datasets[${i}]`);
        return { digest: hash32(digest, `model.datasets[${i}].digest`), uri: label(u, `model.datasets[${i}].uri`, MODEL_LIMITS.uri) };
      });
      let c: ModelCode | null = null;
      if (code !== null) {
        const [repo, commit] = tuple(code!, 2, 'model.code');
        c = { repository: label(repo, 'model.code.repository', MODEL_LIMITS.repository), commit: text(commit, 'model.code.commit', MODEL_LIMITS.commit) };
        if (!COMMIT.test(c.commit)) fail(`model.code.commit: ${JSON.stringify(c.commit)} is not a lowercase hex commit id (7 to 64 digits)`);
      }
      const tfpOut = optionalBytes(tfp, 'model.tensorFingerprint', 32);
      const tensorsOut = tensors === null ? null : bytes(tensors, 'model.tensors', { max: MODEL_LIMITS.manifestBytes });
      if ((tfpOut === null) !== (tensorsOut === null)) fail('model: a tensor fingerprint and its tensor list come together');
      return {
        op, fingerprint: hash32(fp, 'model.fingerprint'), tensorFingerprint: tfpOut,
        name: label(name, 'model.name', MODEL_LIMITS.name), version: label(version, 'model.version', MODEL_LIMITS.version),
        parents: ps, datasets: ds, code: c, evalDigest: optionalBytes(evalDigest, 'model.evalDigest', 32),
        license: license(lic), metadataUri: optionalLabel(uri, 'model.metadataUri', MODEL_LIMITS.uri),
        manifest: bytes(manifest, 'model.manifest', { max: MODEL_LIMITS.manifestBytes }), tensors: tensorsOut,
      };
    }
    case 'update': {
      const [, fp, lic, uri, evalDigest] = tuple(v, 5, 'model(update)');
      return {
        op, fingerprint: hash32(fp, 'model.fingerprint'), license: license(lic),
        metadataUri: optionalLabel(uri, 'model.metadataUri', MODEL_LIMITS.uri), evalDigest: optionalBytes(evalDigest, 'model.evalDigest', 32),
      };
    }
    case 'revoke': {
      const [, fp, reason] = tuple(v, 3, 'model(revoke)');
      return { op, fingerprint: hash32(fp, 'model.fingerprint'), reason: label(reason, 'model.reason', MODEL_LIMITS.reason) };
    }
    case 'transfer': {
      const [, fp, to] = tuple(v, 3, 'model(transfer)');
      return { op, fingerprint: hash32(fp, 'model.fingerprint'), to: bytes(to, 'model.to', ADDRESS_LENGTH) };
    }
    case 'attest': {
      const [, fp, kind, value, digest, uri] = tuple(v, 6, 'model(attest)');
      return {
        op, fingerprint: hash32(fp, 'model.fingerprint'), kind: label(kind, 'attestation.kind', MODEL_LIMITS.attestationKind),
        value: label(value, 'attestation.value', MODEL_LIMITS.attestationValue, true),
        digest: optionalBytes(digest, 'attestation.digest', 32), uri: optionalLabel(uri, 'attestation.uri', MODEL_LIMITS.uri),
      };
    }
    case 'revoke_attestation': {
      const [, id, reason] = tuple(v, 3, 'model(revoke_attestation)');
      return { op, id: hash32(id, 'attestation.id'), reason: label(reason, 'attestation.reason', MODEL_LIMITS.reason) };
    }
    case 'supersede': {
      const [, fp, by] = tuple(v, 3, 'model(supersede)');
      return { op, fingerprint: hash32(fp, 'model.fingerprint'), by: hash32(by, 'model.by') };
    }
  }
}
