/**
 * The tensor fingerprint on real files written here: safetensors (one file, re-sharded with an
 * index, reordered, re-labelled) and GGUF (F32 and quantized tensors, edited key/values), what
 * changes it and what does not, and every malformed header and index inconsistency refused with a
 * FingerprintError naming the file and the byte offset.
 */
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { open, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { gguf, GGMLQuantizationType } from '@huggingface/gguf';
import { encodeCanonical } from '../chain/codec.ts';
import { sha256 } from '../chain/hash.ts';
import { merkleRoot } from '../chain/merkle.ts';
import { compareBytes, toHex, utf8 } from '../chain/bytes.ts';
import { FingerprintError } from '../models/errors.ts';
import { GGML_TYPES } from '../models/gguf.ts';
import {
  decodeTensors, diffTensors, encodeTensors, findTensors, tensorFingerprint, tensorRoot,
  type HashJob, type TensorEntry,
} from '../models/tensors.ts';
import { rawSafetensors, safetensorsBytes, writeFile, writeIndex, writeSharded, type FixtureTensor } from './fixtures/safetensors.ts';
import { ggufBytes, type GgufFixtureTensor } from './fixtures/gguf.ts';

/** The test's own hashRange: read the range, sha256 it, one at a time. */
async function hashRange(job: HashJob): Promise<Uint8Array> {
  const handle = await open(job.path, 'r');
  try {
    const buf = Buffer.alloc(job.length);
    await handle.read(buf, 0, job.length, job.offset);
    return new Uint8Array(createHash('sha256').update(buf).digest());
  } finally {
    await handle.close();
  }
}

function data(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + 1) & 0xff);
}

const TENSORS: FixtureTensor[] = [
  { name: 'model.embed.weight', dtype: 'F32', shape: [2, 3], data: data(24, 1) },
  { name: 'model.norm.bias', dtype: 'BF16', shape: [4], data: data(8, 2) },
  { name: 'ß.scale', dtype: 'F16', shape: [3, 2], data: data(12, 3) },
  { name: 'model.empty', dtype: 'U8', shape: [0], data: new Uint8Array(0) },
  { name: 'lm_head.weight', dtype: 'I64', shape: [1, 2], data: data(16, 4) },
];

/** The fingerprint computed straight from the spec, from the tensors' own bytes. */
function expectedRoot(tensors: readonly { name: string; dtype: string; shape: number[]; data: Uint8Array }[]): Uint8Array {
  const leaves = [...tensors]
    .sort((a, b) => compareBytes(utf8(a.name), utf8(b.name)))
    .map((x) => encodeCanonical(['hallmark/tensor/v1', x.name, x.dtype, x.shape, sha256(x.data)]));
  return merkleRoot(leaves);
}

async function fingerprintOf(dir: string, files: string[]) {
  const fp = await tensorFingerprint(dir, files, hashRange);
  if (fp === null) throw new Error('no tensor fingerprint');
  return fp;
}

async function single(t: Test, tensors: readonly FixtureTensor[], options = {}) {
  const dir = t.testdir();
  writeFile(dir, 'model.safetensors', safetensorsBytes(tensors, options));
  return { dir, fp: await fingerprintOf(dir, ['model.safetensors']) };
}

function edit(i: number, change: Partial<FixtureTensor>): FixtureTensor[] {
  return TENSORS.map((x, j) => (j === i ? { ...x, ...change } : x));
}

t.test('one file: the fingerprint is the spec computed from the tensors themselves', async (t) => {
  const { fp } = await single(t, TENSORS);
  t.equal(fp.format, 'safetensors');
  t.equal(toHex(fp.fingerprint), toHex(expectedRoot(TENSORS)));
  t.same(fp.tensors.map((e) => e.name), ['lm_head.weight', 'model.embed.weight', 'model.empty', 'model.norm.bias', 'ß.scale'], 'sorted by UTF-8 bytes');
  t.equal(toHex(fp.tensors.find((e) => e.name === 'model.empty')!.digest), toHex(sha256(new Uint8Array(0))));
  t.equal(toHex(tensorRoot([...fp.tensors].reverse())), toHex(fp.fingerprint), 'tensorRoot takes any order');
  t.same(decodeTensors(encodeTensors(fp.tensors)), fp.tensors, 'the list round-trips through its codec');
});

