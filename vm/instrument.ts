/**
 * Deterministic instrumentation of a validated module, done once at deploy. The output depends
 * only on the input bytes and COST_TABLE_VERSION, so every validator stores the same code and
 * charges the same gas whatever V8 tier later runs it.
 *
 * Gas and stack height travel with the calls. Every function the module defines takes two more
 * parameters, the gas left (i64) and the stack slots in use (i32), and returns the gas left after
 * its own results: (params, gas, slots) -> (results, gas). Within a function the gas is a local
 * (the parameter itself); it never touches memory between the module's own functions. A global
 * counter flushed and reloaded around each call, the earlier form, cost 2.0-2.4x unmetered on a
 * call-heavy kernel against ~1.4x for this one (bench/vm.bench.ts).
 *
 *   - Gas. Each basic block is charged its instructions' cost at its start, checked before it is
 *     spent (the counter never wraps); a function's first block also charges its entry (a frame,
 *     and each declared local). memory.grow is charged per page and memory.copy /
 *     memory.fill per byte, from the operand, before they run. Host functions charge the exported
 *     global __hallmark_gas: around a call to an import the local is flushed to it and reloaded
 *     after.
 *   - Slices. The gas a function holds is a slice of the call's gas, not all of it (the runtime
 *     keeps the rest). When a block costs more than the slice has left (`left < cost`), the
 *     code calls the added import hallmark.__hallmark_refuel(left, cost): the runtime traps as out
 *     of gas if the whole remaining gas cannot pay, which is where a single budget would have
 *     trapped, or lets the event loop run and returns the next slice (at least `cost`). Only the
 *     branch taken when the slice runs out differs from a single budget: the hot path is the same
 *     compare and subtract, and the gas charged does not depend on the slice size. Each of those
 *     branches is hinted unlikely (a metadata.code.branch_hint section): a branch to a trap was
 *     out of line by itself, a call that returns is not, and without the hint TurboFan ran
 *     recursive fib 1.9x unmetered instead of 1.45x (vm/code.ts turns the hints on in V8).
 *   - Stack. On entry a function adds its cost (parameters + locals + deepest operand stack +
 *     FRAME_SLOTS) to the slots it was given and traps past STACK_LIMIT_SLOTS; its callees get the
 *     sum. V8's own overflow depth differs by tier, so it must never be reached. Around a call to
 *     an import the slots are written to __hallmark_stack, where a cross-contract call starts from.
 *   - Trap reasons. Before trapping, instrumented code writes why to __hallmark_trap (out of gas,
 *     stack, the contract's own `unreachable`), so the runtime classifies traps by mechanism and
 *     never by V8's message.
 *   - Entry points. Each exported function is exported as an added wrapper with its original
 *     signature, which starts from the two globals and writes the gas left back. A function import
 *     placed in the table gets an added thunk with the threaded signature, so call_indirect sees
 *     one convention. Added functions come after the module's own. The refuel import comes after
 *     the module's imports, so every defined function's index moves up by one (calls, exports and
 *     table entries are renumbered). Modules with a start function are refused at deploy
 *     (vm/validate.ts), so there is none to handle.
 *   - The module's mutable globals are exported (__hallmark_global_<index>) so the runtime can
 *     reset a pooled instance to its state right after instantiation.
 *
 * Each function body is wrapped in a block of the function's result type, so a branch to the
 * function's own label lands in front of the epilogue (which pushes the gas left) instead of
 * leaving the function.
 *
 * This file lays out the module (types, imports, exports, table, the added functions);
 * instrument-body.ts rewrites each function body.
 */
import { EXPORT_GAS, EXPORT_GLOBAL_PREFIX, EXPORT_STACK, EXPORT_TRAP, HOST_MODULE, I32, I64, IMPORT_REFUEL } from './host-abi.ts';
import { instrumentBody, moved, type Globals, type Layout } from './instrument-body.ts';
import { EXTERNAL, ModuleError, Reader, SECTION, type ParsedModule } from './wasm.ts';
import { OP } from './wasm-instructions.ts';
import { Writer } from './wasm-writer.ts';

