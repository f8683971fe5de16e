/**
 * Instruments one function body, as instrument.ts's header describes: each basic block charged at
 * its start (refuelling when the slice runs short), the frame's stack slots claimed on entry from
 * its deepest operand stack, gas and slots threaded through calls, and traps that say why.
 */
import { TRAP_STACK, TRAP_UNREACHABLE } from './host-abi.ts';
import { FRAME_SLOTS, GAS, STACK_LIMIT_SLOTS } from './limits.ts';
import { Reader, type FuncType, type FunctionBody, type ParsedModule } from './wasm.ts';
import { isLoad, isStore, OP, plainEffect, readInstruction, type Instruction } from './wasm-instructions.ts';
import { Writer } from './wasm-writer.ts';

/** Instructions that cost nothing (wasmtime's fuel charges them 0 as well). */
const FREE = new Set<number>([OP.nop, OP.drop, OP.block, OP.loop, OP.unreachable, OP.return, OP.else, OP.end]);
/** After these a new basic block begins. */
const ENDS_BLOCK = new Set<number>([
  OP.block, OP.loop, OP.if, OP.else, OP.end, OP.br, OP.brIf, OP.brTable, OP.return, OP.unreachable, OP.call, OP.callIndirect,
]);

/** Indices of the three globals the instrumenter adds: gas left, trap reason, stack slots. */
export interface Globals {
  gas: number;
  trap: number;
  stack: number;
}

/** How the module's functions are reached once instrumented. */
export interface Layout {
  /** The module's own imports; the refuel import comes right after them, at this index. */
  imports: number;
  /** The module's own type count; type t's threaded form is at `types + t`, refuel's at `2 * types`. */
  types: number;
  /** Type index (original) of every function, imports first, in the original numbering. */
  funcTypes: number[];
  /** Defined function index (original) -> its added entry wrapper. */
  entries: Map<number, number>;
  /** Imported function index -> its added thunk (imports placed in the table). */
  thunks: Map<number, number>;
}

/** A function's index once the refuel import is in place: defined functions move up by one. */
export const moved = (L: Layout, f: number) => (f < L.imports ? f : f + 1);

function costOf(op: number): number {
  return FREE.has(op) ? 0 : GAS.op;
}

