// Contract storage: byte keys and values, with u64 and string-key helpers and prefix iteration.
import * as host from "./host";
import { ptr, utf8, u64le, readU64le } from "./bytes";

export const MAX_KEY_BYTES = 256;

export class Storage {
  static get(key: Uint8Array): Uint8Array | null {
    let buf = new Uint8Array(64);
    const n = host.storage_read(ptr(key), key.length, ptr(buf), buf.length);
    if (n < 0) return null;
    if (n > buf.length) {
      buf = new Uint8Array(n);
      host.storage_read(ptr(key), key.length, ptr(buf), n);
    }
    return buf.subarray(0, n);
  }

  static set(key: Uint8Array, value: Uint8Array): void {
    host.storage_write(ptr(key), key.length, ptr(value), value.length);
  }

  /** True if the key existed. */
  static remove(key: Uint8Array): bool {
    return host.storage_remove(ptr(key), key.length) == 1;
  }

  static has(key: Uint8Array): bool {
    return host.storage_has(ptr(key), key.length) == 1;
  }

  /** A u64 stored as 8 bytes little-endian; 0 when absent. */
  static getU64(key: Uint8Array): u64 {
    const v = Storage.get(key);
    return v == null ? 0 : readU64le(v);
  }

  static setU64(key: Uint8Array, value: u64): void {
    Storage.set(key, u64le(value));
  }

  /** The key after `after` (or the first when null) among keys starting with `prefix`, or null. */
  static next(prefix: Uint8Array, after: Uint8Array | null): Uint8Array | null {
    const buf = new Uint8Array(MAX_KEY_BYTES);
    const a = after != null ? after : new Uint8Array(0);
    const n = host.storage_next(ptr(prefix), prefix.length, ptr(a), a.length, ptr(buf), buf.length);
    return n < 0 ? null : buf.subarray(0, n);
  }

  /** Every key starting with `prefix`, in byte order (mind the gas on large sets). */
  static keys(prefix: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let k = Storage.next(prefix, null);
    while (k != null) {
      out.push(k);
      k = Storage.next(prefix, k);
    }
    return out;
  }
}

/** A storage key from a name and a part, joined by '/': key("balance", owner). */
export function key(name: string, part: Uint8Array = new Uint8Array(0)): Uint8Array {
  const n = utf8(name + "/");
  const out = new Uint8Array(n.length + part.length);
  out.set(n, 0);
  out.set(part, n.length);
  return out;
}