/** Returns the instrumented module's bytes. `m` must have passed validateModule. */
export function instrumentModule(m: ParsedModule): Uint8Array {
  if (m.start !== undefined) throw new ModuleError('a module with a start function cannot be instrumented (validateModule refuses it)');
  const g: Globals = { gas: m.globals.length, trap: m.globals.length + 1, stack: m.globals.length + 2 };
  const L: Layout = {
    imports: m.imports.length,
    types: m.types.length,
    funcTypes: [...m.imports.map((i) => i.typeIndex), ...m.functions],
    entries: new Map(),
    thunks: new Map(),
  };
  let next = L.funcTypes.length + 1;
  for (const e of m.exports) if (e.kind === EXTERNAL.func && e.index >= L.imports && !L.entries.has(e.index)) L.entries.set(e.index, next++);
  for (const seg of m.elementSegments) for (const f of seg.functions) if (f < L.imports && !L.thunks.has(f)) L.thunks.set(f, next++);

  const out = new Writer().byte(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
  const section = (id: number, payload: Uint8Array) => out.byte(id).u32(payload.length).bytes(payload);
  const original = (id: number) => m.sections.find((s) => s.id === id);

  for (const id of [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11]) {
    const s = original(id);
    if (id === SECTION.type) section(id, typeSection(m));
    else if (id === SECTION.import) section(id, importSection(m, s, L));
    else if (id === SECTION.function) section(id, functionSection(m, L));
    else if (id === SECTION.global) section(id, globalSection(m, s));
    else if (id === SECTION.export) section(id, exportSection(m, g, L));
    else if (id === SECTION.element) {
      if (s !== undefined) section(id, elementSection(m, L));
    } else if (id === SECTION.code) {
      // Hints must come before the code they describe.
      const { bytes, hints } = codeSection(m, g, L);
      section(SECTION.custom, branchHintSection(hints));
      section(id, bytes);
    } else if (s !== undefined) section(id, m.bytes.subarray(s.start, s.end));
  }
  return out.done();
}

/**
 * The module's types, then each one's threaded form: (params, i64, i32) -> (results, i64), then
 * refuel's: (left: i64, cost: i64) -> (slice: i64).
 */
function typeSection(m: ParsedModule): Uint8Array {
  const w = new Writer().u32(m.types.length * 2 + 1);
  const type = (params: number[], results: number[]) => w.byte(0x60).u32(params.length).byte(...params).u32(results.length).byte(...results);
  for (const t of m.types) type(t.params, t.results);
  for (const t of m.types) type([...t.params, I64, I32], [...t.results, I64]);
  type([I64, I64], [I64]);
  return w.done();
}

/** The module's imports as written, then refuel. */
function importSection(m: ParsedModule, s: { start: number; end: number } | undefined, L: Layout): Uint8Array {
  const { count, rest } = entries(m, s);
  return new Writer().u32(count + 1).bytes(rest).name(HOST_MODULE).name(IMPORT_REFUEL).byte(EXTERNAL.func).u32(2 * L.types).done();
}

function functionSection(m: ParsedModule, L: Layout): Uint8Array {
  const w = new Writer().u32(m.functions.length + L.entries.size + L.thunks.size);
  for (const t of m.functions) w.u32(L.types + t);
  for (const f of L.entries.keys()) w.u32(L.funcTypes[f]!);
  for (const f of L.thunks.keys()) w.u32(L.types + L.funcTypes[f]!);
  return w.done();
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

function exportSection(m: ParsedModule, g: Globals, L: Layout): Uint8Array {
  const mutable = m.globals.flatMap((gl, i) => (gl.mutable ? [i] : []));
  const w = new Writer().u32(m.exports.length + 3 + mutable.length);
  const entry = (f: number) => L.entries.get(f) ?? moved(L, f);
  for (const e of m.exports) w.name(e.name).byte(e.kind).u32(e.kind === EXTERNAL.func ? entry(e.index) : e.index);
  // The module's own mutable globals, so the runtime can put a reused instance back as it was.
  for (const i of mutable) w.name(`${EXPORT_GLOBAL_PREFIX}${i}`).byte(EXTERNAL.global).u32(i);
  w.name(EXPORT_GAS).byte(EXTERNAL.global).u32(g.gas);
  w.name(EXPORT_TRAP).byte(EXTERNAL.global).u32(g.trap);
  w.name(EXPORT_STACK).byte(EXTERNAL.global).u32(g.stack);
  return w.done();
}

/** The segments as written, with each imported function replaced by its thunk. */
function elementSection(m: ParsedModule, L: Layout): Uint8Array {
  const w = new Writer().u32(m.elementSegments.length);
  for (const seg of m.elementSegments) {
    w.u32(0).byte(OP.i32Const).s32(seg.offset).byte(OP.end).u32(seg.functions.length);
    for (const f of seg.functions) w.u32(L.thunks.get(f) ?? moved(L, f));
  }
  return w.done();
}

/** Unlikely-branch hints: function index -> byte offsets of its refuel `if`s, from its locals. */
type Hints = [number, number[]][];

/** The metadata.code.branch_hint custom section: every refuel branch, hinted unlikely (0). */
function branchHintSection(hints: Hints): Uint8Array {
  const w = new Writer().name('metadata.code.branch_hint').u32(hints.length);
  for (const [f, offsets] of hints) {
    w.u32(f).u32(offsets.length);
    for (const at of offsets) w.u32(at).u32(1).byte(0);
  }
  return w.done();
}

function codeSection(m: ParsedModule, g: Globals, L: Layout): { bytes: Uint8Array; hints: Hints } {
  const w = new Writer().u32(m.bodies.length + L.entries.size + L.thunks.size);
  const hints: Hints = [];
  const body = (locals: Uint8Array, code: Uint8Array) => w.u32(locals.length + code.length).bytes(locals).bytes(code);
  for (const [i, b] of m.bodies.entries()) {
    const type = m.types[m.functions[i]!]!;
    const { code, refuelAt } = instrumentBody(m, b, type, g, L);
    const locals = new Writer().u32(b.locals.length + 2);
    for (const l of b.locals) locals.u32(l.count).byte(l.type);
    locals.u32(1).byte(I64).u32(1).byte(I32);
    const declared = locals.done();
    if (refuelAt.length > 0) hints.push([moved(L, L.imports + i), refuelAt.map((at) => declared.length + at)]);
    body(declared, code);
  }
  const noLocals = Uint8Array.of(0);
  const getParams = (c: Writer, n: number) => {
    for (let p = 0; p < n; p++) c.byte(OP.localGet).u32(p);
  };
  // Entry wrapper: start from the globals the runtime set, write the gas left back.
  for (const f of L.entries.keys()) {
    const c = new Writer();
    getParams(c, m.types[L.funcTypes[f]!]!.params.length);
    c.byte(OP.globalGet).u32(g.gas).byte(OP.globalGet).u32(g.stack).byte(OP.call).u32(moved(L, f)).byte(OP.globalSet).u32(g.gas).byte(OP.end);
    body(noLocals, c.done());
  }
  // Thunk: an import called through the table, with the threaded signature.
  for (const f of L.thunks.keys()) {
    const n = m.types[L.funcTypes[f]!]!.params.length;
    const c = new Writer();
    c.byte(OP.localGet).u32(n).byte(OP.globalSet).u32(g.gas).byte(OP.localGet).u32(n + 1).byte(OP.globalSet).u32(g.stack);
    getParams(c, n);
    c.byte(OP.call).u32(f).byte(OP.globalGet).u32(g.gas).byte(OP.end);
    body(noLocals, c.done());
  }
  return { bytes: w.done(), hints };
}