t.test('packaging does not change it: shards, key order, data order, __metadata__', async (t) => {
  const base = (await single(t, TENSORS)).fp.fingerprint;
  const dir = t.testdir();
  const { files } = writeSharded(dir, TENSORS, [[0, 3], [1], [2, 4]], { metadata: { format: 'pt' } });
  const sharded = await fingerprintOf(dir, files);
  t.equal(toHex(sharded.fingerprint), toHex(base), 're-sharded into three files with an index');
  const whole = sha256(safetensorsBytes(TENSORS));
  for (const f of files.slice(0, 3)) t.not(toHex(sha256(await readFile(join(dir, f)))), toHex(whole), `${f}'s file digest differs`);
  t.equal(toHex((await single(t, TENSORS, { keyOrder: 'reverse' })).fp.fingerprint), toHex(base), 'header keys reversed');
  t.equal(toHex((await single(t, [...TENSORS].reverse())).fp.fingerprint), toHex(base), 'data in another order');
  t.equal(toHex((await single(t, TENSORS, { metadata: { format: 'pt', note: 'edited' } })).fp.fingerprint), toHex(base), '__metadata__ edited');
});

t.test('what a tensor is does change it, and diffTensors names the tensor', async (t) => {
  const base = (await single(t, TENSORS)).fp;
  const value = new Uint8Array(TENSORS[0]!.data);
  value[5]! ^= 1;
  const cases: [string, FixtureTensor[]][] = [
    ['one value', edit(0, { data: value })],
    ['the dtype', edit(0, { dtype: 'I32' })],
    ['the shape, same bytes', edit(0, { shape: [3, 2] })],
  ];
  for (const [what, tensors] of cases) {
    const fp = (await single(t, tensors)).fp;
    t.not(toHex(fp.fingerprint), toHex(base.fingerprint), `${what} changed: different`);
    const diff = diffTensors(base.tensors, fp.tensors);
    t.same({ missing: diff.missing, extra: diff.extra, names: diff.changed.map((c) => c.name) },
      { missing: [], extra: [], names: ['model.embed.weight'] }, `${what}: the tensor is named`);
  }
  const renamed = (await single(t, edit(1, { name: 'model.norm.weight' }))).fp;
  t.same(diffTensors(base.tensors, renamed.tensors), { missing: ['model.norm.bias'], extra: ['model.norm.weight'], changed: [] });
  const change = diffTensors(base.tensors, (await single(t, edit(0, { shape: [6] }))).fp.tensors).changed[0]!;
  t.same([change.expected.shape, change.actual.shape], [[2, 3], [6]]);
});

const GGUF_TENSORS: GgufFixtureTensor[] = [
  { name: 'token_embd.weight', type: 0, dims: [3, 2], data: data(24, 5) },
  { name: 'blk.0.ffn.weight', type: 8, dims: [32, 2], data: data(68, 6) }, // Q8_0: 2 blocks of 34
  { name: 'blk.0.attn.weight', type: 12, dims: [256, 1], data: data(144, 7) }, // Q4_K: 1 block of 144
];

t.test('GGUF: F32 and quantized tensors, as @huggingface/gguf and the spec see them', async (t) => {
  const dir = t.testdir();
  const file = ggufBytes(GGUF_TENSORS, { kvs: [{ key: 'general.architecture', string: 'llama' }, { key: 'general.name', string: 'tiny' }] });
  const path = writeFile(dir, 'tiny.gguf', file.bytes);
  const parsed = await gguf(path, { allowLocalFile: true });
  t.same(parsed.tensorInfos.map((i) => [i.name, i.dtype, i.shape.map(Number)]), GGUF_TENSORS.map((x) => [x.name, x.type, x.dims]), 'the library reads the fixture');
  t.equal(Number(parsed.tensorDataOffset), file.dataStart);
  const fp = await fingerprintOf(dir, ['tiny.gguf', 'README.md']);
  t.equal(fp.format, 'gguf');
  const bytes = await readFile(path);
  const names = ['F32', 'Q8_0', 'Q4_K'];
  const fromOffsets = GGUF_TENSORS.map((x, i) => ({
    name: x.name, dtype: names[i]!, shape: x.dims,
    data: bytes.subarray(file.dataStart + file.offsets[i]!, file.dataStart + file.offsets[i]! + x.data.length),
  }));
  t.equal(toHex(fp.fingerprint), toHex(expectedRoot(fromOffsets)), 'equals the root computed from the known offsets');
  t.equal(toHex(fp.fingerprint), toHex(expectedRoot(GGUF_TENSORS.map((x, i) => ({ ...x, dtype: names[i]!, shape: x.dims })))));

  const edited = t.testdir();
  writeFile(edited, 'tiny.gguf', ggufBytes(GGUF_TENSORS, { kvs: [{ key: 'general.architecture', string: 'llama' }, { key: 'general.name', string: 'a much longer name' }], alignment: 64 }).bytes);
  t.equal(toHex((await fingerprintOf(edited, ['tiny.gguf'])).fingerprint), toHex(fp.fingerprint), 'key/values and alignment edited: same');
});

