/**
 * The one canonical binary codec: deterministic CBOR (RFC 8949 §4.2) via cborg, restricted to
 * arrays, byte strings, text strings, unsigned integers, booleans and null. Every structure is a
 * fixed-shape tuple, so there are no maps and no key-order questions.
 *
 * Decoding is strict twice over: cborg rejects non-minimal integers and lengths, indefinite
 * lengths, tags, undefined, NaN and trailing bytes; then the value's encoding must be the very same
 * bytes, which rejects anything cborg lets through that is not canonical (floats, for one, and text
 * that is not valid UTF-8). That second check walks the value against the bytes
 * (isCanonicalEncoding) instead of encoding it again: encoding allocated and cost as much as
 * decoding, for every transaction, block and vote. The schema readers below then check every
 * field's type, range and size.
 */
import { decode, encode } from 'cborg';
import { equalBytes } from './bytes.ts';
import { CodedError } from './errors.ts';

export type CborValue = null | boolean | number | bigint | string | Uint8Array | CborValue[];

export const U64_MAX = 0xffff_ffff_ffff_ffffn;

export type CodecErrorCode = 'malformed' | 'non_canonical' | 'too_large' | 'schema';

export class CodecError extends CodedError<CodecErrorCode> {}

/** cborg's decoding options: the first of the two strict steps (exported for the codec's tests). */
export const DECODE_OPTIONS = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowNaN: false,
  allowInfinity: false,
  rejectDuplicateMapKeys: true,
  tags: [],
};

export function encodeCanonical(value: CborValue): Uint8Array {
  return encode(value);
}

