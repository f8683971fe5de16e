/**
 * Deterministic instrumentation of a validated module, done once at deploy. The output depends
 * only on the input bytes and COST_TABLE_VERSION, so every validator stores the same code and
 * charges the same gas whatever V8 tier later runs it.
 *
 * What is added:
 *   - Gas. A mutable i64 global (exported as __hallmark_gas) holds the gas left between calls;
 *     inside a function a local copy is charged instead (a global access per basic block cost
 *     ~2x; the local ~1.1x). Each basic block is charged its instructions' cost at its start,
 *     checked before it is spent (`left < cost` traps, so the counter never wraps). The local is
 *     flushed to the global before every call (host functions read and charge the global) and
 *     reloaded after it, and flushed when the function returns. memory.grow is charged per page
 *     and memory.copy / memory.fill per byte, from the operand, before they run.
 *   - Stack. A mutable i32 global (__hallmark_stack) counts slots in use: each function adds its
 *     cost (parameters + locals + deepest operand stack + FRAME_SLOTS) on entry, traps past
 *     STACK_LIMIT_SLOTS, and subtracts it on return. V8's own overflow depth differs by tier, so
 *     it must never be reached.
 *   - Trap reasons. Before trapping, instrumented code writes why to __hallmark_trap (out of gas,
 *     stack, the contract's own `unreachable`), so the runtime classifies traps by mechanism and
 *     never by V8's message.
 *   - The start function is no longer run by instantiation; it is exported as __hallmark_start so
 *     the runtime runs it metered.
 *   - The module's mutable globals are exported (__hallmark_global_<index>) so the runtime can
 *     reset a pooled instance to its state right after instantiation.
 *
 * Each function body is wrapped in a block of the function's result type, so a branch to the
 * function's own label lands in front of the epilogue instead of leaving the function.
 */
import {
  EXPORT_GAS, EXPORT_GLOBAL_PREFIX, EXPORT_STACK, EXPORT_START, EXPORT_TRAP, I32, I64, TRAP_OUT_OF_GAS, TRAP_STACK, TRAP_UNREACHABLE,
} from './host-abi.ts';
import { FRAME_SLOTS, GAS, STACK_LIMIT_SLOTS } from './limits.ts';
import { EXTERNAL, isLoad, isStore, OP, plainEffect, readInstruction, Reader, SECTION, type Instruction, type ParsedModule } from './wasm.ts';