t.test('the ggml type table names each type as GGMLQuantizationType does', async (t) => {
  for (const [id, [name]] of GGML_TYPES) t.equal(name, (GGMLQuantizationType as unknown as Record<number, string>)[id], `type ${id}`);
});

t.test('which files hold the tensors', async (t) => {
  const dir = t.testdir();
  t.equal(await findTensors(dir, ['config.json']), null, 'no weights: null');
  writeFile(dir, 'a.gguf', ggufBytes(GGUF_TENSORS.slice(0, 1)).bytes);
  writeFile(dir, 'b.gguf', ggufBytes(GGUF_TENSORS.slice(1)).bytes);
  t.equal(await findTensors(dir, ['a.gguf', 'b.gguf']), null, 'two unrelated GGUF files: null');
  writeFile(dir, 'm-00001-of-00002.gguf', ggufBytes(GGUF_TENSORS.slice(0, 1)).bytes);
  writeFile(dir, 'm-00002-of-00002.gguf', ggufBytes(GGUF_TENSORS.slice(1)).bytes);
  const split = await findTensors(dir, ['m-00002-of-00002.gguf', 'm-00001-of-00002.gguf']);
  t.same(split?.sources.map((s) => s.name), GGUF_TENSORS.map((x) => x.name), 'one complete split set: together');
  t.equal(await findTensors(dir, ['m-00001-of-00002.gguf', 'a.gguf']), null, 'an incomplete set: null');
  writeFile(dir, 'x.safetensors', safetensorsBytes(TENSORS.slice(0, 2)));
  writeFile(dir, 'y.safetensors', safetensorsBytes(TENSORS.slice(2)));
  const both = await findTensors(dir, ['a.gguf', 'x.safetensors', 'y.safetensors']);
  t.equal(both?.format, 'safetensors', 'safetensors before GGUF');
  t.equal(both?.sources.length, TENSORS.length, 'every top-level .safetensors file, together');
  writeFile(dir, 'unet/p.safetensors', safetensorsBytes(TENSORS.slice(0, 2)));
  writeFile(dir, 'vae/p.safetensors', safetensorsBytes(TENSORS.slice(0, 2)));
  t.equal(await findTensors(dir, ['unet/p.safetensors', 'vae/p.safetensors']), null, 'weights only in subfolders (a diffusers repo): no tensor fingerprint, no error');
  writeFile(dir, 'z.safetensors', safetensorsBytes(TENSORS.slice(0, 1)));
  await t.rejects(findTensors(dir, ['x.safetensors', 'z.safetensors', 'unet/p.safetensors']),
    { code: 'malformed', message: `tensor "model.embed.weight" is in both ${join(dir, 'x.safetensors')} and ${join(dir, 'z.safetensors')}` });
});

t.test('every tensor range goes to hashRange at once; empty tensors never do', async (t) => {
  const { dir } = await single(t, TENSORS);
  const jobs: HashJob[] = [];
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  const fp = tensorFingerprint(dir, ['model.safetensors'], async (job) => {
    jobs.push(job);
    if (jobs.length === TENSORS.length - 1) release();
    await all;
    return hashRange(job);
  });
  t.equal(toHex((await fp)!.fingerprint), toHex(expectedRoot(TENSORS)));
  t.equal(jobs.length, TENSORS.length - 1, 'all four non-empty ranges were asked for before any was answered');
});

