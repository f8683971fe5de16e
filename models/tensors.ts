/**
 * The tensor fingerprint (docs: the "Tensors" part of fingerprint format v1): one leaf per tensor,
 * encodeCanonical(["hallmark/tensor/v1", name, dtype, shape, sha256(its bytes)]), and the Merkle
 * root of the leaves in the byte order of the names' UTF-8. It names what a model computes with,
 * not how it was packaged: re-sharding, header key order, alignment padding, `__metadata__` and GGUF
 * key/values leave it unchanged, while any tensor's bytes, dtype, shape or name change it, and
 * diffTensors says which tensors did.
 *
 * Which files hold the tensors (findTensors), given the model's regular files:
 *   1. `model.safetensors.index.json` at the top level: the shards it names (safetensors.ts);
 *   2. else every `*.safetensors` file at the top level, together (files in subfolders are other
 *      models' parts, as a diffusers repository's unet/ and vae/ are, whose names repeat);
 *   3. else exactly one top-level `*.gguf` file; or several that are one split set (`name-00001-of-0000N.gguf`,
 *      all N present and nothing else), together;
 *   4. else no tensor fingerprint (null): no weights we read, or several GGUF files that are not one
 *      set (a repository of quantizations is several models, and picking one would be a guess).
 * A tensor name in two files is an error naming both.
 *
 * Hashing goes through the caller's `hashRange`, handed every range at once so a pool can run them
 * in parallel; a zero-length tensor is sha256 of nothing without asking it.
 */
import { join } from 'node:path';
import { compareBytes, equalBytes, utf8 } from '../chain/bytes.ts';
import { bytes, decodeCanonical, encodeCanonical, list, tuple, uint, CodecError, type CborValue } from '../chain/codec.ts';
import { sha256 } from '../chain/hash.ts';
import { merkleRoot } from '../chain/merkle.ts';
import { FingerprintError } from './errors.ts';
import { readGgufTensors } from './gguf.ts';
import { MAX_NAME_BYTES, type TensorSpan } from './header-io.ts';
import { readIndexedShards, readSafetensorsHeader } from './safetensors.ts';

export const TENSOR_LEAF_TAG = 'hallmark/tensor/v1';
export const SAFETENSORS_INDEX = 'model.safetensors.index.json';
/** The most tensors a decoded list may hold, and the most dims a decoded shape. */
const MAX_TENSORS = 10_000_000;
const MAX_DIMS = 64;

export type TensorFormat = 'safetensors' | 'gguf';

/** Where one tensor's bytes are: `file` absolute, `offset` absolute in it. */
export interface TensorSource extends TensorSpan {
  file: string;
}

export interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  digest: Uint8Array;
}

export interface HashJob {
  path: string;
  offset: number;
  length: number;
}

export interface TensorFingerprint {
  format: TensorFormat;
  /** Sorted by the UTF-8 bytes of name. */
  tensors: TensorEntry[];
  fingerprint: Uint8Array;
}

export interface TensorChange {
  name: string;
  expected: Omit<TensorEntry, 'name'>;
  actual: Omit<TensorEntry, 'name'>;
}

export interface TensorDiff {
  missing: string[];
  extra: string[];
  changed: TensorChange[];
}

const SPLIT_GGUF = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

/**
 * The tensors of the model whose regular files (relative POSIX paths under `root`) are `files`, by
 * the rules above, or null when it has none we read. Headers only: no tensor data is read.
 */
export async function findTensors(root: string, files: readonly string[]): Promise<{ format: TensorFormat; sources: TensorSource[] } | null> {
  if (files.includes(SAFETENSORS_INDEX)) {
    const headers = await readIndexedShards(root, SAFETENSORS_INDEX, files);
    return { format: 'safetensors', sources: collect(headers.map((h) => [h.file, h.tensors])) };
  }
  const topLevel = files.filter((f) => !f.includes('/'));
  const safetensors = topLevel.filter((f) => f.endsWith('.safetensors')).sort();
  if (safetensors.length > 0) {
    const headers = [];
    for (const f of safetensors) headers.push(await readSafetensorsHeader(join(root, f)));
    return { format: 'safetensors', sources: collect(headers.map((h) => [h.file, h.tensors])) };
  }
  const ggufs = ggufSet(topLevel.filter((f) => f.endsWith('.gguf')));
  if (ggufs === null) return null;
  const parts: [string, TensorSpan[]][] = [];
  for (const f of ggufs) parts.push([join(root, f), await readGgufTensors(join(root, f))]);
  return { format: 'gguf', sources: collect(parts) };
}

/** One GGUF file, or the files of one complete split set; otherwise null. */
function ggufSet(ggufs: string[]): string[] | null {
  if (ggufs.length === 1) return ggufs;
  if (ggufs.length === 0) return null;
  const sorted = [...ggufs].sort();
  const first = SPLIT_GGUF.exec(sorted[0]!);
  if (first === null || Number(first[3]) !== sorted.length) return null;
  const whole = sorted.every((f, i) => {
    const m = SPLIT_GGUF.exec(f);
    return m !== null && m[1] === first[1] && m[3] === first[3] && Number(m[2]) === i + 1;
  });
  return whole ? sorted : null;
}