/** The instrumented instructions, and where in them each refuel `if` is. */
export function instrumentBody(m: ParsedModule, b: FunctionBody, type: FuncType, g: Globals, L: Layout): { code: Uint8Array; refuelAt: number[] } {
  const P = type.params.length;
  const LEFT = P; // i64 parameter: gas left, this frame's copy
  const SLOTS = P + 1; // i32 parameter: stack slots in use, this frame included once it is entered
  const T64 = P + 2 + b.localCount; // i64 scratch
  const T32 = T64 + 1; // i32 scratch
  const local = (i: number) => (i < P ? i : i + 2); // the module's locals moved past the two parameters
  const r = new Reader(m.bytes, b.codeStart, b.codeEnd);
  const ins: Instruction[] = [];
  while (r.pos < b.codeEnd) ins.push(readInstruction(r));

  // Basic blocks: the cost of each, charged in front of its first instruction. The first one also
  // pays for entering the function: its frame and the locals the engine zeroes.
  const charge = new Map<number, number>();
  let blockStart = 0;
  let cost = GAS.frame + GAS.local * b.localCount;
  for (let i = 0; i < ins.length; i++) {
    cost += costOf(ins[i]!.op);
    if (ENDS_BLOCK.has(ins[i]!.op) || i === ins.length - 1) {
      if (cost > 0) charge.set(blockStart, cost);
      blockStart = i + 1;
      cost = 0;
    }
  }

  // Parameters, locals, the gas/slots pair and a scratch, the deepest operand stack, overhead.
  const slots = P + b.localCount + 3 + maxOperandDepth(m, ins, type.results.length, L.funcTypes) + FRAME_SLOTS;
  const w = new Writer();
  const refuelAt: number[] = [];
  const trapWith = (reason: number) => w.byte(OP.i32Const).sleb(reason).byte(OP.globalSet).u32(g.trap).byte(OP.unreachable);
  // `if (left < cost) left = refuel(left, cost); left -= cost`, the cost pushed by `push()`;
  // refuel traps when the call's whole remaining gas cannot pay.
  const chargeBy = (push: () => void) => {
    w.byte(OP.localGet).u32(LEFT);
    push();
    w.byte(0x54 /* i64.lt_u */);
    refuelAt.push(w.length);
    w.byte(OP.if, 0x40, OP.localGet).u32(LEFT);
    push();
    w.byte(OP.call).u32(L.imports).byte(OP.localSet).u32(LEFT).byte(OP.end);
    w.byte(OP.localGet).u32(LEFT);
    push();
    w.byte(0x7d /* i64.sub */, OP.localSet).u32(LEFT);
  };
  const chargeT64 = () => chargeBy(() => w.byte(OP.localGet).u32(T64));
  const chargeConst = (n: number) => chargeBy(() => w.byte(OP.i64Const).sleb(n));
  // The i32 operand on top of the stack times `perUnit`, charged; the operand stays.
  const chargeOperand = (perUnit: number) => {
    w.byte(OP.localTee).u32(T32).byte(0xad /* i64.extend_i32_u */, OP.i64Const).sleb(perUnit).byte(0x7e /* i64.mul */, OP.localSet).u32(T64);
    chargeT64();
    w.byte(OP.localGet).u32(T32);
  };

  // Prologue: claim this frame's slots, open the wrapper block.
  w.byte(OP.localGet).u32(SLOTS).byte(OP.i32Const).sleb(slots).byte(0x6a /* i32.add */, OP.localTee).u32(SLOTS);
  w.byte(OP.i32Const).sleb(STACK_LIMIT_SLOTS).byte(0x4b /* i32.gt_u */, OP.if, 0x40);
  trapWith(TRAP_STACK);
  w.byte(OP.end);
  w.byte(OP.block, type.results.length === 0 ? 0x40 : type.results[0]!);

  for (let i = 0; i < ins.length; i++) {
    const x = ins[i]!;
    const c = charge.get(i);
    if (c !== undefined) chargeConst(c);
    const raw = m.bytes.subarray(x.start, x.end);
    switch (x.op) {
      case OP.localGet: case OP.localSet: case OP.localTee:
        w.byte(x.op).u32(local(x.imm));
        break;
      case OP.unreachable:
        trapWith(TRAP_UNREACHABLE);
        break;
      case OP.return:
        w.byte(OP.localGet).u32(LEFT).byte(OP.return);
        break;
      case OP.call:
        if (x.imm < L.imports) {
          // A host function: it charges and reads the globals.
          w.byte(OP.localGet).u32(LEFT).byte(OP.globalSet).u32(g.gas).byte(OP.localGet).u32(SLOTS).byte(OP.globalSet).u32(g.stack);
          w.bytes(raw);
          w.byte(OP.globalGet).u32(g.gas).byte(OP.localSet).u32(LEFT);
        } else {
          w.byte(OP.localGet).u32(LEFT).byte(OP.localGet).u32(SLOTS).byte(OP.call).u32(moved(L, x.imm)).byte(OP.localSet).u32(LEFT);
        }
        break;
      case OP.callIndirect:
        // The table index is on top: the gas and slots go in under it.
        w.byte(OP.localSet).u32(T32).byte(OP.localGet).u32(LEFT).byte(OP.localGet).u32(SLOTS).byte(OP.localGet).u32(T32);
        w.byte(OP.callIndirect).u32(L.types + x.imm).byte(0).byte(OP.localSet).u32(LEFT);
        break;
      case OP.memoryGrow:
        chargeOperand(GAS.memoryPage);
        w.bytes(raw);
        break;
      case OP.memoryCopy: case OP.memoryFill:
        chargeOperand(GAS.bulkByte);
        w.bytes(raw);
        break;
      default:
        w.bytes(raw);
        if (i === ins.length - 1) {
          // The function's final end closed the wrapper block; then the gas left and the real end.
          w.byte(OP.localGet).u32(LEFT).byte(OP.end);
        }
    }
  }
  return { code: w.done(), refuelAt };
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
