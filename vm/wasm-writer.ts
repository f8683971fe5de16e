/**
 * Writes WebAssembly binary: bytes, LEB128 integers and names into a growing buffer. The
 * instrumenter's output is built with it, byte by byte, so it depends on nothing but its input.
 */
export class Writer {
  #buf = new Uint8Array(1024);
  length = 0;

  #room(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.length + n));
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
  }

  byte(...bs: number[]): this {
    this.#room(bs.length);
    for (const b of bs) this.#buf[this.length++] = b;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  u32(n: number): this {
    do {
      let b = n & 0x7f;
      n = Math.floor(n / 128);
      if (n !== 0) b |= 0x80;
      this.byte(b);
    } while (n !== 0);
    return this;
  }

  /** Signed LEB128 of a non-negative integer below 2^53. */
  sleb(n: number): this {
    for (;;) {
      const b = n % 128;
      n = Math.floor(n / 128);
      if (n === 0 && (b & 0x40) === 0) return this.byte(b);
      this.byte(b | 0x80);
    }
  }

  /** Signed LEB128 of an int32. */
  s32(n: number): this {
    n |= 0;
    for (;;) {
      const b = n & 0x7f;
      n >>= 7;
      if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return this.byte(b);
      this.byte(b | 0x80);
    }
  }

  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u32(b.length).bytes(b);
  }

  done(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}
