/**
 * Deploy-time validation: a module is accepted only if every part of it is on the allow-list
 * (docs/contracts.md, "What a module may contain"). Every refusal is a ModuleError whose message
 * is ours, never V8's: the reason goes into a receipt, which every validator must write
 * identically whatever its V8 version says.
 */
import { MAX_METHOD_LENGTH } from '../chain/tx.ts';
import { EXTERNAL, ModuleError, parseModule, Reader, type ParsedModule } from './wasm.ts';
import { OP, readInstruction } from './wasm-instructions.ts';
import { HOST_FUNCTIONS, HOST_MODULE, RESERVED_EXPORT_PREFIX } from './host-abi.ts';
import { LIMITS } from './limits.ts';

const PAGE = 65_536;
/** The export run once at deploy; never callable afterwards. */
export const INIT = 'init';

export interface ValidatedModule {
  parsed: ParsedModule;
  /** Exported functions a transaction may call: `() -> ()`, name not starting with `_`, not `init`. */
  methods: string[];
}

export function validateModule(bytes: Uint8Array): ValidatedModule {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('module bytes must be a Uint8Array');
  if (bytes.length > LIMITS.maxCodeBytes) throw new ModuleError(`module is ${bytes.length} bytes, over the limit of ${LIMITS.maxCodeBytes}`);
  const m = parseModule(bytes, LIMITS);

  for (const imp of m.imports) {
    const host = imp.module === HOST_MODULE ? HOST_FUNCTIONS[imp.name] : undefined;
    if (host === undefined || !Object.hasOwn(HOST_FUNCTIONS, imp.name)) {
      throw new ModuleError(`import ${imp.module}.${imp.name} is not a host function (only ${HOST_MODULE}.* functions listed in docs/contracts.md)`);
    }
    const t = m.types[imp.typeIndex]!;
    if (!sameTypes(t.params, host.params) || !sameTypes(t.results, host.results)) {
      throw new ModuleError(`import ${imp.module}.${imp.name} has the wrong signature`);
    }
  }

  // A start function would run before every call (memory does not outlive a call), so its gas
  // would be paid on each one; one-time setup belongs in init, which runs once at deploy.
  if (m.start !== undefined) {
    throw new ModuleError(`the module has a start function (function ${m.start}), which Hallmark does not run: put one-time setup in an exported init (run once at deploy) and per-call setup in the methods; AssemblyScript: build with --exportStart and pre-evaluate it (contracts/build.ts)`);
  }

  if (m.memory === undefined) throw new ModuleError('the module defines no memory (one memory, exported as "memory", is required)');
  if (m.memory.max === undefined) throw new ModuleError('the memory has no declared maximum');
  if (m.memory.max > LIMITS.maxMemoryPages) throw new ModuleError(`the memory maximum of ${m.memory.max} pages is over the cap of ${LIMITS.maxMemoryPages}`);

  const names = new Set<string>();
  let memoryExported = false;
  for (const e of m.exports) {
    if (names.has(e.name)) throw new ModuleError(`export ${e.name} appears twice`);
    names.add(e.name);
    if (e.name.startsWith(RESERVED_EXPORT_PREFIX)) throw new ModuleError(`export name ${e.name} is reserved`);
    if (e.kind === EXTERNAL.memory && e.name === 'memory') memoryExported = true;
  }
  if (!memoryExported) throw new ModuleError('the memory must be exported as "memory"');

  for (const [i, d] of m.dataSegments.entries()) {
    if (d.offset + d.length > m.memory.min * PAGE) throw new ModuleError(`data segment ${i} does not fit in the initial memory`);
  }
  for (const [i, e] of m.elementSegments.entries()) {
    if (m.table === undefined || e.offset + e.length > m.table.min) throw new ModuleError(`element segment ${i} does not fit in the table`);
  }

  for (const [i, body] of m.bodies.entries()) scanBody(m, i, body.codeStart, body.codeEnd);

  // Type checking is V8's: only a module our reader accepted gets here, and V8's own message is
  // not passed on (it differs between versions).
  if (!WebAssembly.validate(bytes)) throw new ModuleError('the module does not pass WebAssembly validation (type check)');

  const funcTypes = [...m.imports.map((i) => i.typeIndex), ...m.functions];
  const methods = m.exports
    .filter((e) => e.kind === EXTERNAL.func && !e.name.startsWith('_') && e.name !== INIT)
    .filter((e) => {
      const t = m.types[funcTypes[e.index] ?? -1];
      return t !== undefined && t.params.length === 0 && t.results.length === 0;
    })
    .map((e) => e.name);
  // A longer name could never be called, and the node stores method names for the calls it checks.
  const long = methods.find((name) => name.length > MAX_METHOD_LENGTH);
  if (long !== undefined) throw new ModuleError(`method ${long.slice(0, 32)}... has a name of ${long.length} characters, over the ${MAX_METHOD_LENGTH} a call may name`);
  const init = m.exports.find((e) => e.name === INIT);
  if (init !== undefined) {
    const t = init.kind === EXTERNAL.func ? m.types[funcTypes[init.index] ?? -1] : undefined;
    if (t === undefined || t.params.length > 0 || t.results.length > 0) throw new ModuleError('export init must be a function with no parameters and no results');
  }
  return { parsed: m, methods };
}

/** Every instruction of a body must be on the allow-list, and the body must end where it says. */
function scanBody(m: ParsedModule, index: number, start: number, end: number): void {
  const r = new Reader(m.bytes, start, end);
  let depth = 1;
  try {
    while (r.pos < end) {
      const ins = readInstruction(r);
      if (ins.op === OP.block || ins.op === OP.loop || ins.op === OP.if) depth++;
      else if (ins.op === OP.end && --depth === 0 && r.pos !== end) throw new ModuleError('code after the final end');
    }
  } catch (err) {
    if (err instanceof ModuleError) throw new ModuleError(`function ${m.imports.length + index}: ${err.message}`);
    throw err;
  }
  if (depth !== 0) throw new ModuleError(`function ${m.imports.length + index}: body does not end`);
}

function sameTypes(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}