/** Writes `bytes` and expects a 'malformed' FingerprintError naming the file and `offset`. */
async function refuses(t: Test, what: string, bytes: Uint8Array, offset: number, pattern: RegExp, name = 'model.safetensors') {
  const dir = t.testdir();
  const path = writeFile(dir, name, bytes);
  const err = await findTensors(dir, [name]).then(() => null, (e: unknown) => e);
  t.ok(err instanceof FingerprintError, `${what}: a FingerprintError`);
  const e = err as FingerprintError;
  t.equal(e.code, 'malformed', `${what}: malformed`);
  t.ok(e.message.startsWith(`${path}: malformed at byte offset ${offset}: `), `${what}: names the file and offset ${offset} (${e.message})`);
  t.match(e.message, pattern, what);
}

t.test('malformed safetensors headers', async (t) => {
  const tensor = (entry: object, extra = ''): string => `{"w":${JSON.stringify(entry)}${extra}}`;
  const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const eight = data(8, 9);
  const len = (h: string) => 8 + Math.ceil(Buffer.byteLength(h) / 8) * 8; // where data starts
  await refuses(t, 'shorter than 8 bytes', Uint8Array.of(1, 2, 3), 0, /shorter than the 8-byte header length/);
  await refuses(t, 'header over 100 MB', rawSafetensors('{}', eight, 100_000_001n), 0, /exceeds the limit of 100000000/);
  await refuses(t, 'header past the end', rawSafetensors('{}', eight, 400n), 0, /runs past the end of the \d+-byte file/);
  await refuses(t, 'not UTF-8', Buffer.concat([rawSafetensors('{"\u00ff":1}').subarray(0, 8), Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d, 0x20])]), 8, /not valid UTF-8/);
  await refuses(t, 'not JSON, where V8 says the position', rawSafetensors('{"w":1,}', eight), 8 + 7, /not valid JSON/);
  await refuses(t, 'not JSON, where it does not', rawSafetensors('{"w":}', eight), 8, /not valid JSON/);
  await refuses(t, 'not an object', rawSafetensors('[1,2]', eight), 8, /not a JSON object/);
  await refuses(t, 'a missing field', rawSafetensors(tensor({ dtype: 'F32', shape: [2] }), eight), 9, /found dtype, shape$/);
  await refuses(t, 'an extra field', rawSafetensors(tensor({ ...ok, name: 'x' }), eight), 9, /exactly the fields dtype, shape and data_offsets, found data_offsets, dtype, name, shape/);
  await refuses(t, 'an unknown dtype', rawSafetensors(tensor({ ...ok, dtype: 'F128' }), eight), 9, /unknown dtype "F128"/);
  await refuses(t, 'a negative dim', rawSafetensors(tensor({ ...ok, shape: [-2] }), eight), 9, /shape must be a list of non-negative integers/);
  await refuses(t, 'a fractional dim', rawSafetensors(tensor({ ...ok, shape: [1.5] }), eight), 9, /shape must be a list/);
  await refuses(t, 'offsets backwards', rawSafetensors(tensor({ ...ok, data_offsets: [8, 0] }), eight), len(tensor({ ...ok, data_offsets: [8, 0] })) + 8, /end before they begin/);
  const past = tensor({ ...ok, shape: [4], data_offsets: [0, 16] });
  await refuses(t, 'data past the end', rawSafetensors(past, eight), len(past), /run past the end of the \d+-byte file/);
  const wrong = tensor({ ...ok, shape: [3] });
  await refuses(t, 'length not shape × size', rawSafetensors(wrong, eight), len(wrong), /needs 12 bytes but data_offsets \[0, 8\] hold 8/);
  const sub = tensor({ dtype: 'F4', shape: [3], data_offsets: [0, 2] });
  await refuses(t, 'sub-byte dtype not whole bytes', rawSafetensors(sub, eight.subarray(0, 2)), 9, /12 bits, not whole bytes/);
  const two = (a: number[], b: number[]) => `{"a":{"dtype":"U8","shape":[${a[1]! - a[0]!}],"data_offsets":[${a}]},"b":{"dtype":"U8","shape":[${b[1]! - b[0]!}],"data_offsets":[${b}]}}`;
  await refuses(t, 'overlapping tensors', rawSafetensors(two([0, 6], [4, 8]), eight), len(two([0, 6], [4, 8])) + 4, /tensor "b" \(bytes \d+ to \d+\) overlaps tensor "a"/);
  await refuses(t, 'a gap', rawSafetensors(two([0, 2], [4, 8]), eight), len(two([0, 2], [4, 8])) + 2, /belong to no tensor \(a gap before "b"\)/);
  await refuses(t, 'trailing bytes', rawSafetensors(two([0, 2], [2, 6]), eight), len(two([0, 2], [2, 6])) + 6, /at the end of the file belong to no tensor/);
  await refuses(t, 'an empty name', rawSafetensors(`{"":${JSON.stringify(ok)}}`, eight), 9, /tensor name "" must be 1 to 1024 bytes/);
  await refuses(t, '__metadata__ not strings', rawSafetensors(`{"__metadata__":{"a":1},"w":${JSON.stringify(ok)}}`, eight), 9, /__metadata__ must be a map of strings to strings/);
  const fine = await findTensors(t.testdir(), []);
  t.equal(fine, null);
});

