/**
 * The VM's fixed limits and its gas cost table. Both are consensus rules: every validator must
 * use the same numbers, so a change here is a new COST_TABLE_VERSION (instrumented code records
 * the version it was made with) or a coordinated upgrade.
 */

/** Deploy-time caps on a module (checked before anything is stored). */
export const LIMITS = {
  /** Bytes of the original module. */
  maxCodeBytes: 256 * 1024,
  maxTypes: 256,
  maxImports: 64,
  /** Functions defined in the module (imports not counted). */
  maxFunctions: 2048,
  /** Declared locals of one function (parameters not counted). */
  maxLocals: 512,
  maxParams: 32,
  maxGlobals: 128,
  maxTableEntries: 4096,
  maxDataSegments: 256,
  maxExports: 256,
  /** The memory's declared maximum may not exceed this many 64 KiB pages (16 MiB). */
  maxMemoryPages: 256,
  /**
   * Bytes of the instrumented module, stored at deploy and loaded by every call of a contract whose
   * compiled module is not cached. Code dense in branches and calls grows up to ~18x when
   * instrumented (a 256 KiB module of `call`s to 4.6 MB), so the cap is on the output: a module
   * over it is refused at deploy rather than stored and found unloadable by every later call.
   */
  maxInstrumentedBytes: 2 * 1024 * 1024,
} as const;

/**
 * Stack budget, in slots: each frame costs its parameters, locals, its deepest operand stack, 3
 * slots for what the instrumenter adds (the gas and slot-count parameters, a scratch local) and
 * FRAME_SLOTS of overhead. The budget is shared by a whole call
 * chain, cross-contract calls included. 32,768 slots stay far below V8's own limit in every tier: a
 * one-parameter recursive function costs 14 slots, so 2,338 frames fit, against the 11,380 frames
 * at which Liftoff itself overflowed; test/vm-tiers.test.ts checks Liftoff and TurboFan agree.
 */
export const STACK_LIMIT_SLOTS = 32_768;
export const FRAME_SLOTS = 4;
/** Nesting of cross-contract calls (the outermost call is depth 1). */
export const MAX_CALL_DEPTH = 16;

/**
 * 1: the first table, gas kept in a global between calls. 2: the same costs, charged the same
 * way; gas and stack slots are passed through calls as parameters (vm/instrument.ts), so the
 * stored instrumented code differs. 3: the same costs and trap points; a block the gas slice
 * cannot pay calls the added import hallmark.__hallmark_refuel instead of trapping (defined
 * functions move up one index), and a start function is refused at deploy instead of being
 * exported as __hallmark_start and run before every call.
 */
export const COST_TABLE_VERSION = 3;

/**
 * Gas per WebAssembly instruction and per host function, version COST_TABLE_VERSION. As in
 * wasmtime's fuel, every instruction costs 1 except the structural ones that do no work (nop,
 * drop, block, loop, unreachable, return, else, end), which cost 0; unlike fuel, growing memory and
 * bulk memory operations also pay for what they touch.
 */
export const GAS = {
  op: 1,
  /** Per 64 KiB page `memory.grow` asks for (charged before growing, also when it fails). */
  memoryGrowPage: 4_096,
  /** Per byte `memory.copy` / `memory.fill` touches. */
  bulkByte: 1,
  host: {
    /** Every host function call. */
    base: 50,
    /** Per byte copied between memory and the host (input, return data, keys, values, hashes). */
    byte: 1,
    storageRead: 1_000,
    storageWrite: 5_000,
    storageRemove: 2_000,
    storageNext: 1_500,
    /** Per byte of a stored key and value (what the state grows by). */
    storageByte: 20,
    emit: 500,
    emitByte: 8,
    sha256: 200,
    ed25519Verify: 25_000,
    call: 5_000,
  },
  /** Per byte of original code at deploy: validation, instrumentation, storage. */
  deployByte: 50,
  deployBase: 50_000,
  callBase: 10_000,
} as const;
