/**
 * The one canonical binary codec: deterministic CBOR (RFC 8949 §4.2) via cborg, restricted to
 * arrays, byte strings, text strings, unsigned integers, booleans and null. Every structure is a
 * fixed-shape tuple, so there are no maps and no key-order questions.
 *
 * Decoding is strict twice over: cborg rejects non-minimal integers and lengths, indefinite
 * lengths, tags, undefined, NaN and trailing bytes; then the value is re-encoded and must give back
 * the very same bytes, which rejects anything cborg lets through that is not canonical (floats, for
 * one). The schema readers below then check every field's type, range and size.
 */
import { decode, encode } from 'cborg';
import { equalBytes } from './bytes.ts';
import { CodedError } from './errors.ts';

export type CborValue = null | boolean | number | bigint | string | Uint8Array | CborValue[];

export const U64_MAX = 0xffff_ffff_ffff_ffffn;

export type CodecErrorCode = 'malformed' | 'non_canonical' | 'too_large' | 'schema';

export class CodecError extends CodedError<CodecErrorCode> {}

const DECODE_OPTIONS = {
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
  if (!equalBytes(encode(value), bytes)) {
    throw new CodecError('non_canonical', `${what}: bytes are not the canonical encoding`);
  }
  return value;
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
