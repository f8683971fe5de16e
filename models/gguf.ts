/**
 * GGUF tensor infos, read with the Hub's own parser (@huggingface/gguf) and then checked the way
 * llama.cpp's loader checks them (ggml/src/gguf.cpp, `gguf_init_from_file_impl`), so the tensor
 * fingerprint (tensors.ts) hashes exactly each tensor's bytes: its dtype is the ggml type's name
 * (F32, Q4_K, …), its shape the dims as stored (ggml order), its absolute offset the data section's
 * start (the end of the tensor infos padded to `general.alignment`, default 32) plus its own offset,
 * and its length the whole blocks its rows hold times the type's block size in bytes.
 *
 * Refused, as llama.cpp refuses them: GGUF v1, an alignment that is not a power-of-two u32, a type
 * ggml does not know (or no longer supports), more than 4 dims, a row (dims[0]) that is not whole
 * blocks, two tensors of one name, and a tensor whose offset is not the running total of the padded
 * sizes before it (so tensors lie in order, aligned, never overlapping, with nothing between them
 * but padding). Also refused: data past the end of the file (llama.cpp's model loader). Bytes after
 * the last tensor are not refused (llama.cpp does not either).
 *
 * The library, 0.4.6, reads a local file in 2 MB chunks only as far as the header goes (it never
 * reads the data), which is what we want; what it gets wrong we check after it, minimally:
 *   - past the end of a file its buffer is zero-filled, not an error, so a truncated header parses;
 *     we require the tensor infos to end inside the file;
 *   - it decodes names without `fatal` and, for a name longer than what it has buffered, silently
 *     cuts it short, so two different names could read back equal; we read the tensor-info bytes
 *     ourselves and require them to be exactly what its output re-encodes to;
 *   - its data offset uses 32-bit bit arithmetic and any alignment; we check the alignment and
 *     compute the offset ourselves.
 * It has no block sizes (GGML_QUANT_SIZES is bits per weight and not exported), so the table below
 * is ggml's `type_traits` (ggml/src/ggml.c: blck_size, type_size).
 */
import { gguf, GGUFValueType, type GGUFParseOutput, type GGUFTensorInfo } from '@huggingface/gguf';
import { checkName, malformed, readExactly, withFile, type TensorSpan } from './header-io.ts';

export const GGUF_DEFAULT_ALIGNMENT = 32;
/** GGML_MAX_DIMS in ggml.h. */
const MAX_DIMS = 4;

/** ggml type id → [name, elements per block, bytes per block] (ggml.c type_traits). */
export const GGML_TYPES: ReadonlyMap<number, readonly [name: string, blockSize: number, typeSize: number]> = new Map([
  [0, ['F32', 1, 4]], [1, ['F16', 1, 2]], [2, ['Q4_0', 32, 18]], [3, ['Q4_1', 32, 20]],
  [6, ['Q5_0', 32, 22]], [7, ['Q5_1', 32, 24]], [8, ['Q8_0', 32, 34]], [9, ['Q8_1', 32, 36]],
  [10, ['Q2_K', 256, 84]], [11, ['Q3_K', 256, 110]], [12, ['Q4_K', 256, 144]], [13, ['Q5_K', 256, 176]],
  [14, ['Q6_K', 256, 210]], [15, ['Q8_K', 256, 292]], [16, ['IQ2_XXS', 256, 66]], [17, ['IQ2_XS', 256, 74]],
  [18, ['IQ3_XXS', 256, 98]], [19, ['IQ1_S', 256, 50]], [20, ['IQ4_NL', 32, 18]], [21, ['IQ3_S', 256, 110]],
  [22, ['IQ2_S', 256, 82]], [23, ['IQ4_XS', 256, 136]], [24, ['I8', 1, 1]], [25, ['I16', 1, 2]],
  [26, ['I32', 1, 4]], [27, ['I64', 1, 8]], [28, ['F64', 1, 8]], [29, ['IQ1_M', 256, 56]],
  [30, ['BF16', 1, 2]], [34, ['TQ1_0', 256, 54]], [35, ['TQ2_0', 256, 66]], [39, ['MXFP4', 32, 17]],
  [40, ['NVFP4', 64, 36]], [41, ['Q1_0', 128, 18]], [42, ['Q2_0', 64, 18]],
]);