t.test('index inconsistencies', async (t) => {
  const layout = [[0, 3], [1], [2, 4]];
  const setup = () => {
    const dir = t.testdir();
    return { dir, ...writeSharded(dir, TENSORS, layout) };
  };
  const check = async (what: string, dir: string, files: string[], code: string, pattern: RegExp) => {
    await t.rejects(findTensors(dir, files), { code, message: pattern }, what);
  };
  {
    const { dir, files } = setup();
    await check('a shard not among the files', dir, files.filter((f) => !f.startsWith('model-00002')), 'not_found',
      new RegExp(`model.safetensors.index.json: names the shard model-00002-of-00003.safetensors, which is not among the model's files`));
  }
  {
    const { dir, files, weightMap } = setup();
    delete weightMap['model.empty'];
    writeIndex(dir, weightMap);
    await check('a tensor the index does not name', dir, files, 'malformed', /model-00001-of-00003\.safetensors: holds tensor "model\.empty", which .*weight_map does not name/);
  }
  {
    const { dir, files, weightMap } = setup();
    weightMap['model.empty'] = 'model-00003-of-00003.safetensors';
    writeIndex(dir, weightMap);
    await check('a tensor in another shard than mapped', dir, files, 'malformed', /model-00001-of-00003\.safetensors: holds tensor "model\.empty", which .* maps to model-00003-of-00003\.safetensors/);
  }
  {
    const { dir, files, weightMap } = setup();
    weightMap['model.missing'] = 'model-00002-of-00003.safetensors';
    writeIndex(dir, weightMap);
    await check('a mapped tensor its shard lacks', dir, files, 'malformed', /maps tensor "model\.missing" to model-00002-of-00003\.safetensors, which does not hold it/);
  }
  {
    const { dir, files } = setup();
    writeFile(dir, 'model-00002-of-00003.safetensors', safetensorsBytes([TENSORS[1]!, TENSORS[0]!]));
    await check('one tensor in two shards', dir, files, 'malformed', /model-00002-of-00003\.safetensors: holds tensor "model\.embed\.weight", which .* maps to model-00001-of-00003\.safetensors/);
  }
  {
    const { dir, files, weightMap } = setup();
    weightMap['model.empty'] = '../outside.safetensors';
    writeIndex(dir, weightMap);
    await check('a shard outside the model', dir, files, 'malformed', /malformed at byte offset 0: weight_map maps tensor "model\.empty" to "\.\.\/outside\.safetensors"/);
  }
  {
    const { dir, files } = setup();
    writeFile(dir, 'model.safetensors.index.json', '{"metadata":{}}');
    await check('no weight_map', dir, files, 'malformed', /the index has no weight_map object/);
  }
});

