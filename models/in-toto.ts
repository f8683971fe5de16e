/**
 * A model fingerprint as an in-toto Statement v1 (https://in-toto.io/Statement/v1), the envelope
 * payload Sigstore, SLSA and the OpenSSF model-signing tool sign. Its one subject is the model,
 * named as the caller names it, with the fingerprint under "sha256" (model-signing likewise puts a
 * manifest-derived digest there, not the sha256 of any one file). The predicate,
 * https://hallmark.dev/model-manifest/v1, carries what a verifier needs to recompute it: the
 * fingerprint, the tensor fingerprint (or null), the format version, the shard size and every
 * file as a resource { name, size, algorithm, digest }.
 */
import { toHex } from '../chain/bytes.ts';
import { FORMAT_VERSION, SHARD_BYTES, type DigestAlgorithm, type ManifestEntry } from './manifest.ts';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://hallmark.dev/model-manifest/v1';

export interface ModelManifestPredicate {
  fingerprint: string;
  tensorFingerprint: string | null;
  formatVersion: number;
  shardBytes: number;
  resources: { name: string; size: number; algorithm: DigestAlgorithm; digest: string }[];
}

export interface InTotoStatement {
  _type: typeof STATEMENT_TYPE;
  subject: { name: string; digest: { sha256: string } }[];
  predicateType: typeof PREDICATE_TYPE;
  predicate: ModelManifestPredicate;
}

export function inTotoStatement(
  name: string,
  fingerprint: Uint8Array,
  manifest: readonly ManifestEntry[],
  tensorFingerprint: Uint8Array | null = null,
): InTotoStatement {
  const hex = toHex(fingerprint);
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name, digest: { sha256: hex } }],
    predicateType: PREDICATE_TYPE,
    predicate: {
      fingerprint: hex,
      tensorFingerprint: tensorFingerprint === null ? null : toHex(tensorFingerprint),
      formatVersion: FORMAT_VERSION,
      shardBytes: SHARD_BYTES,
      resources: manifest.map((e) => ({ name: e.path, size: e.size, algorithm: e.algorithm, digest: toHex(e.digest) })),
    },
  };
}