/** The tensors of one GGUF file, in the order its header lists them (which is data order). */
export async function readGgufTensors(file: string): Promise<TensorSpan[]> {
  return withFile(file, async (handle, size) => {
    let parsed: GGUFParseOutput & { typedMetadata: Record<string, { value: unknown; type: GGUFValueType }> };
    try {
      parsed = await gguf(file, { allowLocalFile: true, typedMetadata: true });
    } catch (err) {
      throw malformed(file, 0, `not a GGUF file the parser reads: ${(err as Error).message}`);
    }
    if (parsed.metadata.version < 2) throw malformed(file, 4, `GGUF version ${parsed.metadata.version} is no longer supported (llama.cpp reads v2 and v3)`);
    const [start, end] = parsed.tensorInfoByteRange;
    if (end > size) throw malformed(file, size, `the header runs past the end of the ${size}-byte file (to byte ${end})`);
    const raw = await readExactly(handle, file, start, end - start);
    const at = checkInfos(file, start, raw, parsed.tensorInfos, parsed.littleEndian);
    const alignment = readAlignment(file, parsed.typedMetadata['general.alignment']);
    const dataStart = Math.ceil(end / alignment) * alignment;
    const seen = new Set<string>();
    const tensors: TensorSpan[] = [];
    let next = 0; // llama.cpp's ctx->size: where the next tensor must start, relative to dataStart
    parsed.tensorInfos.forEach((info, i) => {
      const name = checkName(file, at[i]!, 'tensor name', info.name);
      const what = `tensor ${JSON.stringify(name)}`;
      if (seen.has(name)) throw malformed(file, at[i]!, `${what} appears twice`);
      seen.add(name);
      const type = GGML_TYPES.get(info.dtype);
      if (type === undefined) throw malformed(file, at[i]!, `${what}: unknown ggml type ${info.dtype}`);
      const [dtype, blockSize, typeSize] = type;
      if (info.shape.length > MAX_DIMS) throw malformed(file, at[i]!, `${what} has ${info.shape.length} dims, more than ggml's ${MAX_DIMS}`);
      const shape = info.shape.map(Number);
      const row = shape[0] ?? 1;
      if (row % blockSize !== 0) throw malformed(file, at[i]!, `${what}: rows of ${row} elements are not whole ${dtype} blocks of ${blockSize}`);
      const length = shape.slice(1).reduce((p, d) => p * BigInt(d), BigInt(row / blockSize)) * BigInt(typeSize);
      if (info.offset !== BigInt(next)) {
        const how = info.offset < BigInt(next) ? 'overlapping the tensor before it' : 'leaving a gap after the tensor before it';
        throw malformed(file, at[i]!, `${what} has data offset ${info.offset}, expected ${next} (${how}; tensors must be packed in order, each padded to ${alignment})`);
      }
      const offset = dataStart + next;
      if (BigInt(offset) + length > BigInt(size)) {
        throw malformed(file, offset, `${what}: its ${length} bytes at byte ${offset} run past the end of the ${size}-byte file`);
      }
      tensors.push({ name, dtype, shape, offset, length: Number(length) });
      next += Math.ceil(Number(length) / alignment) * alignment;
    });
    return tensors;
  });
}

/**
 * Re-encodes the parser's tensor infos (v2/v3: u64 lengths and dims) and requires `raw`, the file's
 * bytes from `start`, to be exactly that; gives back where each info starts in the file.
 */
function checkInfos(file: string, start: number, raw: Uint8Array, infos: readonly GGUFTensorInfo[], littleEndian: boolean): number[] {
  const offsets: number[] = [];
  const parts: Uint8Array[] = [];
  let at = start;
  for (const info of infos) {
    offsets.push(at);
    const name = Buffer.from(info.name, 'utf8');
    const fixed = new DataView(new ArrayBuffer(8 + 4 + 8 * info.shape.length + 4 + 8));
    fixed.setBigUint64(0, BigInt(name.length), littleEndian);
    fixed.setUint32(8, info.n_dims, littleEndian);
    info.shape.forEach((d, j) => fixed.setBigUint64(12 + 8 * j, d, littleEndian));
    fixed.setUint32(12 + 8 * info.shape.length, info.dtype, littleEndian);
    fixed.setBigUint64(16 + 8 * info.shape.length, info.offset, littleEndian);
    const bytes = new Uint8Array(fixed.buffer);
    parts.push(bytes.subarray(0, 8), name, bytes.subarray(8));
    at += 8 + name.length + bytes.length - 8;
  }
  const expected = Buffer.concat(parts);
  const actual = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (!expected.equals(actual)) {
    let i = 0;
    while (i < expected.length && i < actual.length && expected[i] === actual[i]) i++;
    throw malformed(file, start + i, 'the tensor infos do not read back as parsed (a name that is not UTF-8, or cut short)');
  }
  return offsets;
}

function readAlignment(file: string, entry: { value: unknown; type: GGUFValueType } | undefined): number {
  if (entry === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const { value, type } = entry;
  if (type !== GGUFValueType.UINT32 || typeof value !== 'number' || value <= 0 || (value & (value - 1)) !== 0) {
    throw malformed(file, 0, `general.alignment must be a u32 power of two, not ${String(value)} (type ${GGUFValueType[type] ?? type})`);
  }
  return value;
}
