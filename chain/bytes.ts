/** Byte helpers shared by every layer. All byte strings are Uint8Array; hex is lower-case. */

const HEX = /^(?:[0-9a-f]{2})*$/;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * The bytes as a string of one character each (latin1): a map or set key half the size of hex
 * (a 32-byte hash is 48 bytes of heap against 80) and cheaper to make. Not for display.
 */
export function byteKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** Parses lower- or upper-case hex (optionally 0x-prefixed); throws on anything else. */
export function fromHex(hex: string): Uint8Array {
  const h = hex.startsWith('0x') ? hex.slice(2).toLowerCase() : hex.toLowerCase();
  if (!HEX.test(h)) throw new TypeError(`not a hex string: ${JSON.stringify(hex.slice(0, 20))}`);
  return new Uint8Array(Buffer.from(h, 'hex'));
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic comparison, shorter-prefix first (the order LevelDB keeps keys in). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** 8-byte big-endian encoding of a non-negative safe integer, so keys sort by number. */
export function u64be(n: number | bigint): Uint8Array {
  const v = BigInt(n);
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new RangeError(`not a u64: ${n}`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v);
  return out;
}

export function readU64be(bytes: Uint8Array, offset = 0): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`u64 beyond safe integer: ${v}`);
  return Number(v);
}