/** The tensors of several files as one list, refusing a name found in two of them. */
function collect(parts: readonly (readonly [string, readonly TensorSpan[]])[]): TensorSource[] {
  const where = new Map<string, string>();
  const out: TensorSource[] = [];
  for (const [file, tensors] of parts) {
    for (const t of tensors) {
      const other = where.get(t.name);
      if (other !== undefined) throw new FingerprintError('malformed', `tensor ${JSON.stringify(t.name)} is in both ${other} and ${file}`);
      where.set(t.name, file);
      out.push({ file, ...t });
    }
  }
  return out;
}

export function tensorLeaf(e: TensorEntry): Uint8Array {
  return encodeCanonical([TENSOR_LEAF_TAG, e.name, e.dtype, e.shape, e.digest]);
}

/** The entries sorted by the UTF-8 bytes of their names; a name twice is an error. */
export function sortTensors(entries: readonly TensorEntry[]): TensorEntry[] {
  const keyed = entries.map((e) => ({ e, key: utf8(e.name) })).sort((a, b) => compareBytes(a.key, b.key));
  for (let i = 1; i < keyed.length; i++) {
    if (equalBytes(keyed[i - 1]!.key, keyed[i]!.key)) {
      throw new FingerprintError('malformed', `tensor ${JSON.stringify(keyed[i]!.e.name)} appears twice`);
    }
  }
  return keyed.map(({ e }) => e);
}

/** The tensor fingerprint of `entries`, in any order. */
export function tensorRoot(entries: readonly TensorEntry[]): Uint8Array {
  return merkleRoot(sortTensors(entries).map(tensorLeaf));
}

/**
 * The model's tensor fingerprint, or null when it has no tensors we read (see findTensors). Every
 * non-empty tensor's range goes to `hashRange` at once.
 */
export async function tensorFingerprint(
  root: string,
  files: readonly string[],
  hashRange: (job: HashJob) => Promise<Uint8Array>,
): Promise<TensorFingerprint | null> {
  const found = await findTensors(root, files);
  if (found === null) return null;
  const empty = sha256(new Uint8Array(0));
  const digests = await Promise.all(found.sources.map((s) =>
    s.length === 0 ? Promise.resolve(empty) : hashRange({ path: s.file, offset: s.offset, length: s.length })));
  const tensors = sortTensors(found.sources.map((s, i) => ({ name: s.name, dtype: s.dtype, shape: s.shape, digest: digests[i]! })));
  return { format: found.format, tensors, fingerprint: merkleRoot(tensors.map(tensorLeaf)) };
}

/** What differs between two tensor lists: names only in `expected`, only in `actual`, and changed. */
export function diffTensors(expected: readonly TensorEntry[], actual: readonly TensorEntry[]): TensorDiff {
  const got = new Map(actual.map((e) => [e.name, e]));
  const want = new Map(expected.map((e) => [e.name, e]));
  const missing: string[] = [];
  const changed: TensorChange[] = [];
  for (const e of sortTensors(expected)) {
    const a = got.get(e.name);
    if (a === undefined) missing.push(e.name);
    else if (e.dtype !== a.dtype || !sameShape(e.shape, a.shape) || !equalBytes(e.digest, a.digest)) {
      changed.push({ name: e.name, expected: part(e), actual: part(a) });
    }
  }
  const extra = sortTensors(actual).filter((e) => !want.has(e.name)).map((e) => e.name);
  return { missing, extra, changed };
}

function part(e: TensorEntry): Omit<TensorEntry, 'name'> {
  return { dtype: e.dtype, shape: [...e.shape], digest: e.digest };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The canonical CBOR list of [name, dtype, shape, digest], sorted by name. */
export function encodeTensors(entries: readonly TensorEntry[]): Uint8Array {
  return encodeCanonical(sortTensors(entries).map((e) => [e.name, e.dtype, e.shape, e.digest]));
}

/**
 * Decodes encodeTensors' bytes strictly (canonical, sorted, names unique, names and dtypes 1 to 1024
 * bytes of UTF-8, shapes lists of uints, digests 32 bytes), throwing CodecError.
 */
export function decodeTensors(encoded: Uint8Array): TensorEntry[] {
  const items = list(decodeCanonical(encoded, 'tensor list'), MAX_TENSORS, 'tensor list');
  let previous: Uint8Array | undefined;
  return items.map((item, i) => {
    const what = `tensor list[${i}]`;
    const [name, dtype, shape, digest] = tuple(item, 4, what);
    const entry: TensorEntry = {
      name: nameText(name, `${what}.name`),
      dtype: nameText(dtype, `${what}.dtype`),
      shape: list(shape, MAX_DIMS, `${what}.shape`).map((d, j) => uint(d, `${what}.shape[${j}]`)),
      digest: bytes(digest, `${what}.digest`, 32),
    };
    const key = utf8(entry.name);
    if (previous !== undefined && compareBytes(previous, key) >= 0) {
      throw new CodecError('schema', `${what}.name: ${JSON.stringify(entry.name)} is not after the name before it (sorted, unique)`);
    }
    previous = key;
    return entry;
  });
}

function nameText(v: CborValue | undefined, what: string): string {
  if (typeof v !== 'string') throw new CodecError('schema', `${what}: expected text`);
  const n = utf8(v).length;
  if (n === 0 || n > MAX_NAME_BYTES) throw new CodecError('schema', `${what}: ${n} bytes, not 1 to ${MAX_NAME_BYTES}`);
  return v;
}
