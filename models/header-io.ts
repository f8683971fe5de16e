/**
 * What both tensor-header readers (safetensors.ts, gguf.ts) share: reading a bounded byte range of
 * a file without reading the rest, turning a failed open or read into a FingerprintError naming
 * the file, the one shape of a "malformed" message (file, byte offset, what was wrong), and the
 * limits on a tensor's name and dtype that the tensor list's codec (tensors.ts) also enforces, so a
 * header we accept always encodes.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { FingerprintError } from './errors.ts';

/** A tensor name or dtype is non-empty text of at most this many UTF-8 bytes. */
export const MAX_NAME_BYTES = 1024;

/** One tensor as a header declares it: `offset` is absolute in its file, `length` in bytes. */
export interface TensorSpan {
  name: string;
  dtype: string;
  shape: number[];
  offset: number;
  length: number;
}

/** The one shape of a 'malformed' error: the file, the byte offset, what was wrong there. */
export function malformed(file: string, offset: number, what: string): FingerprintError {
  return new FingerprintError('malformed', `${file}: malformed at byte offset ${offset}: ${what}`);
}

export function ioError(file: string, err: unknown): FingerprintError {
  const e = err as NodeJS.ErrnoException;
  const code = e.code === 'ENOENT' ? 'not_found' : 'io';
  return new FingerprintError(code, `${file}: ${code === 'not_found' ? 'no such file' : `cannot read (${e.code ?? e.message})`}`);
}

/** Opens `file` for reading and hands `use` the handle and the file's size; always closes it. */
export async function withFile<T>(file: string, use: (handle: FileHandle, size: number) => Promise<T>): Promise<T> {
  let handle: FileHandle;
  let size: number;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw ioError(file, err);
  }
  try {
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new FingerprintError('special_file', `${file}: not a regular file`);
      size = stat.size;
    } catch (err) {
      throw err instanceof FingerprintError ? err : ioError(file, err);
    }
    return await use(handle, size);
  } finally {
    await handle.close();
  }
}

/** Exactly `length` bytes at `offset`; the caller has checked the range lies inside the file. */
export async function readExactly(handle: FileHandle, file: string, offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  try {
    while (done < length) {
      const { bytesRead } = await handle.read(out, done, length - done, offset + done);
      if (bytesRead === 0) throw new FingerprintError('io', `${file}: ended at byte ${offset + done} while reading ${length} bytes at ${offset} (changed while read?)`);
      done += bytesRead;
    }
  } catch (err) {
    throw err instanceof FingerprintError ? err : ioError(file, err);
  }
  return out;
}

/** Checks a tensor's name or dtype against the codec's limits; `offset` is where it was read. */
export function checkName(file: string, offset: number, what: string, value: string): string {
  if (!value.isWellFormed()) throw malformed(file, offset, `${what} ${JSON.stringify(value.slice(0, 64))} holds a lone surrogate (not UTF-8 text)`);
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes === 0 || bytes > MAX_NAME_BYTES) {
    throw malformed(file, offset, `${what} ${JSON.stringify(value.slice(0, 64))} must be 1 to ${MAX_NAME_BYTES} bytes of UTF-8, not ${bytes}`);
  }
  return value;
}