/** Decodes canonical bytes, or throws CodecError. `what` names the thing for the message. */
export function decodeCanonical(bytes: Uint8Array, what: string, maxBytes = Infinity): CborValue {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what}: expected bytes`);
  if (bytes.length > maxBytes) {
    throw new CodecError('too_large', `${what}: ${bytes.length} bytes exceeds the limit of ${maxBytes}`);
  }
  let value: CborValue;
  try {
    value = decode(bytes, DECODE_OPTIONS) as CborValue;
  } catch (err) {
    const reason = (err as Error).message.replace(/^CBOR decode error: /, '');
    throw new CodecError('malformed', `${what}: ${reason}`);
  }
  if (!isCanonicalEncoding(value, bytes)) {
    throw new CodecError('non_canonical', `${what}: bytes are not the canonical encoding`);
  }
  return value;
}

/**
 * Whether `bytes` are exactly `encodeCanonical(value)`. Values of the codec's kinds (null,
 * booleans, safe integers, bigints of 64 bits, text, bytes, lists of them) are compared in place,
 * header by header, allocating nothing but the UTF-8 of non-ASCII text; anything else a decoder may
 * produce (a float, a map) is encoded by cborg and compared, so the answer is always cborg's.
 */
export function isCanonicalEncoding(value: CborValue, bytes: Uint8Array): boolean {
  const end = matchAt(value, bytes, 0);
  return end === UNKNOWN ? equalBytes(encode(value), bytes) : end === bytes.length;
}

/** matchAt's answer for a value it does not compare itself (the caller encodes instead). */
const UNKNOWN = -2;

/** The offset after `v`'s canonical encoding if `b` holds it at `off`; -1 if not; UNKNOWN. */
function matchAt(v: CborValue, b: Uint8Array, off: number): number {
  switch (typeof v) {
    case 'number':
      if (!Number.isSafeInteger(v)) return UNKNOWN;
      return v >= 0 ? headAt(b, off, 0, v) : headAt(b, off, 1, -1 - v);
    case 'bigint':
      if (v >= 0n) return v <= U64_MAX ? bigHeadAt(b, off, 0, v) : UNKNOWN;
      return v >= -U64_MAX - 1n ? bigHeadAt(b, off, 1, -1n - v) : UNKNOWN;
    case 'boolean':
      return b[off] === (v ? 0xf5 : 0xf4) ? off + 1 : -1;
    case 'string':
      return textAt(v, b, off);
    case 'object':
      if (v === null) return b[off] === 0xf6 ? off + 1 : -1;
      if (v instanceof Uint8Array) {
        if (v.constructor !== Uint8Array && !Buffer.isBuffer(v)) return UNKNOWN;
        const at = headAt(b, off, 2, v.length);
        return at >= 0 && at + v.length <= b.length && equalBytes(b.subarray(at, at + v.length), v) ? at + v.length : -1;
      }
      if (Array.isArray(v)) {
        let at = headAt(b, off, 4, v.length);
        for (let i = 0; i < v.length && at >= 0; i++) at = matchAt(v[i]!, b, at);
        return at;
      }
      return UNKNOWN;
    default:
      return UNKNOWN;
  }
}

/** The offset after the minimal header of `major` with argument `n` (a safe integer) at `off`, or -1. */
function headAt(b: Uint8Array, off: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) return b[off] === (m | n) ? off + 1 : -1;
  if (n < 0x100) return b[off] === (m | 24) && b[off + 1] === n ? off + 2 : -1;
  if (n < 0x1_0000) return b[off] === (m | 25) && b[off + 1] === n >>> 8 && b[off + 2] === (n & 0xff) ? off + 3 : -1;
  if (n < 0x1_0000_0000) return b[off] === (m | 26) && u32At(b, off + 1, n) ? off + 5 : -1;
  return b[off] === (m | 27) && u32At(b, off + 1, Math.floor(n / 0x1_0000_0000)) && u32At(b, off + 5, n >>> 0) ? off + 9 : -1;
}

function bigHeadAt(b: Uint8Array, off: number, major: number, n: bigint): number {
  if (n <= BigInt(Number.MAX_SAFE_INTEGER)) return headAt(b, off, major, Number(n));
  return b[off] === ((major << 5) | 27) && u32At(b, off + 1, Number(n >> 32n)) && u32At(b, off + 5, Number(n & 0xffff_ffffn)) ? off + 9 : -1;
}

function u32At(b: Uint8Array, off: number, n: number): boolean {
  return b[off] === n >>> 24 && b[off + 1] === ((n >>> 16) & 0xff) && b[off + 2] === ((n >>> 8) & 0xff) && b[off + 3] === (n & 0xff);
}

function textAt(s: string, b: Uint8Array, off: number): number {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) {
      const utf8 = Buffer.from(s, 'utf8');
      const at = headAt(b, off, 3, utf8.length);
      return at >= 0 && at + utf8.length <= b.length && equalBytes(b.subarray(at, at + utf8.length), utf8) ? at + utf8.length : -1;
    }
  }
  const at = headAt(b, off, 3, s.length);
  if (at < 0 || at + s.length > b.length) return -1;
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return -1;
  return at + s.length;
}

// Schema readers: each checks one field and says which one was wrong.

export function tuple(v: CborValue, length: number, what: string): CborValue[] {
  if (!Array.isArray(v)) throw schema(`${what}: expected a list`);
  if (v.length !== length) throw schema(`${what}: expected ${length} fields, got ${v.length}`);
  return v;
}

export function list(v: CborValue | undefined, maxLength: number, what: string): CborValue[] {
  if (!Array.isArray(v)) throw schema(`${what}: expected a list`);
  if (v.length > maxLength) throw schema(`${what}: ${v.length} items exceeds the limit of ${maxLength}`);
  return v;
}

export function bytes(v: CborValue | undefined, what: string, length: number): Uint8Array;
export function bytes(v: CborValue | undefined, what: string, length: { max: number }): Uint8Array;
export function bytes(v: CborValue | undefined, what: string, length: number | { max: number }): Uint8Array {
  if (!(v instanceof Uint8Array)) throw schema(`${what}: expected bytes`);
  if (typeof length === 'number' ? v.length !== length : v.length > length.max) {
    const want = typeof length === 'number' ? `${length}` : `at most ${length.max}`;
    throw schema(`${what}: expected ${want} bytes, got ${v.length}`);
  }
  return v;
}

export function optionalBytes(v: CborValue | undefined, what: string, length: number): Uint8Array | null {
  return v === null ? null : bytes(v, what, length);
}

/** A non-negative integer that fits a JavaScript number exactly (heights, nonces, gas). */
export function uint(v: CborValue | undefined, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw schema(`${what}: expected a non-negative integer`);
  }
  if (v > max) throw schema(`${what}: ${v} exceeds the maximum of ${max}`);
  return v;
}

/** An amount of the native token: an unsigned 64-bit integer, always a bigint in memory. */
export function amount(v: CborValue | undefined, what: string): bigint {
  if (typeof v === 'bigint') {
    if (v < 0n || v > U64_MAX) throw schema(`${what}: not an unsigned 64-bit amount`);
    return v;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw schema(`${what}: expected a non-negative integer amount`);
  }
  return BigInt(v);
}

export function text(v: CborValue | undefined, what: string, maxLength: number): string {
  if (typeof v !== 'string') throw schema(`${what}: expected text`);
  if (v.length > maxLength) throw schema(`${what}: longer than ${maxLength} characters`);
  return v;
}

/** Checks that `n` fits the amount range before it is encoded. */
export function checkAmount(n: bigint, what: string): bigint {
  if (typeof n !== 'bigint' || n < 0n || n > U64_MAX) {
    throw new RangeError(`${what}: must be a bigint from 0 to 2^64-1`);
  }
  return n;
}

export function checkUint(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what}: must be a non-negative safe integer`);
  return n;
}

function schema(message: string): CodecError {
  return new CodecError('schema', message);
}
