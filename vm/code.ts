/**
 * Contract code as the node keeps it: the original module, its instrumented form (made once at
 * deploy, by validateModule + instrumentModule), and compiled V8 modules cached by code hash.
 */
import { setFlagsFromString } from 'node:v8';
import { CodedError } from '../chain/errors.ts';
import { sha256 } from '../chain/hash.ts';
import { Lru } from '../chain/lru.ts';
import { HOST_MODULE, IMPORT_REFUEL } from './host-abi.ts';
import { instrumentModule } from './instrument.ts';
import { COST_TABLE_VERSION, LIMITS } from './limits.ts';
import { INIT, validateModule } from './validate.ts';
import { EXTERNAL, initialMemoryPages, ModuleError } from './wasm.ts';

export interface PreparedCode {
  /** sha256 of the original module. */
  codeHash: Uint8Array;
  original: Uint8Array;
  instrumented: Uint8Array;
  costTableVersion: number;
  /** Methods a transaction may call (sorted; never `init`). */
  methods: string[];
  /** Whether the module exports `init`, run at deploy. */
  hasInit: boolean;
}

/** Validates and instruments a module; throws ModuleError with the reason when it is refused. */
export function prepareCode(original: Uint8Array): PreparedCode {
  const { parsed, methods } = validateModule(original);
  const instrumented = instrumentModule(parsed);
  if (instrumented.length > LIMITS.maxInstrumentedBytes) {
    throw new ModuleError(`the module instruments to ${instrumented.length} bytes, over the limit of ${LIMITS.maxInstrumentedBytes} (code dense in branches and calls grows most: split it, or use fewer, longer blocks)`);
  }
  return {
    codeHash: sha256(original),
    original,
    instrumented,
    costTableVersion: COST_TABLE_VERSION,
    methods: [...methods].sort(),
    hasInit: parsed.exports.some((e) => e.kind === EXTERNAL.func && e.name === INIT),
  };
}

// Instrumented code hints its refuel branches unlikely (vm/instrument.ts); V8 13.6 reads the hints
// only behind this flag (fib 1.9x unmetered without, 1.45x with). They never change what code does.
setFlagsFromString('--experimental-wasm-branch-hinting');

export interface CompiledContract {
  codeHash: Uint8Array;
  module: WebAssembly.Module;
  methods: ReadonlySet<string>;
  /** Pages of memory an instance starts with: each call pays for them (GAS.memoryPage). */
  memoryPages: number;
  /** Bytes of its stored code: each call pays for loading them (GAS.codeByte), cached or not. */
  codeBytes: number;
}

/** Compiled modules by code hash, least recently used evicted first. */
export class ModuleCache {
  readonly #map: Lru<string, CompiledContract>;
  hits = 0;
  misses = 0;

  constructor(max = 64) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('ModuleCache size must be a positive integer');
    this.#map = new Lru(max);
  }

  get size(): number {
    return this.#map.size;
  }

  /** The compiled module for `codeHash` if it is cached (a hit, as for get), else undefined. */
  peek(codeHash: Uint8Array): CompiledContract | undefined {
    const id = Buffer.from(codeHash).toString('hex');
    const hit = this.#map.get(id);
    if (hit !== undefined) this.hits++;
    return hit;
  }

  /**
   * The compiled module for `codeHash`, compiling `instrumented` (and caching it) on a miss.
   * `codeBytes` is the size of the code as stored (default: the instrumented code's).
   */
  get(codeHash: Uint8Array, instrumented: () => Uint8Array, methods: () => Iterable<string>, codeBytes?: number): CompiledContract {
    const hit = this.peek(codeHash);
    if (hit !== undefined) return hit;
    this.misses++;
    const id = Buffer.from(codeHash).toString('hex');
    const code = instrumented();
    const module = new WebAssembly.Module(code);
    // Code instrumented before cost table 3 traps when a gas slice runs out: running it would
    // silently give other results than the node that stored it.
    if (!WebAssembly.Module.imports(module).some((i) => i.module === HOST_MODULE && i.name === IMPORT_REFUEL)) {
      throw new CodedError('stale_contract_code', `contract code ${id} was instrumented before cost table version ${COST_TABLE_VERSION} (it has no ${IMPORT_REFUEL} import) and this node cannot run it: replay the chain into a new data directory with this version`);
    }
    const compiled: CompiledContract = {
      codeHash, module, methods: new Set(methods()), memoryPages: initialMemoryPages(code), codeBytes: codeBytes ?? code.length,
    };
    this.#map.set(id, compiled);
    return compiled;
  }
}
