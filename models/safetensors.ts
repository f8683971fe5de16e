/**
 * safetensors headers, read strictly: where each tensor's bytes lie in the file, what dtype and
 * shape it declares, and, for a sharded model, which shard holds which tensor. Only the 8-byte
 * length and the JSON header are read, never the data, so a model of any size costs one small read
 * per file; the tensor fingerprint (tensors.ts) then hashes exactly the ranges found here.
 *
 * The format: a little-endian u64 N, N bytes of UTF-8 JSON (an object of tensor name →
 * {dtype, shape, data_offsets: [begin, end]} relative to the data region, plus an optional
 * `__metadata__` string → string map that identity ignores), then the data region to the end of the
 * file. We refuse what the reference implementation refuses (huggingface/safetensors,
 * safetensors/src/tensor.rs: `read_metadata` and `Metadata::validate`): a header over 100,000,000
 * bytes or past the end of the file, a header that is not UTF-8 JSON of the right shape, an unknown
 * dtype, data_offsets that end before they begin, a byte length other than the shape's element count
 * times the dtype's size (sub-byte dtypes must fill whole bytes), and a data region not exactly
 * covered: sorted by offset, each tensor must start where the previous one ended and the last must
 * end at the end of the file, so no overlaps, no gaps and no trailing bytes. Where we are stricter, on
 * purpose, because the tensor fingerprint rests on these fields:
 *   - a tensor entry with fields besides dtype, shape and data_offsets is refused (serde ignores
 *     unknown fields there);
 *   - a tensor name must be 1 to 1024 bytes of well-formed UTF-8 (the reference allows an empty name;
 *     our tensor list's codec does not);
 * and where we cannot be as strict: JSON.parse keeps the last of two equal keys and reads `1.0` or
 * `1e2` as an integer, which serde_json would refuse for a usize.
 */
import { join, posix } from 'node:path';
import { FingerprintError } from './errors.ts';
import { checkName, malformed, readExactly, withFile, type TensorSpan } from './header-io.ts';

/** The largest header the reference reads (MAX_HEADER_SIZE in tensor.rs). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bits per element of every dtype the reference knows (`Dtype::bitsize` in tensor.rs). */
export const SAFETENSORS_DTYPE_BITS: Readonly<Record<string, number>> = Object.freeze({
  BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8,
  F8_E4M3FNUZ: 8, F8_E5M2FNUZ: 8, I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32,
  C64: 64, F64: 64, I64: 64, U64: 64,
});

export interface SafetensorsHeader {
  file: string;
  /** The file's size and where its data region starts (8 + N). */
  size: number;
  dataStart: number;
  /** In data order (by offset). */
  tensors: TensorSpan[];
}

