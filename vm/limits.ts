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
  /**
   * The memory's declared maximum may not exceed this many 64 KiB pages (1 MiB). Past the CPU's
   * second-level cache a dependent load costs up to ~180 ns against ~0.8 ns a gas for plain code
   * (bench/gas.bench.ts: 8-11x the reference over 16 MiB, ~1x over 1 MiB), which no price per
   * instruction can cover; the SDK's contracts declare 16 pages too.
   */
  maxMemoryPages: 16,
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
 * drop, block, loop, unreachable, return, else, end), which cost 0; unlike fuel, entering a
 * function, memory and bulk memory operations also pay for what they cost.
 *
 * Everything else is priced by time: one gas is what plain instructions cost in Liftoff, the
 * slower tier (~0.8 ns on the machine measured), and each price covers its work in its worst
 * conditions (cold state, new signers, a new instance, a module not in the cache), so a block of
 * max_gas takes about max_gas x 0.8 ns whatever fills it. bench/gas.bench.ts measures every class
 * against that reference; docs/contracts.md gives the table with its reasons.
 */
export const GAS = {
  op: 1,
  /** Entering a defined function: its frame (a deep recursion costs ~2x plain code without it). */
  frame: 10,
  /** Per declared local of a function entered (Liftoff zeroes them all: 512 cost ~60 ns). */
  local: 1,
  /**
   * Per 64 KiB page of memory an instance has: its initial pages at every call (a new instance
   * faults them in, ~230 us a page here) and each page `memory.grow` asks for (charged before
   * growing, also when it fails).
   */
  memoryPage: 300_000,
  /** Per byte `memory.copy` / `memory.fill` touches. */
  bulkByte: 1,
  /**
   * Per byte of a contract's stored (instrumented) code, at every call of it: loading it when its
   * compiled module is not cached reads, decodes and compiles it. A transaction pays it for the
   * contract it calls, a contract for the one it calls.
   */
  codeByte: 10,
  host: {
    /** Every host function call. */
    base: 500,
    /** Per byte copied between memory and the host (input, keys, values, hashes). */
    byte: 2,
    /** A key of the state read: two LevelDB reads when the tree's caches miss. */
    storageRead: 250_000,
    /** A key written: its path rewritten and hashed at commit, and the LevelDB batch. */
    storageWrite: 100_000,
    /** A read, then the key's removal at commit. */
    storageRemove: 300_000,
    storageNext: 200_000,
    /** Per byte of a stored key and value (what the state grows by). */
    storageByte: 20,
    /** An event: formatted, encoded and hashed into the receipt, stored with the block. */
    emit: 30_000,
    emitByte: 50,
    /** Per byte of return data (kept in the receipt, so stored and hashed with the block). */
    returnByte: 50,
    sha256: 3_000,
    /** Priced for the slowest path: an invalid or small-order signature is decided by noble (~1 ms). */
    ed25519Verify: 1_250_000,
    /** A cross-contract call: a new instance of the callee and the call itself. */
    call: 300_000,
    /**
     * groth16_verify (protocol 3) of a proof the transaction did not carry, per proof and per
     * public signal; also what a carried proof costs the transaction (execution/zk.ts). Priced
     * for one verifier thread's worst case (bench/gas-zk.ts): a block of invalid proofs, each
     * checked in two failed batch passes and then alone (~12 ms), and a G1 multiplication per
     * signal in the single check (~0.3 ms).
     */
    groth16: 18_000_000,
    groth16Signal: 450_000,
  },
  /** Per byte of original code at deploy: validation, instrumentation (most of it), storage. */
  deployByte: 700,
  /** A deploy's records: the code, its instrumented form and the contract. */
  deployBase: 300_000,
  /** A call transaction's instance of the contract and the call itself (as host.call). */
  callBase: 300_000,
} as const;
