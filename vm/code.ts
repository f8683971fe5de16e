/**
 * Contract code as the node keeps it: the original module, its instrumented form (made once at
 * deploy, by validateModule + instrumentModule), and compiled V8 modules cached by code hash.
 */
import { sha256 } from '../chain/hash.ts';
import { instrumentModule } from './instrument.ts';
import { COST_TABLE_VERSION } from './limits.ts';
import { INIT, validateModule } from './validate.ts';
import { EXTERNAL } from './wasm.ts';

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
  return {
    codeHash: sha256(original),
    original,
    instrumented,
    costTableVersion: COST_TABLE_VERSION,
    methods: [...methods].sort(),
    hasInit: parsed.exports.some((e) => e.kind === EXTERNAL.func && e.name === INIT),
  };
}

export interface CompiledContract {
  codeHash: Uint8Array;
  module: WebAssembly.Module;
  methods: ReadonlySet<string>;
}

/** Compiled modules by code hash, least recently used evicted first. */
export class ModuleCache {
  readonly #max: number;
  readonly #map = new Map<string, CompiledContract>();
  hits = 0;
  misses = 0;

  constructor(max = 64) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('ModuleCache size must be a positive integer');
    this.#max = max;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The compiled module for `codeHash` if it is cached (a hit, as for get), else undefined. */
  peek(codeHash: Uint8Array): CompiledContract | undefined {
    const id = Buffer.from(codeHash).toString('hex');
    const hit = this.#map.get(id);
    if (hit === undefined) return undefined;
    this.hits++;
    this.#map.delete(id);
    this.#map.set(id, hit);
    return hit;
  }

  /** The compiled module for `codeHash`, compiling `instrumented` (and caching it) on a miss. */
  get(codeHash: Uint8Array, instrumented: () => Uint8Array, methods: () => Iterable<string>): CompiledContract {
    const hit = this.peek(codeHash);
    if (hit !== undefined) return hit;
    this.misses++;
    const id = Buffer.from(codeHash).toString('hex');
    const compiled: CompiledContract = { codeHash, module: new WebAssembly.Module(instrumented()), methods: new Set(methods()) };
    if (this.#map.size >= this.#max) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(id, compiled);
    return compiled;
  }
}
