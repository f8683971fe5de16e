// The ABI's tagged values (docs/contracts.md): Args reads a call's input, Values builds return
// data (and arguments for cross-contract calls).
import * as host from "./host";
import { ptr, utf8 } from "./bytes";
import { revert, ADDRESS_BYTES } from "./env";

export const TAG_U64: u8 = 1;
export const TAG_BYTES: u8 = 2;
export const TAG_STRING: u8 = 3;
export const TAG_ADDRESS: u8 = 4;
export const TAG_BOOL: u8 = 5;

/** Reads the call's arguments in order; a missing or mistyped argument reverts with its position. */
export class Args {
  private at: i32 = 0;
  private index: i32 = 0;

  constructor(public bytes: Uint8Array) {}

  /** The arguments of the current call. */
  static input(): Args {
    const b = new Uint8Array(host.input_size());
    host.input_read(ptr(b));
    return new Args(b);
  }

  get remaining(): i32 {
    return this.bytes.length - this.at;
  }

  private tag(expected: u8, name: string): void {
    if (this.at >= this.bytes.length) revert("argument " + this.index.toString() + ": missing (expected " + name + ")");
    const t = this.bytes[this.at];
    if (t != expected) revert("argument " + this.index.toString() + ": expected " + name);
    this.at++;
    this.index++;
  }

  private need(n: i32): void {
    if (this.at + n > this.bytes.length) revert("argument " + (this.index - 1).toString() + ": truncated");
  }

  readU64(): u64 {
    this.tag(TAG_U64, "u64");
    this.need(8);
    const v = load<u64>(this.bytes.dataStart + <usize>this.at);
    this.at += 8;
    return v;
  }

  readBool(): bool {
    this.tag(TAG_BOOL, "bool");
    this.need(1);
    const b = this.bytes[this.at++];
    if (b > 1) revert("argument " + (this.index - 1).toString() + ": a bool is 0 or 1");
    return b == 1;
  }

  readAddress(): Uint8Array {
    this.tag(TAG_ADDRESS, "address");
    this.need(ADDRESS_BYTES);
    const a = this.bytes.slice(this.at, this.at + ADDRESS_BYTES);
    this.at += ADDRESS_BYTES;
    return a;
  }

  private readSized(tag: u8, name: string): Uint8Array {
    this.tag(tag, name);
    this.need(4);
    const n = <i32>load<u32>(this.bytes.dataStart + <usize>this.at);
    this.at += 4;
    if (n < 0) revert("argument " + (this.index - 1).toString() + ": too long");
    this.need(n);
    const b = this.bytes.slice(this.at, this.at + n);
    this.at += n;
    return b;
  }

  readBytes(): Uint8Array {
    return this.readSized(TAG_BYTES, "bytes");
  }

  readString(): string {
    const b = this.readSized(TAG_STRING, "string");
    return String.UTF8.decodeUnsafe(b.dataStart, b.length);
  }
}

/** Builds a sequence of tagged values. */
export class Values {
  private parts: Uint8Array[] = [];
  private size: i32 = 0;

  private push(b: Uint8Array): Values {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }

  private sized(tag: u8, body: Uint8Array): Values {
    const head = new Uint8Array(5);
    head[0] = tag;
    store<u32>(head.dataStart + 1, <u32>body.length);
    this.push(head);
    return this.push(body);
  }

  u64(v: u64): Values {
    const b = new Uint8Array(9);
    b[0] = TAG_U64;
    store<u64>(b.dataStart + 1, v);
    return this.push(b);
  }

  bool(v: bool): Values {
    const b = new Uint8Array(2);
    b[0] = TAG_BOOL;
    b[1] = v ? 1 : 0;
    return this.push(b);
  }

  address(a: Uint8Array): Values {
    if (a.length != ADDRESS_BYTES) revert("an address is 20 bytes");
    const b = new Uint8Array(1 + ADDRESS_BYTES);
    b[0] = TAG_ADDRESS;
    b.set(a, 1);
    return this.push(b);
  }

  bytes(v: Uint8Array): Values {
    return this.sized(TAG_BYTES, v);
  }

  string(v: string): Values {
    return this.sized(TAG_STRING, utf8(v));
  }

  encode(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (let i = 0; i < this.parts.length; i++) {
      out.set(this.parts[i], at);
      at += this.parts[i].length;
    }
    return out;
  }

  /** Sets these values as the call's return data. */
  ret(): void {
    const b = this.encode();
    host.return_data(ptr(b), b.length);
  }
}
