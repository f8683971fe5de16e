/**
 * A WebAssembly binary reader for the subset Hallmark runs: the module's sections, each refused
 * here with the reason when it is outside the subset. The instructions of function bodies are
 * decoded by wasm-instructions.ts against its allow-list, with this file's Reader.
 *
 * Why our own reader: the instrumenter must rewrite function bodies byte by byte, deterministically,
 * and no maintained JavaScript library does that (wabt.js parses and prints text; binaryen
 * re-optimises and re-encodes the whole module, so the output would depend on its version's
 * passes). Type checking is left to V8: a module reaches this reader only after
 * `new WebAssembly.Module` accepted it.
 */
import { CodedError } from '../chain/errors.ts';
import { I32, I64 } from './host-abi.ts';

export class ModuleError extends CodedError<'invalid_module'> {
  constructor(message: string) {
    super('invalid_module', message);
  }
}

/** Throws the ModuleError that refuses a module. */
export const fail = (message: string): never => {
  throw new ModuleError(message);
};

export class Reader {
  readonly bytes: Uint8Array;
  pos: number;
  readonly end: number;

  constructor(bytes: Uint8Array, pos = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
  }

  byte(): number {
    if (this.pos >= this.end) fail('unexpected end of section');
    return this.bytes[this.pos++]!;
  }

  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      if (shift === 28 && b > 0x0f) fail('integer too large');
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
  }

  /** Skips a signed LEB128 of at most `maxBytes` bytes (its value is never needed). */
  skipSigned(maxBytes: number): void {
    for (let i = 0; i < maxBytes; i++) if ((this.byte() & 0x80) === 0) return;
    fail('integer too long');
  }

  /** Reads a signed LEB128 i32 (constant expressions need the value). */
  s32(): number {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      b = this.byte();
      result |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80 && shift < 35);
    if (b & 0x80) fail('integer too long');
    return shift < 32 && b & 0x40 ? result | (-1 << shift) : result;
  }

  name(): string {
    const len = this.u32();
    if (this.pos + len > this.end) fail('name runs past its section');
    const text = new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return text;
  }

  valType(what: string): number {
    const t = this.byte();
    if (t === I32 || t === I64) return t;
    return fail(`${what}: ${describeType(t)} is not supported (only i32 and i64)`);
  }
}

function describeType(t: number): string {
  switch (t) {
    case 0x7d: return 'f32 (floats are not allowed)';
    case 0x7c: return 'f64 (floats are not allowed)';
    case 0x7b: return 'v128 (SIMD is not allowed)';
    case 0x70: case 0x6f: return 'a reference type';
    default: return `type 0x${t.toString(16)}`;
  }
}

export interface FuncType {
  params: number[];
  results: number[];
}
export interface Limits {
  min: number;
  max: number | undefined;
}
export interface FunctionImport {
  module: string;
  name: string;
  typeIndex: number;
}
export interface Global {
  type: number;
  mutable: boolean;
}
export interface Export {
  name: string;
  kind: number;
  index: number;
}
export interface FunctionBody {
  /** Declared locals (parameters not included), in declaration order. */
  locals: { count: number; type: number }[];
  localCount: number;
  /** Byte range of the instructions, up to and including the final `end`. */
  codeStart: number;
  codeEnd: number;
}
export interface Section {
  id: number;
  start: number;
  end: number;
}

export const SECTION = {
  custom: 0, type: 1, import: 2, function: 3, table: 4, memory: 5, global: 6, export: 7, start: 8,
  element: 9, code: 10, data: 11, dataCount: 12,
} as const;
export const EXTERNAL = { func: 0, table: 1, memory: 2, global: 3 } as const;
const SECTION_ORDER = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11];

export interface ParsedModule {
  bytes: Uint8Array;
  sections: Section[];
  types: FuncType[];
  imports: FunctionImport[];
  /** Type index of each defined function. */
  functions: number[];
  table: Limits | undefined;
  memory: Limits | undefined;
  globals: Global[];
  exports: Export[];
  start: number | undefined;
  bodies: FunctionBody[];
  dataSegments: { offset: number; length: number }[];
  /** Active segments of table 0: where each starts and the function indices it places. */
  elementSegments: { offset: number; length: number; functions: number[] }[];
}