class Writer {
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

  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u32(b.length).bytes(b);
  }

  done(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

/** Instructions that cost nothing (wasmtime's fuel charges them 0 as well). */
const FREE = new Set<number>([OP.nop, OP.drop, OP.block, OP.loop, OP.unreachable, OP.return, OP.else, OP.end]);
/** After these a new basic block begins. */
const ENDS_BLOCK = new Set<number>([
  OP.block, OP.loop, OP.if, OP.else, OP.end, OP.br, OP.brIf, OP.brTable, OP.return, OP.unreachable, OP.call, OP.callIndirect,
]);

interface Globals {
  gas: number;
  trap: number;
  stack: number;
}

/** Returns the instrumented module's bytes. `m` must have passed validateModule. */
export function instrumentModule(m: ParsedModule): Uint8Array {
  const g: Globals = { gas: m.globals.length, trap: m.globals.length + 1, stack: m.globals.length + 2 };
  const funcTypes = [...m.imports.map((i) => i.typeIndex), ...m.functions];
  const out = new Writer().byte(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
  const section = (id: number, payload: Uint8Array) => out.byte(id).u32(payload.length).bytes(payload);
  const original = (id: number) => m.sections.find((s) => s.id === id);

  for (const id of [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11]) {
    const s = original(id);
    if (id === SECTION.global) section(id, globalSection(m, s));
    else if (id === SECTION.export) section(id, exportSection(m, s, g));
    else if (id === SECTION.start) continue;
    else if (id === SECTION.code) {
      if (s !== undefined) section(id, codeSection(m, funcTypes, g));
    } else if (s !== undefined) section(id, m.bytes.subarray(s.start, s.end));
  }
  return out.done();
}

/** The original entries after their count. */
function entries(m: ParsedModule, s: { start: number; end: number } | undefined): { count: number; rest: Uint8Array } {
  if (s === undefined) return { count: 0, rest: new Uint8Array(0) };
  const r = new Reader(m.bytes, s.start, s.end);
  const count = r.u32();
  return { count, rest: m.bytes.subarray(r.pos, s.end) };
}

function globalSection(m: ParsedModule, s: { start: number; end: number } | undefined): Uint8Array {
  const { count, rest } = entries(m, s);
  return new Writer().u32(count + 3).bytes(rest)
    .byte(I64, 1, OP.i64Const, 0, OP.end) // gas left
    .byte(I32, 1, OP.i32Const, 0, OP.end) // trap reason
    .byte(I32, 1, OP.i32Const, 0, OP.end) // stack slots in use
    .done();
}

function exportSection(m: ParsedModule, s: { start: number; end: number } | undefined, g: Globals): Uint8Array {
  const { count, rest } = entries(m, s);
  const mutable = m.globals.flatMap((gl, i) => (gl.mutable ? [i] : []));
  const w = new Writer().u32(count + 3 + (m.start === undefined ? 0 : 1) + mutable.length).bytes(rest);
  // The module's own mutable globals, so the runtime can put a reused instance back as it was.
  for (const i of mutable) w.name(`${EXPORT_GLOBAL_PREFIX}${i}`).byte(EXTERNAL.global).u32(i);
  w.name(EXPORT_GAS).byte(EXTERNAL.global).u32(g.gas);
  w.name(EXPORT_TRAP).byte(EXTERNAL.global).u32(g.trap);
  w.name(EXPORT_STACK).byte(EXTERNAL.global).u32(g.stack);
  if (m.start !== undefined) w.name(EXPORT_START).byte(EXTERNAL.func).u32(m.start);
  return w.done();
}

function codeSection(m: ParsedModule, funcTypes: number[], g: Globals): Uint8Array {
  const w = new Writer().u32(m.bodies.length);
  for (const [i, body] of m.bodies.entries()) {
    const type = m.types[m.functions[i]!]!;
    const fn = instrumentBody(m, body.codeStart, body.codeEnd, type.params.length + body.localCount, type, funcTypes, g);
    const locals = new Writer().u32(body.locals.length + 2);
    for (const l of body.locals) locals.u32(l.count).byte(l.type);
    locals.u32(2).byte(I64).u32(1).byte(I32);
    const localsBytes = locals.done();
    w.u32(localsBytes.length + fn.length).bytes(localsBytes).bytes(fn);
  }
  return w.done();
}

function costOf(op: number): number {
  return FREE.has(op) ? 0 : GAS.op;
}

function instrumentBody(
  m: ParsedModule, start: number, end: number, firstNewLocal: number,
  type: { params: number[]; results: number[] }, funcTypes: number[], g: Globals,
): Uint8Array {
  const LEFT = firstNewLocal; // i64: gas left, this frame's copy
  const T64 = firstNewLocal + 1; // i64 scratch
  const T32 = firstNewLocal + 2; // i32 scratch
  const r = new Reader(m.bytes, start, end);
  const ins: Instruction[] = [];
  while (r.pos < end) ins.push(readInstruction(r));

  // Basic blocks: the cost of each, charged in front of its first instruction.
  const charge = new Map<number, number>();
  let blockStart = 0;
  let cost = 0;
  for (let i = 0; i < ins.length; i++) {
    cost += costOf(ins[i]!.op);
    if (ENDS_BLOCK.has(ins[i]!.op) || i === ins.length - 1) {
      if (cost > 0) charge.set(blockStart, cost);
      blockStart = i + 1;
      cost = 0;
    }
  }

  const slots = firstNewLocal + 3 + maxOperandDepth(m, ins, type.results.length, funcTypes) + FRAME_SLOTS;
  const w = new Writer();
  const trapWith = (reason: number) => w.byte(OP.i32Const).sleb(reason).byte(OP.globalSet).u32(g.trap).byte(OP.unreachable);
  const outOfGas = () => {
    w.byte(OP.i64Const, 0, OP.globalSet).u32(g.gas);
    trapWith(TRAP_OUT_OF_GAS);
  };
  // Charges the i64 in T64: `if (left < T64) trap; left -= T64`.
  const chargeT64 = () => {
    w.byte(OP.localGet).u32(LEFT).byte(OP.localGet).u32(T64).byte(0x54 /* i64.lt_u */, OP.if, 0x40);
    outOfGas();
    w.byte(OP.end);
    w.byte(OP.localGet).u32(LEFT).byte(OP.localGet).u32(T64).byte(0x7d /* i64.sub */, OP.localSet).u32(LEFT);
  };
  const chargeConst = (n: number) => {
    w.byte(OP.localGet).u32(LEFT).byte(OP.i64Const).sleb(n).byte(0x54, OP.if, 0x40);
    outOfGas();
    w.byte(OP.end);
    w.byte(OP.localGet).u32(LEFT).byte(OP.i64Const).sleb(n).byte(0x7d, OP.localSet).u32(LEFT);
  };
  // The i32 operand on top of the stack times `perUnit`, charged; the operand stays.
  const chargeOperand = (perUnit: number) => {
    w.byte(OP.localTee).u32(T32).byte(0xad /* i64.extend_i32_u */, OP.i64Const).sleb(perUnit).byte(0x7e /* i64.mul */, OP.localSet).u32(T64);
    chargeT64();
    w.byte(OP.localGet).u32(T32);
  };
  const flush = () => w.byte(OP.localGet).u32(LEFT).byte(OP.globalSet).u32(g.gas);
  const reload = () => w.byte(OP.globalGet).u32(g.gas).byte(OP.localSet).u32(LEFT);
  const epilogue = () => {
    flush();
    w.byte(OP.globalGet).u32(g.stack).byte(OP.i32Const).sleb(slots).byte(0x6b /* i32.sub */, OP.globalSet).u32(g.stack);
  };

  // Prologue: claim stack slots, load gas, open the wrapper block.
  w.byte(OP.globalGet).u32(g.stack).byte(OP.i32Const).sleb(slots).byte(0x6a /* i32.add */, OP.localTee).u32(T32).byte(OP.globalSet).u32(g.stack);
  w.byte(OP.localGet).u32(T32).byte(OP.i32Const).sleb(STACK_LIMIT_SLOTS).byte(0x4b /* i32.gt_u */, OP.if, 0x40);
  trapWith(TRAP_STACK);
  w.byte(OP.end);
  reload();
  w.byte(OP.block, type.results.length === 0 ? 0x40 : type.results[0]!);

  for (let i = 0; i < ins.length; i++) {
    const x = ins[i]!;
    const c = charge.get(i);
    if (c !== undefined) chargeConst(c);
    const raw = m.bytes.subarray(x.start, x.end);
    switch (x.op) {
      case OP.unreachable:
        trapWith(TRAP_UNREACHABLE);
        break;
      case OP.return:
        epilogue();
        w.bytes(raw);
        break;
      case OP.call: case OP.callIndirect:
        flush();
        w.bytes(raw);
        reload();
        break;
      case OP.memoryGrow:
        chargeOperand(GAS.memoryGrowPage);
        w.bytes(raw);
        break;
      case OP.memoryCopy: case OP.memoryFill:
        chargeOperand(GAS.bulkByte);
        w.bytes(raw);
        break;
      default:
        w.bytes(raw);
        if (i === ins.length - 1) {
          // The function's final end closed the wrapper block; then the epilogue and the real end.
          epilogue();
          w.byte(OP.end);
        }
    }
  }
  return w.done();
}

/** The deepest the operand stack of one frame can get, from the instructions' stack effects. */
function maxOperandDepth(m: ParsedModule, ins: Instruction[], results: number, funcTypes: number[]): number {
  const frames: { base: number; results: number }[] = [{ base: 0, results }];
  let h = 0;
  let max = 0;
  const arity = (bt: number) => (bt === 0x40 ? 0 : 1);
  const typeOf = (fnIndex: number) => m.types[funcTypes[fnIndex]!]!;
  for (const x of ins) {
    const top = frames[frames.length - 1]!;
    switch (x.op) {
      case OP.block: case OP.loop:
        frames.push({ base: h, results: arity(x.imm) });
        break;
      case OP.if:
        h--;
        frames.push({ base: h, results: arity(x.imm) });
        break;
      case OP.else:
        h = top.base;
        break;
      case OP.end:
        frames.pop();
        h = top.base + top.results;
        break;
      case OP.br: case OP.brTable: case OP.return: case OP.unreachable:
        h = top.base; // the rest of the block is unreachable
        break;
      case OP.brIf: case OP.drop: case OP.localSet: case OP.globalSet:
        h--;
        break;
      case OP.select:
        h -= 2;
        break;
      case OP.call: {
        const t = typeOf(x.imm);
        h += t.results.length - t.params.length;
        break;
      }
      case OP.callIndirect: {
        const t = m.types[x.imm]!;
        h += t.results.length - t.params.length - 1;
        break;
      }
      case OP.localGet: case OP.globalGet: case OP.memorySize: case OP.i32Const: case OP.i64Const:
        h++;
        break;
      case OP.memoryCopy: case OP.memoryFill:
        h -= 3;
        break;
      default:
        if (isStore(x.op)) h -= 2;
        else if (!isLoad(x.op) && x.op !== OP.localTee && x.op !== OP.memoryGrow && x.op !== OP.nop) h += plainEffect(x.op) ?? 0;
    }
    const floor = frames.length > 0 ? frames[frames.length - 1]!.base : 0;
    if (h < floor) h = floor;
    if (h > max) max = h;
  }
  // The injected gas and stack sequences push at most 3 values on top of the deepest point.
  return max + 3;
}
