/**
 * The JSON of the model registry's answers: a record, an attestation, and the proof bundle of
 * model_getProof. Each record and attestation carries the state `key` it is stored under, so any
 * answer can be checked with state_getProof at the answer's `height`.
 */
import { z } from 'zod';
import { formatAddress } from '../chain/address.ts';
import { MODEL_RELATIONS } from '../chain/model-op.ts';
import { attestationKey, MODEL_STATUSES, recordKey, type Attestation, type ModelRecord } from '../models/record.ts';
import { AddressOut, Hash32, hex, hexOut, rfc3339, TimeOut, Uint } from './json.ts';

const Fp = hexOut('model fingerprint', 32);

export const ModelJson = z.object({
  key: hexOut('the state key the record is stored under (state_getProof proves it)'),
  fingerprint: Fp,
  tensor_fingerprint: Fp.nullable(),
  name: z.string(),
  version: z.string(),
  owner: AddressOut,
  parents: z.array(z.object({ fingerprint: Fp, relation: z.enum(MODEL_RELATIONS) })),
  datasets: z.array(z.object({ digest: Hash32, uri: z.string() })),
  training_code: z.object({ repository: z.string(), commit: z.string() }).nullable(),
  eval_digest: Hash32.nullable(),
  license: z.string().nullable().describe('SPDX license id or expression'),
  metadata_uri: z.string().nullable(),
  registered_height: Uint,
  registered_time: TimeOut,
  updated_height: Uint,
  status: z.enum(MODEL_STATUSES),
  revoke_reason: z.string().nullable(),
  superseded_by: Fp.nullable(),
});
export type ModelJsonOut = z.infer<typeof ModelJson>;

export function modelJson(r: ModelRecord): ModelJsonOut {
  return {
    key: hex(recordKey(r.fingerprint)),
    fingerprint: hex(r.fingerprint),
    tensor_fingerprint: r.tensorFingerprint === null ? null : hex(r.tensorFingerprint),
    name: r.name,
    version: r.version,
    owner: formatAddress(r.owner),
    parents: r.parents.map((p) => ({ fingerprint: hex(p.fingerprint), relation: p.relation })),
    datasets: r.datasets.map((d) => ({ digest: hex(d.digest), uri: d.uri })),
    training_code: r.code,
    eval_digest: r.evalDigest === null ? null : hex(r.evalDigest),
    license: r.license,
    metadata_uri: r.metadataUri,
    registered_height: r.registeredHeight,
    registered_time: rfc3339(r.registeredTime),
    updated_height: r.updatedHeight,
    status: r.status,
    revoke_reason: r.revokeReason,
    superseded_by: r.supersededBy === null ? null : hex(r.supersededBy),
  };
}

export const AttestationJson = z.object({
  key: hexOut('the state key the attestation is stored under'),
  id: Hash32.describe('the hash of the transaction that made it'),
  fingerprint: Fp,
  author: AddressOut,
  kind: z.string(),
  value: z.string(),
  digest: Hash32.nullable(),
  uri: z.string().nullable(),
  height: Uint,
  time: TimeOut,
  revoked: z.boolean(),
  revoke_reason: z.string().nullable(),
});

export function attestationJson(a: Attestation): z.infer<typeof AttestationJson> {
  return {
    key: hex(attestationKey(a.id)), id: hex(a.id), fingerprint: hex(a.fingerprint), author: formatAddress(a.author), kind: a.kind,
    value: a.value, digest: a.digest === null ? null : hex(a.digest), uri: a.uri, height: a.height, time: rfc3339(a.time),
    revoked: a.revoked, revoke_reason: a.revokeReason,
  };
}

const ProvedValue = z.object({
  key: hexOut('state key'),
  value: hexOut('stored value').nullable().describe('null when the key is absent'),
  proof: hexOut('proof in the state/proof.ts canonical encoding'),
});

export const ModelProofJson = z.object({
  height: Uint.describe('the state version proven: the state after this block'),
  root: Hash32.describe('the state root at height'),
  record: ProvedValue.describe("the record (value: its canonical encoding), or its absence"),
  manifest: ProvedValue.describe('the file manifest and tensor list as registered'),
  header: hexOut("canonical encoding of the header of block height + 1, whose state_root is root"),
  commit: hexOut('canonical encoding of the +2/3 precommits for block height + 1'),
});

/** Cursors are opaque strings; these carry an offset into a list or a walk. */
export const CursorIn = z.string().regex(/^(?:0|[1-9][0-9]{0,8})$/, 'not a cursor this method gave').optional();
export const CursorOut = z.string().nullable().describe('pass as cursor to get the next page; null after the last');
export const LimitIn = (max: number, dflt: number) => Uint.min(1).max(max).optional().describe(`items per page (default ${dflt}, at most ${max})`);
