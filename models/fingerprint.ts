/**
 * A model's two fingerprints on one hash pool: the directory fingerprint of its files
 * (models/files-fingerprint.ts) and, when its weights are in safetensors or GGUF, the tensor
 * fingerprint (models/tensors.ts), whose tensor ranges are hashed on the same pool after the files.
 * `compareModel` says how a model on disk differs from a registered manifest and tensor list.
 */
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FingerprintError } from './errors.ts';
import { fingerprintFiles, type FingerprintOptions, type FingerprintProgress } from './files-fingerprint.ts';
import { HashPool } from './hash-pool.ts';
import { decodeManifest, diffManifests, type ManifestDiff, type ManifestEntry } from './manifest.ts';
import { walkFiles } from './walk.ts';
import { decodeTensors, diffTensors, tensorFingerprint, type TensorDiff, type TensorEntry, type TensorFormat } from './tensors.ts';

export type { FingerprintProgress };

export interface ModelFingerprint {
  /** PATH, resolved. */
  root: string;
  fingerprint: Uint8Array;
  manifest: ManifestEntry[];
  /** Null when the model has no weights in a format read here. */
  tensorFingerprint: Uint8Array | null;
  tensors: TensorEntry[] | null;
  format: TensorFormat | null;
  /** Bytes of the files hashed (tensor bytes are hashed again for the tensor fingerprint). */
  bytes: number;
  seconds: number;
}

export interface ModelFingerprintOptions extends FingerprintOptions {
  /** Compute the tensor fingerprint too (default true). */
  tensors?: boolean;
}

/**
 * Below this many bytes a model is hashed in the calling thread unless told otherwise: starting the
 * workers (~0.2-0.5 s, each loading its module) costs more than hashing a few MiB (~10 ms).
 */
export const INLINE_BELOW_BYTES = 32 * 1024 * 1024;

export async function fingerprintModel(path: string, opts: ModelFingerprintOptions = {}): Promise<ModelFingerprint> {
  const start = performance.now();
  const walked = opts.files ?? await walkFiles(path, { followSymlinks: opts.followSymlinks ?? false });
  const small = walked.reduce((n, f) => n + f.size, 0) < INLINE_BELOW_BYTES;
  const threads = opts.threads ?? (opts.pool === undefined && small ? 0 : undefined);
  const pool = opts.pool ?? new HashPool(threads === undefined ? {} : { threads });
  try {
    const files = await fingerprintFiles(path, { ...opts, pool, files: walked });
    // A single-file PATH names its file by its basename; its tensors are read from its folder.
    const dir = (await stat(files.root)).isFile() ? dirname(files.root) : files.root;
    const tensors = opts.tensors === false ? null
      : await tensorFingerprint(dir, files.manifest.map((e) => e.path), (job) => pool.hash(job));
    return {
      root: files.root, fingerprint: files.fingerprint, manifest: files.manifest,
      tensorFingerprint: tensors?.fingerprint ?? null, tensors: tensors?.tensors ?? null, format: tensors?.format ?? null,
      bytes: files.bytes, seconds: (performance.now() - start) / 1000,
    };
  } finally {
    if (opts.pool === undefined) await pool.close();
  }
}

export interface ModelComparison {
  files: ManifestDiff;
  /** Null when the registered model has no tensor list, or the files on disk have no tensors. */
  tensors: TensorDiff | null;
  /** True when nothing differs. */
  same: boolean;
}

/** How `local` differs from a registered manifest and tensor list (their canonical encodings). */
export function compareModel(local: ModelFingerprint, registered: { manifest: Uint8Array; tensors: Uint8Array | null }): ModelComparison {
  let manifest: ManifestEntry[];
  let tensors: TensorEntry[] | null;
  try {
    manifest = decodeManifest(registered.manifest);
    tensors = registered.tensors === null ? null : decodeTensors(registered.tensors);
  } catch (err) {
    throw new FingerprintError('malformed', `the registered manifest does not decode: ${(err as Error).message}`);
  }
  const files = diffManifests(manifest, local.manifest);
  const tensorDiff = tensors === null || local.tensors === null ? null : diffTensors(tensors, local.tensors);
  const empty = (d: { missing: unknown[]; extra: unknown[]; changed: unknown[] } | null) =>
    d === null || (d.missing.length === 0 && d.extra.length === 0 && d.changed.length === 0);
  return { files, tensors: tensorDiff, same: empty(files) && empty(tensorDiff) };
}