export interface ModuleCaps {
  maxTypes: number;
  maxImports: number;
  maxFunctions: number;
  maxLocals: number;
  maxParams: number;
  maxGlobals: number;
  maxTableEntries: number;
  maxDataSegments: number;
  maxExports: number;
}

/** Parses the module's sections, refusing anything outside the supported subset. */
export function parseModule(bytes: Uint8Array, caps: ModuleCaps): ParsedModule {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) fail('not a WebAssembly module (bad magic)');
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) fail('unsupported WebAssembly version (only 1)');
  const m: ParsedModule = {
    bytes, sections: [], types: [], imports: [], functions: [], table: undefined, memory: undefined, globals: [],
    exports: [], start: undefined, bodies: [], dataSegments: [], elementSegments: [],
  };
  const top = new Reader(bytes, 8);
  let lastOrder = -1;
  while (top.pos < top.end) {
    const id = top.byte();
    const size = top.u32();
    const start = top.pos;
    const end = start + size;
    if (end > bytes.length) fail('a section runs past the end of the module');
    top.pos = end;
    if (id === SECTION.custom) continue;
    const order = SECTION_ORDER.indexOf(id);
    if (order < 0) fail(id === 13 ? 'exception handling (tag section) is not allowed' : `unknown section ${id}`);
    if (order <= lastOrder) fail(`section ${id} is out of order or repeated`);
    lastOrder = order;
    m.sections.push({ id, start, end });
    const r = new Reader(bytes, start, end);
    readSection(m, id, r, caps);
    if (r.pos !== end) fail(`section ${id} has trailing bytes`);
  }
  if (m.functions.length !== m.bodies.length) fail('function and code sections disagree');
  return m;
}

/** The initial pages of the memory of a module parsed before (0 if it has none): its memory section alone is read. */
export function initialMemoryPages(bytes: Uint8Array): number {
  const top = new Reader(bytes, 8);
  while (top.pos < top.end) {
    const id = top.byte();
    const size = top.u32();
    if (id === SECTION.memory) {
      const r = new Reader(bytes, top.pos, top.pos + size);
      return r.u32() === 0 ? 0 : readLimits(r, 'memory').min;
    }
    top.pos += size;
  }
  return 0;
}

function vecCount(r: Reader, cap: number, what: string): number {
  const n = r.u32();
  if (n > cap) fail(`too many ${what}: ${n} (at most ${cap})`);
  return n;
}

function readLimits(r: Reader, what: string): Limits {
  const flags = r.byte();
  if (flags === 0) return { min: r.u32(), max: undefined };
  if (flags === 1) {
    const min = r.u32();
    const max = r.u32();
    if (max < min) fail(`${what}: maximum below minimum`);
    return { min, max };
  }
  if (flags === 3) return fail(`${what}: shared memory (threads) is not allowed`);
  if (flags & 0x04) return fail(`${what}: memory64 is not allowed`);
  return fail(`${what}: unsupported limits flags 0x${flags.toString(16)}`);
}

/** A constant i32 offset expression: `i32.const N end`. */
function readOffset(r: Reader, what: string): number {
  if (r.byte() !== 0x41) fail(`${what}: the offset must be an i32.const`);
  const v = r.s32();
  if (r.byte() !== 0x0b) fail(`${what}: the offset must be a single i32.const`);
  return v >>> 0;
}

