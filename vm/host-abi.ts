/**
 * The host functions a contract may import, module `hallmark`, with their exact signatures
 * (docs/contracts.md). The validator refuses any other import; the runtime provides exactly these.
 */

export const HOST_MODULE = 'hallmark';

export const I32 = 0x7f;
export const I64 = 0x7e;
export type ValType = typeof I32 | typeof I64;

export interface HostSignature {
  params: readonly ValType[];
  results: readonly ValType[];
}

const sig = (params: ValType[], results: ValType[] = []): HostSignature => ({ params, results });

export const HOST_FUNCTIONS: Readonly<Record<string, HostSignature>> = {
  input_size: sig([], [I32]),
  input_read: sig([I32]),
  return_data: sig([I32, I32]),
  revert: sig([I32, I32]),
  debug_log: sig([I32, I32]),
  storage_read: sig([I32, I32, I32, I32], [I32]),
  storage_write: sig([I32, I32, I32, I32]),
  storage_remove: sig([I32, I32], [I32]),
  storage_has: sig([I32, I32], [I32]),
  storage_next: sig([I32, I32, I32, I32, I32, I32], [I32]),
  caller: sig([I32]),
  self_address: sig([I32]),
  origin: sig([I32]),
  block_height: sig([], [I64]),
  block_time: sig([], [I64]),
  chain_id: sig([I32, I32], [I32]),
  gas_left: sig([], [I64]),
  value: sig([], [I64]),
  emit: sig([I32, I32, I32, I32]),
  sha256: sig([I32, I32, I32]),
  ed25519_verify: sig([I32, I32, I32, I32], [I32]),
  groth16_verify: sig([I32, I32, I32, I32, I32, I32], [I32]),
  call: sig([I32, I32, I32, I32, I32, I64, I64], [I32]),
  returndata_size: sig([], [I32]),
  returndata_read: sig([I32]),
};

/** Names the instrumenter adds to a module's exports; a contract may not use the prefix. */
export const RESERVED_EXPORT_PREFIX = '__hallmark';
export const EXPORT_GAS = '__hallmark_gas';
export const EXPORT_TRAP = '__hallmark_trap';
export const EXPORT_STACK = '__hallmark_stack';
export const EXPORT_GLOBAL_PREFIX = '__hallmark_global_';
/**
 * The import the instrumenter adds (module HOST_MODULE): `(left: i64, cost: i64) -> i64`, called
 * when a block costs more than the gas slice left; a contract cannot import it (not in HOST_FUNCTIONS).
 */
export const IMPORT_REFUEL = '__hallmark_refuel';

/**
 * Why instrumented code trapped, as it writes it to the __hallmark_trap global before trapping.
 * (Out of gas, once 1, is now raised by the runtime's refuel.)
 */
export const TRAP_STACK = 2;
export const TRAP_UNREACHABLE = 3;