t.test('malformed GGUF files', async (t) => {
  const infoAt = (file: { bytes: Uint8Array }, name: string) => Buffer.from(file.bytes).indexOf(Buffer.concat([u64le(name.length), Buffer.from(name)]));
  const removed = ggufBytes([{ ...GGUF_TENSORS[0]!, type: 4 }]);
  await refuses(t, 'a removed ggml type', removed.bytes, infoAt(removed, 'token_embd.weight'), /unknown ggml type 4/, 'm.gguf');
  const partial = ggufBytes([{ name: 'q', type: 8, dims: [16], data: data(34, 1) }]);
  await refuses(t, 'a row of partial blocks', partial.bytes, infoAt(partial, 'q'), /rows of 16 elements are not whole Q8_0 blocks of 32/, 'm.gguf');
  const overlap = ggufBytes(GGUF_TENSORS, { offsets: [0, 0, 160] });
  await refuses(t, 'overlapping data', overlap.bytes, infoAt(overlap, 'blk.0.ffn.weight'), /has data offset 0, expected 32 \(overlapping the tensor before it/, 'm.gguf');
  const gap = ggufBytes(GGUF_TENSORS, { offsets: [0, 64, 160] });
  await refuses(t, 'a gap', gap.bytes, infoAt(gap, 'blk.0.ffn.weight'), /has data offset 64, expected 32 \(leaving a gap/, 'm.gguf');
  const whole = ggufBytes(GGUF_TENSORS);
  const cut = whole.bytes.subarray(0, whole.dataStart + whole.offsets[2]! + 100);
  await refuses(t, 'data past the end', cut, whole.dataStart + whole.offsets[2]!, /its 144 bytes at byte \d+ run past the end of the \d+-byte file/, 'm.gguf');
  await refuses(t, 'a header cut short', whole.bytes.subarray(0, infoAt(whole, 'blk.0.attn.weight') + 4), infoAt(whole, 'blk.0.attn.weight') + 4, /the header runs past the end/, 'm.gguf');
  await refuses(t, 'an alignment not a power of two', ggufBytes(GGUF_TENSORS, { alignment: 48 }).bytes, 0, /general\.alignment must be a u32 power of two, not 48/, 'm.gguf');
  const dup = ggufBytes([GGUF_TENSORS[0]!, { ...GGUF_TENSORS[0]!, data: data(24, 2) }]);
  await refuses(t, 'a name twice', dup.bytes, Buffer.from(dup.bytes).lastIndexOf(Buffer.from('token_embd.weight')) - 8, /tensor "token_embd\.weight" appears twice/, 'm.gguf');
  const bad = Buffer.from(ggufBytes([{ ...GGUF_TENSORS[0]!, name: 'ab' }]).bytes);
  const at = bad.indexOf(Buffer.from('ab'));
  bad[at] = 0xff;
  await refuses(t, 'a name not UTF-8', bad, at - 8, /do not read back as parsed/, 'm.gguf');
  await refuses(t, 'not GGUF at all', Buffer.from('GGML and more bytes than that'), 0, /not a GGUF file the parser reads/, 'm.gguf');
  await refuses(t, 'GGUF v1', ggufBytes(GGUF_TENSORS, { version: 1 }).bytes, 4, /GGUF version 1 is no longer supported/, 'm.gguf');
  const dir = t.testdir();
  writeFile(dir, 'm.gguf', whole.bytes);
  await truncate(join(dir, 'm.gguf'), whole.dataStart + whole.offsets[2]! + 144);
  t.ok(await findTensors(dir, ['m.gguf']), 'without the last tensor\'s padding: fine');
});

function u64le(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

t.test('the tensor list codec is strict', async (t) => {
  const d = sha256(utf8('x'));
  const entry = (name: string, digest = d, shape: unknown[] = [2]) => [name, 'F32', shape, digest];
  const good: TensorEntry[] = [{ name: 'b', dtype: 'F32', shape: [2], digest: d }, { name: 'a', dtype: 'F16', shape: [], digest: d }];
  t.same(decodeTensors(encodeTensors(good)).map((e) => e.name), ['a', 'b'], 'encodes sorted');
  t.throws(() => encodeTensors([good[0]!, good[0]!]), { code: 'malformed', message: /appears twice/ });
  t.throws(() => tensorRoot([good[0]!, good[0]!]), { code: 'malformed' }, 'tensorRoot refuses duplicates');
  const refused: [string, unknown][] = [
    ['unsorted', [entry('b'), entry('a')]],
    ['a duplicate', [entry('a'), entry('a')]],
    ['a short digest', [entry('a', d.subarray(0, 31))]],
    ['an empty name', [entry('')]],
    ['a long name', [entry('x'.repeat(1025))]],
    ['a negative dim', [entry('a', d, [-1])]],
    ['an empty dtype', [['a', '', [1], d]]],
    ['a short entry', [['a', 'F32', [1]]]],
  ];
  for (const [what, value] of refused) t.throws(() => decodeTensors(encodeCanonical(value as never)), { name: 'CodecError' }, what);
  t.throws(() => decodeTensors(Uint8Array.of(0x81, 0x18, 0x01)), { name: 'CodecError' }, 'non-canonical bytes');
});
