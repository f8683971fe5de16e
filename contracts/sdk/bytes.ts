// Byte helpers: pointers of typed arrays, strings as UTF-8, equality.

export function ptr(b: Uint8Array): usize {
  return b.dataStart;
}

export function utf8(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

export function fromUtf8(b: Uint8Array): string {
  return String.UTF8.decodeUnsafe(b.dataStart, b.length);
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] != b[i]) return false;
  return true;
}

export function u64le(n: u64): Uint8Array {
  const out = new Uint8Array(8);
  store<u64>(out.dataStart, n);
  return out;
}

export function readU64le(b: Uint8Array): u64 {
  return b.length < 8 ? 0 : load<u64>(b.dataStart);
}
