/**
 * The manifest of a model fingerprint (format v1): one entry per file, { path, size, digest,
 * algorithm }, sorted by the UTF-8 bytes of path; the fingerprint is the RFC 6962 Merkle root
 * (chain/merkle.ts) of each entry's leaf, encodeCanonical(["hallmark/file/v1", path, size, digest]).
 *
 * A file of at most SHARD_BYTES is digested with plain sha256 (what sha256sum prints and what the
 * Hugging Face Hub records as its LFS oid); a bigger one is cut into 64 MiB shards hashed in
 * parallel and digested by shardedDigest. The algorithm follows from the size, so the canonical
 * CBOR form of a manifest (a list of [path, size, digest]) does not store it, and decoding checks
 * everything a reader could be fooled by: order, duplicates, sizes, digest lengths and paths that
 * could climb out of the model's folder.
 */
import { concatBytes, equalBytes, u64be, utf8 } from '../chain/bytes.ts';
import { CodecError, bytes, decodeCanonical, encodeCanonical, list, text, tuple, uint, type CborValue } from '../chain/codec.ts';
import { sha256 } from '../chain/hash.ts';
import { merkleRoot } from '../chain/merkle.ts';
import { FingerprintError } from './errors.ts';
import { comparePaths } from './walk.ts';

/** The shard size of format v1: 64 MiB. */
export const SHARD_BYTES = 64 * 1024 * 1024;
export const FORMAT_VERSION = 1;

export type DigestAlgorithm = 'sha256' | 'sha256-shards-64MiB';

export interface ManifestEntry {
  path: string;
  size: number;
  digest: Uint8Array;
  algorithm: DigestAlgorithm;
}

export interface ManifestDiff {
  missing: string[];
  extra: string[];
  changed: { path: string; expected: { size: number; digest: Uint8Array }; actual: { size: number; digest: Uint8Array } }[];
}

/** The most entries and the longest path a decoded manifest may hold. */
export const MAX_MANIFEST_ENTRIES = 1_000_000;
export const MAX_PATH_LENGTH = 4096;

const FILE_LEAF = 'hallmark/file/v1';
const SHARDS_PREFIX = utf8('hallmark/file-shards/v1\n');

export function algorithmFor(size: number): DigestAlgorithm {
  return size > SHARD_BYTES ? 'sha256-shards-64MiB' : 'sha256';
}

/** How many shards a file of `size` bytes is hashed in (1 for a file that is not sharded). */
export function shardCount(size: number): number {
  return size > SHARD_BYTES ? Math.ceil(size / SHARD_BYTES) : 1;
}

/** sha256("hallmark/file-shards/v1\n" || u64be(size) || u64be(SHARD_BYTES) || d_0 || d_1 || ...). */
export function shardedDigest(size: number, shardDigests: readonly Uint8Array[]): Uint8Array {
  if (!Number.isSafeInteger(size) || size <= SHARD_BYTES) throw new RangeError(`shardedDigest: a file of ${size} bytes is not sharded`);
  if (shardDigests.length !== shardCount(size)) {
    throw new RangeError(`shardedDigest: ${size} bytes is ${shardCount(size)} shards, got ${shardDigests.length} digests`);
  }
  if (shardDigests.some((d) => d.length !== 32)) throw new RangeError('shardedDigest: every shard digest is 32 bytes');
  return sha256(concatBytes(SHARDS_PREFIX, u64be(size), u64be(SHARD_BYTES), ...shardDigests));
}

export function fileLeaf(entry: ManifestEntry): Uint8Array {
  return encodeCanonical([FILE_LEAF, entry.path, entry.size, entry.digest]);
}

/** The directory fingerprint: the Merkle root of the leaves, once the manifest is checked. */
export function manifestRoot(entries: readonly ManifestEntry[]): Uint8Array {
  checkManifest(entries);
  return merkleRoot(entries.map(fileLeaf));
}

