/**
 * The instructions Hallmark runs, as an allow-list: WebAssembly 1.0 integer instructions, sign
 * extension, memory.copy and memory.fill. Anything outside the list is refused here with the
 * reason, so the validator and the instrumenter never meet an instruction they do not know.
 */
import { I32, I64 } from './host-abi.ts';
import { fail, type Reader } from './wasm.ts';

/** One decoded instruction: its opcode (0xFC-prefixed ones as 0xFC00 + sub-opcode) and where it ends. */
export interface Instruction {
  op: number;
  start: number;
  end: number;
  /** Label depth (br, br_if), function index (call), type index (call_indirect), block type byte. */
  imm: number;
  /** br_table: the label depths, default last. */
  targets?: number[];
}

export const OP = {
  unreachable: 0x00, nop: 0x01, block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c,
  brIf: 0x0d, brTable: 0x0e, return: 0x0f, call: 0x10, callIndirect: 0x11, drop: 0x1a, select: 0x1b,
  localGet: 0x20, localSet: 0x21, localTee: 0x22, globalGet: 0x23, globalSet: 0x24,
  memorySize: 0x3f, memoryGrow: 0x40, i32Const: 0x41, i64Const: 0x42,
  memoryCopy: 0xfc0a, memoryFill: 0xfc0b,
} as const;

export const isLoad = (op: number) => op === 0x28 || op === 0x29 || (op >= 0x2c && op <= 0x35);
export const isStore = (op: number) => op === 0x36 || op === 0x37 || (op >= 0x3a && op <= 0x3e);

/**
 * Integer instructions without immediates, by stack effect: comparisons and arithmetic of i32
 * and i64, wrap/extend and sign extension. Everything with immediates is handled by name.
 */
const UNARY = new Set([0x45, 0x50, 0x67, 0x68, 0x69, 0x79, 0x7a, 0x7b, 0xa7, 0xac, 0xad, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4]);
const BINARY = new Set<number>();
for (let op = 0x46; op <= 0x4f; op++) BINARY.add(op);
for (let op = 0x51; op <= 0x5a; op++) BINARY.add(op);
for (let op = 0x6a; op <= 0x78; op++) BINARY.add(op);
for (let op = 0x7c; op <= 0x8a; op++) BINARY.add(op);

/** Net operand stack effect of a plain instruction (-1 binary, 0 unary), or undefined. */
export function plainEffect(op: number): number | undefined {
  if (UNARY.has(op)) return 0;
  if (BINARY.has(op)) return -1;
  return undefined;
}

function refuse(op: number, at: number): never {
  let why: string;
  if ((op >= 0x2a && op <= 0x2b) || (op >= 0x38 && op <= 0x39) || op === 0x43 || op === 0x44 || (op >= 0x5b && op <= 0x66) || (op >= 0x8b && op <= 0xbf)) {
    why = 'floating-point instructions are not allowed';
  } else if (op === 0xfd) why = 'SIMD is not allowed';
  else if (op === 0xfe) why = 'threads and atomics are not allowed';
  else if (op >= 0x06 && op <= 0x0a || op === 0x18 || op === 0x19 || op === 0x1f) why = 'exception handling is not allowed';
  else if (op === 0x12 || op === 0x13) why = 'tail calls are not allowed';
  else if (op >= 0xfc00 && op <= 0xfc07) why = 'saturating float-to-int conversions are not allowed';
  else if (op >= 0xfc00) why = 'this bulk memory or table instruction is not allowed (only memory.copy and memory.fill)';
  else if (op === 0x1c || (op >= 0x25 && op <= 0x26) || (op >= 0xd0 && op <= 0xd6)) why = 'reference types are not allowed';
  else why = 'unknown or unsupported instruction';
  return fail(`instruction 0x${op.toString(16)} at byte ${at}: ${why}`);
}

function blockType(r: Reader): number {
  const t = r.byte();
  if (t === 0x40 || t === I32 || t === I64) return t;
  if (t === 0x7d || t === 0x7c) return fail('a float block type is not allowed');
  return fail('block types other than empty, i32 or i64 (multi-value blocks) are not allowed');
}

function memArg(r: Reader): void {
  const align = r.u32();
  if (align >= 64) fail('a memory index on a load or store (multi-memory) is not allowed');
  r.u32();
}

function zeroByte(r: Reader, what: string): void {
  if (r.byte() !== 0) fail(`${what}: only memory or table 0 exists`);
}

/** Decodes the instruction at `r.pos`, refusing anything outside the allow-list. */
export function readInstruction(r: Reader): Instruction {
  const start = r.pos;
  let op = r.byte();
  let imm = 0;
  let targets: number[] | undefined;
  switch (op) {
    case OP.unreachable: case OP.nop: case OP.else: case OP.end: case OP.return: case OP.drop: case OP.select:
      break;
    case OP.block: case OP.loop: case OP.if:
      imm = blockType(r);
      break;
    case OP.br: case OP.brIf: case OP.call: case OP.localGet: case OP.localSet: case OP.localTee:
    case OP.globalGet: case OP.globalSet:
      imm = r.u32();
      break;
    case OP.brTable: {
      const n = r.u32();
      if (n > 65_536) fail('br_table too large');
      targets = Array.from({ length: n + 1 }, () => r.u32());
      break;
    }
    case OP.callIndirect:
      imm = r.u32();
      zeroByte(r, 'call_indirect');
      break;
    case OP.memorySize: case OP.memoryGrow:
      zeroByte(r, 'memory.size/grow');
      break;
    case OP.i32Const:
      r.skipSigned(5);
      break;
    case OP.i64Const:
      r.skipSigned(10);
      break;
    case 0xfc: {
      op = 0xfc00 + r.u32();
      if (op === OP.memoryCopy) {
        zeroByte(r, 'memory.copy');
        zeroByte(r, 'memory.copy');
      } else if (op === OP.memoryFill) {
        zeroByte(r, 'memory.fill');
      } else refuse(op, start);
      break;
    }
    default:
      if (isLoad(op) || isStore(op)) memArg(r);
      else if (plainEffect(op) === undefined) refuse(op, start);
  }
  return targets === undefined ? { op, start, end: r.pos, imm } : { op, start, end: r.pos, imm, targets };
}