/** Reads and checks `file`'s header (only the header). */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  return withFile(file, async (handle, size) => {
    if (size < 8) throw malformed(file, 0, `the file is ${size} bytes, shorter than the 8-byte header length`);
    const prefix = await readExactly(handle, file, 0, 8);
    const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
    if (n > BigInt(MAX_HEADER_BYTES)) throw malformed(file, 0, `header length ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
    if (8n + n > BigInt(size)) throw malformed(file, 0, `header length ${n} runs past the end of the ${size}-byte file`);
    return parseSafetensorsHeader(file, size, await readExactly(handle, file, 8, Number(n)));
  });
}

/** Checks the N header bytes of a `size`-byte file; what readSafetensorsHeader does once it has them. */
export function parseSafetensorsHeader(file: string, size: number, header: Uint8Array): SafetensorsHeader {
  const dataStart = 8 + header.length;
  const text = decodeJson(file, 8, header, 'header');
  const value = parseJson(file, 8, text, 'header');
  if (!isObject(value)) throw malformed(file, 8, 'the header is not a JSON object');
  /** Where a key stands in the file, near enough to find it (the header's start if not found). */
  const keyOffset = (key: string): number => {
    const i = text.indexOf(JSON.stringify(key));
    return i < 0 ? 8 : 8 + Buffer.byteLength(text.slice(0, i), 'utf8');
  };
  const tensors: TensorSpan[] = [];
  for (const [name, entry] of Object.entries(value)) {
    const at = keyOffset(name);
    if (name === '__metadata__') {
      // As the reference's Option<HashMap<String, String>>: null or a map of text to text.
      if (entry !== null && !(isObject(entry) && Object.values(entry).every((v) => typeof v === 'string'))) {
        throw malformed(file, at, '__metadata__ must be a map of strings to strings');
      }
      continue;
    }
    checkName(file, at, 'tensor name', name);
    tensors.push(readEntry(file, at, size, dataStart, name, entry));
  }
  // Metadata::validate: in offset order each tensor starts where the previous ended, the last at EOF.
  tensors.sort((a, b) => a.offset - b.offset || a.length - b.length);
  let end = dataStart;
  let previous: TensorSpan | undefined;
  for (const t of tensors) {
    if (t.offset < end) {
      throw malformed(file, t.offset, `tensor ${quote(t.name)} (bytes ${t.offset} to ${t.offset + t.length}) overlaps tensor ${quote(previous!.name)} (bytes ${previous!.offset} to ${end})`);
    }
    if (t.offset > end) throw malformed(file, end, `bytes ${end} to ${t.offset} of the data region belong to no tensor (a gap before ${quote(t.name)})`);
    end = t.offset + t.length;
    previous = t;
  }
  if (end !== size) throw malformed(file, end, `bytes ${end} to ${size} at the end of the file belong to no tensor`);
  return { file, size, dataStart, tensors };
}

function readEntry(file: string, at: number, size: number, dataStart: number, name: string, entry: unknown): TensorSpan {
  const what = `tensor ${quote(name)}`;
  if (!isObject(entry)) throw malformed(file, at, `${what}: its entry is not an object`);
  const fields = Object.keys(entry).sort();
  if (fields.join(',') !== 'data_offsets,dtype,shape') {
    throw malformed(file, at, `${what}: expected exactly the fields dtype, shape and data_offsets, found ${fields.join(', ') || 'none'}`);
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string' || !Object.hasOwn(SAFETENSORS_DTYPE_BITS, dtype)) {
    throw malformed(file, at, `${what}: unknown dtype ${JSON.stringify(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every(isUint)) throw malformed(file, at, `${what}: shape must be a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isUint)) {
    throw malformed(file, at, `${what}: data_offsets must be two non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw malformed(file, dataStart + begin, `${what}: data_offsets [${begin}, ${end}] end before they begin`);
  if (dataStart + end > size) {
    throw malformed(file, dataStart + begin, `${what}: data_offsets [${begin}, ${end}] run past the end of the ${size}-byte file (data starts at ${dataStart})`);
  }
  const bits = (shape as number[]).reduce((p, d) => p * BigInt(d), 1n) * BigInt(SAFETENSORS_DTYPE_BITS[dtype]!);
  if (bits % 8n !== 0n) throw malformed(file, at, `${what}: shape [${shape.join(', ')}] of ${dtype} is ${bits} bits, not whole bytes`);
  if (bits / 8n !== BigInt(end - begin)) {
    throw malformed(file, dataStart + begin, `${what}: shape [${shape.join(', ')}] of ${dtype} needs ${bits / 8n} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  return { name, dtype, shape: [...(shape as number[])], offset: dataStart + begin, length: end - begin };
}

/**
 * A sharded model: the index (`model.safetensors.index.json`, `{metadata, weight_map: {tensor:
 * file}}`) at `indexPath` (relative to `root`, among `files`) names the shards, relative to its own
 * folder. Every shard it names must be among `files` and is read; every tensor of a shard must be
 * one the index maps to that very shard, and every tensor the index maps to a shard must be in it
 * (so no tensor is in two shards, none is left out of the index). `metadata` is not identity and
 * is not read. `.safetensors` files the index does not name are not part of the model.
 */
export async function readIndexedShards(root: string, indexPath: string, files: readonly string[]): Promise<SafetensorsHeader[]> {
  const index = join(root, indexPath);
  const weightMap = await readWeightMap(index);
  const folder = posix.dirname(indexPath);
  const present = new Set(files);
  const headers: SafetensorsHeader[] = [];
  for (const shard of [...new Set(weightMap.values())].sort()) {
    const path = folder === '.' ? shard : posix.join(folder, shard);
    if (!present.has(path)) throw new FingerprintError('not_found', `${index}: names the shard ${shard}, which is not among the model's files`);
    const header = await readSafetensorsHeader(join(root, path));
    const held = new Set<string>();
    for (const t of header.tensors) {
      const mapped = weightMap.get(t.name);
      if (mapped === undefined) throw new FingerprintError('malformed', `${header.file}: holds tensor ${quote(t.name)}, which ${index}'s weight_map does not name`);
      if (mapped !== shard) throw new FingerprintError('malformed', `${header.file}: holds tensor ${quote(t.name)}, which ${index} maps to ${mapped}`);
      held.add(t.name);
    }
    for (const [name, mapped] of weightMap) {
      if (mapped === shard && !held.has(name)) throw new FingerprintError('malformed', `${index}: maps tensor ${quote(name)} to ${shard}, which does not hold it`);
    }
    headers.push(header);
  }
  return headers;
}

async function readWeightMap(index: string): Promise<Map<string, string>> {
  const value = await withFile(index, async (handle, size) => {
    if (size > MAX_HEADER_BYTES) throw malformed(index, 0, `the index is ${size} bytes, over the limit of ${MAX_HEADER_BYTES}`);
    return parseJson(index, 0, decodeJson(index, 0, await readExactly(handle, index, 0, size), 'index'), 'index');
  });
  const weightMap = isObject(value) ? value.weight_map : undefined;
  if (!isObject(weightMap)) throw malformed(index, 0, 'the index has no weight_map object');
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard === '' || shard.includes('\\') || posix.isAbsolute(shard) || posix.normalize(shard) !== shard || shard.startsWith('../')) {
      throw malformed(index, 0, `weight_map maps tensor ${quote(name)} to ${JSON.stringify(shard)}, not a file path inside the model`);
    }
    out.set(name, shard);
  }
  return out;
}

function decodeJson(file: string, offset: number, bytes: Uint8Array, what: string): string {
  try {
    // ignoreBOM keeps a byte-order mark in the text, so JSON.parse refuses it as serde_json does.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw malformed(file, offset, `the ${what} is not valid UTF-8`);
  }
}

function parseJson(file: string, offset: number, text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const position = /at position (\d+)/.exec(message)?.[1];
    const at = position === undefined ? offset : offset + Buffer.byteLength(text.slice(0, Number(position)), 'utf8');
    throw malformed(file, at, `the ${what} is not valid JSON (${message})`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function quote(name: string): string {
  return JSON.stringify(name);
}
