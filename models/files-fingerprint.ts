/**
 * The fingerprint of a model's files (format v1): walk PATH (models/walk.ts), hash every file,
 * big ones shard by shard, on a pool of worker threads (models/hash-pool.ts), and fold the
 * manifest into its Merkle root (models/manifest.ts).
 *
 * Every range is queued to the pool at once, a small file as one job and a big one as one job per
 * 64 MiB shard, so all threads stay busy to the end whatever the mix of sizes; the pool takes jobs
 * in order. Progress is reported as jobs complete. A pool passed in is left open; one made here is
 * closed before returning, whatever happens.
 */
import { resolve } from 'node:path';
import { FingerprintError } from './errors.ts';
import { HashPool } from './hash-pool.ts';
import { algorithmFor, manifestRoot, pathProblem, SHARD_BYTES, shardCount, shardedDigest, type ManifestEntry } from './manifest.ts';
import { walkFiles, type WalkEntry } from './walk.ts';

export interface FingerprintProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export interface FingerprintOptions {
  /** A pool to hash on (left open); without one, a pool of `threads` is made and closed. */
  pool?: HashPool;
  threads?: number;
  followSymlinks?: boolean;
  onProgress?: (p: FingerprintProgress) => void;
  /** PATH's walk (models/walk.ts), when the caller has already made it; otherwise it is walked here. */
  files?: readonly WalkEntry[];
}

export interface FilesFingerprint {
  /** PATH, resolved to an absolute path. */
  root: string;
  manifest: ManifestEntry[];
  fingerprint: Uint8Array;
  /** Bytes hashed: the sum of the file sizes. */
  bytes: number;
  seconds: number;
}

export async function fingerprintFiles(path: string, opts: FingerprintOptions = {}): Promise<FilesFingerprint> {
  const start = performance.now();
  const root = resolve(path);
  const files = opts.files ?? await walkFiles(root, { followSymlinks: opts.followSymlinks ?? false });
  for (const f of files) {
    const problem = pathProblem(f.path);
    if (problem !== null) throw new FingerprintError('malformed', `${f.absolute}: cannot be named in a manifest (${problem})`);
  }
  const progress: FingerprintProgress = {
    files: 0,
    totalFiles: files.length,
    bytes: 0,
    totalBytes: files.reduce((sum, f) => sum + f.size, 0),
  };
  const report = (): void => opts.onProgress?.({ ...progress });
  report();
  const pool = opts.pool ?? new HashPool(opts.threads === undefined ? {} : { threads: opts.threads });
  try {
    const manifest = await Promise.all(files.map((f) => hashFile(pool, f, progress, report)));
    return { root, manifest, fingerprint: manifestRoot(manifest), bytes: progress.totalBytes, seconds: (performance.now() - start) / 1000 };
  } finally {
    if (opts.pool === undefined) await pool.close();
  }
}

/** Queues the file's jobs (all of them, now) and assembles its manifest entry when they are done. */
async function hashFile(pool: HashPool, file: WalkEntry, progress: FingerprintProgress, report: () => void): Promise<ManifestEntry> {
  const jobs = Array.from({ length: shardCount(file.size) }, (_, i) => {
    const offset = i * SHARD_BYTES;
    const length = Math.min(SHARD_BYTES, file.size - offset);
    return pool.hash({ path: file.absolute, offset, length }).then((digest) => {
      progress.bytes += length;
      report();
      return digest;
    });
  });
  const digests = await Promise.all(jobs);
  const algorithm = algorithmFor(file.size);
  const digest = algorithm === 'sha256' ? digests[0]! : shardedDigest(file.size, digests);
  progress.files++;
  report();
  return { path: file.path, size: file.size, digest, algorithm };
}