function readSection(m: ParsedModule, id: number, r: Reader, caps: ModuleCaps): void {
  switch (id) {
    case SECTION.type: {
      const n = vecCount(r, caps.maxTypes, 'types');
      for (let i = 0; i < n; i++) {
        if (r.byte() !== 0x60) fail(`type ${i}: only function types are supported`);
        const np = vecCount(r, caps.maxParams, `parameters in type ${i}`);
        const params = Array.from({ length: np }, () => r.valType(`type ${i} parameter`));
        const nr = r.u32();
        if (nr > 1) fail(`type ${i}: more than one result (multi-value) is not allowed`);
        const results = Array.from({ length: nr }, () => r.valType(`type ${i} result`));
        m.types.push({ params, results });
      }
      return;
    }
    case SECTION.import: {
      const n = vecCount(r, caps.maxImports, 'imports');
      for (let i = 0; i < n; i++) {
        const module = r.name();
        const name = r.name();
        const kind = r.byte();
        if (kind !== EXTERNAL.func) fail(`import ${module}.${name}: only functions may be imported`);
        const typeIndex = r.u32();
        if (typeIndex >= m.types.length) fail(`import ${module}.${name}: unknown type ${typeIndex}`);
        m.imports.push({ module, name, typeIndex });
      }
      return;
    }
    case SECTION.function: {
      const n = vecCount(r, caps.maxFunctions, 'functions');
      for (let i = 0; i < n; i++) {
        const t = r.u32();
        if (t >= m.types.length) fail(`function ${i}: unknown type ${t}`);
        m.functions.push(t);
      }
      return;
    }
    case SECTION.table: {
      const n = r.u32();
      if (n > 1) fail('more than one table is not allowed');
      if (n === 1) {
        if (r.byte() !== 0x70) fail('table: only funcref tables are allowed');
        const t = readLimits(r, 'table');
        if (t.min > caps.maxTableEntries || (t.max ?? 0) > caps.maxTableEntries) fail(`table: more than ${caps.maxTableEntries} entries`);
        m.table = t;
      }
      return;
    }
    case SECTION.memory: {
      const n = r.u32();
      if (n > 1) fail('more than one memory (multi-memory) is not allowed');
      if (n === 1) m.memory = readLimits(r, 'memory');
      return;
    }
    case SECTION.global: {
      const n = vecCount(r, caps.maxGlobals, 'globals');
      for (let i = 0; i < n; i++) {
        const type = r.valType(`global ${i}`);
        const mut = r.byte();
        if (mut > 1) fail(`global ${i}: bad mutability flag`);
        const op = r.byte();
        if (op !== (type === I32 ? 0x41 : 0x42)) fail(`global ${i}: the initialiser must be a constant of the global's type`);
        r.skipSigned(type === I32 ? 5 : 10);
        if (r.byte() !== 0x0b) fail(`global ${i}: the initialiser must be a single constant`);
        m.globals.push({ type, mutable: mut === 1 });
      }
      return;
    }
    case SECTION.export: {
      const n = vecCount(r, caps.maxExports, 'exports');
      for (let i = 0; i < n; i++) {
        const name = r.name();
        const kind = r.byte();
        if (kind > EXTERNAL.global) fail(`export ${name}: unknown kind ${kind}`);
        m.exports.push({ name, kind, index: r.u32() });
      }
      return;
    }
    case SECTION.start:
      m.start = r.u32();
      return;
    case SECTION.element: {
      const n = vecCount(r, caps.maxTableEntries, 'element segments');
      for (let i = 0; i < n; i++) {
        if (r.u32() !== 0) fail(`element segment ${i}: only active segments of table 0 with function indices are allowed`);
        const offset = readOffset(r, `element segment ${i}`);
        const count = vecCount(r, caps.maxTableEntries, `entries in element segment ${i}`);
        const functions = Array.from({ length: count }, () => r.u32());
        m.elementSegments.push({ offset, length: count, functions });
      }
      return;
    }
    case SECTION.dataCount:
      r.u32();
      return;
    case SECTION.code: {
      const n = r.u32();
      if (n !== m.functions.length) fail('function and code sections disagree');
      for (let i = 0; i < n; i++) {
        const size = r.u32();
        const end = r.pos + size;
        if (end > r.end) fail(`function ${i}: body runs past the code section`);
        const body = new Reader(r.bytes, r.pos, end);
        const groups = body.u32();
        const locals: { count: number; type: number }[] = [];
        let localCount = 0;
        for (let g = 0; g < groups; g++) {
          const count = body.u32();
          localCount += count;
          if (localCount > caps.maxLocals) fail(`function ${i}: more than ${caps.maxLocals} locals`);
          locals.push({ count, type: body.valType(`function ${i} local`) });
        }
        m.bodies.push({ locals, localCount, codeStart: body.pos, codeEnd: end });
        r.pos = end;
      }
      return;
    }
    case SECTION.data: {
      const n = vecCount(r, caps.maxDataSegments, 'data segments');
      for (let i = 0; i < n; i++) {
        const flags = r.u32();
        if (flags !== 0) fail(`data segment ${i}: only active segments of memory 0 are allowed (passive segments need memory.init)`);
        const offset = readOffset(r, `data segment ${i}`);
        const length = r.u32();
        if (r.pos + length > r.end) fail(`data segment ${i}: runs past its section`);
        r.pos += length;
        m.dataSegments.push({ offset, length });
      }
      return;
    }
  }
}