/** Why `path` cannot be a manifest path, or null if it can. */
export function pathProblem(path: string): string | null {
  if (path.length === 0) return 'empty path';
  if (path.length > MAX_PATH_LENGTH) return `path longer than ${MAX_PATH_LENGTH} characters`;
  if (path.startsWith('/')) return 'path starts with /';
  if (path.includes('\\')) return 'path holds a backslash';
  if (path.includes('\0')) return 'path holds a NUL';
  for (const segment of path.split('/')) {
    if (segment === '') return 'path has an empty segment';
    if (segment === '.' || segment === '..') return `path has a ${segment} segment`;
  }
  return null;
}

/** Throws FingerprintError 'malformed' unless the entries are a well-formed manifest. */
export function checkManifest(entries: readonly ManifestEntry[]): void {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const problem = pathProblem(e.path);
    if (problem !== null) throw malformed(`${JSON.stringify(e.path)}: ${problem}`);
    if (!Number.isSafeInteger(e.size) || e.size < 0) throw malformed(`${e.path}: size ${e.size} is not a whole number of bytes`);
    if (!(e.digest instanceof Uint8Array) || e.digest.length !== 32) throw malformed(`${e.path}: digest is not 32 bytes`);
    if (e.algorithm !== algorithmFor(e.size)) throw malformed(`${e.path}: algorithm ${e.algorithm} does not fit a size of ${e.size} bytes`);
    if (i > 0) {
      const order = comparePaths(entries[i - 1]!.path, e.path);
      if (order === 0) throw malformed(`${e.path}: listed twice`);
      if (order > 0) throw malformed(`${e.path}: out of order (after ${entries[i - 1]!.path})`);
    }
  }
}

/** Canonical CBOR: a list of [path, size, digest] in manifest order. */
export function encodeManifest(entries: readonly ManifestEntry[]): Uint8Array {
  checkManifest(entries);
  return encodeCanonical(entries.map((e): CborValue => [e.path, e.size, e.digest]));
}

/** The inverse of encodeManifest; FingerprintError 'malformed' for anything it would not produce. */
export function decodeManifest(encoded: Uint8Array): ManifestEntry[] {
  let entries: ManifestEntry[];
  try {
    const items = list(decodeCanonical(encoded, 'manifest'), MAX_MANIFEST_ENTRIES, 'manifest');
    entries = items.map((item, i) => {
      const [path, size, digest] = tuple(item, 3, `manifest entry ${i}`);
      const s = uint(size, `manifest entry ${i} size`);
      return {
        path: text(path, `manifest entry ${i} path`, MAX_PATH_LENGTH),
        size: s,
        digest: bytes(digest, `manifest entry ${i} digest`, 32),
        algorithm: algorithmFor(s),
      };
    });
  } catch (err) {
    if (err instanceof CodecError) throw malformed(err.message);
    throw err;
  }
  checkManifest(entries);
  return entries;
}

/** What differs between the manifest a model should have and the one it has, by path. */
export function diffManifests(expected: readonly ManifestEntry[], actual: readonly ManifestEntry[]): ManifestDiff {
  const have = new Map(actual.map((e) => [e.path, e]));
  const want = new Set(expected.map((e) => e.path));
  const diff: ManifestDiff = { missing: [], extra: [], changed: [] };
  for (const e of expected) {
    const a = have.get(e.path);
    if (a === undefined) diff.missing.push(e.path);
    else if (a.size !== e.size || !equalBytes(a.digest, e.digest)) {
      diff.changed.push({ path: e.path, expected: { size: e.size, digest: e.digest }, actual: { size: a.size, digest: a.digest } });
    }
  }
  for (const a of actual) if (!want.has(a.path)) diff.extra.push(a.path);
  diff.missing.sort(comparePaths);
  diff.extra.sort(comparePaths);
  diff.changed.sort((x, y) => comparePaths(x.path, y.path));
  return diff;
}

function malformed(message: string): FingerprintError {
  return new FingerprintError('malformed', `manifest: ${message}`);
}
