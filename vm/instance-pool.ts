/**
 * Idle instances per compiled module. Instantiating an AssemblyScript contract costs ~150 us (its
 * memory, data segments and ~100 functions) against ~10 us to put a used one back as it was: the
 * memory bytes and the mutable globals are restored from their image, and an instance whose memory
 * grew, or whose call failed, is dropped instead. Tables cannot change (table instructions are
 * refused), so a restored instance is indistinguishable from a new one.
 */
import type { CompiledContract } from './code.ts';
import { EXPORT_GAS, EXPORT_GLOBAL_PREFIX, EXPORT_STACK, EXPORT_TRAP, HOST_MODULE } from './host-abi.ts';

/** What an instance's host functions call into: the call it serves now. */
export interface Binding<C> {
  call: C | null;
}

export interface PooledInstance<C> {
  binding: Binding<C>;
  exports: WebAssembly.Exports;
  gas: WebAssembly.Global;
  trap: WebAssembly.Global;
  slots: WebAssembly.Global;
  memory: WebAssembly.Memory;
  /** The memory and the module's mutable globals right after instantiation. */
  memoryImage: Uint8Array;
  globalImage: [WebAssembly.Global, number | bigint][];
}

const MAX_IDLE_PER_MODULE = 4;

export class InstancePool<C> {
  /** The host functions of a new instance, calling into whatever `binding.call` is then. */
  readonly #imports: (binding: Binding<C>) => Record<string, WebAssembly.ImportValue>;
  readonly #pools = new WeakMap<CompiledContract, PooledInstance<C>[]>();

  constructor(imports: (binding: Binding<C>) => Record<string, WebAssembly.ImportValue>) {
    this.#imports = imports;
  }

  /** An idle instance of `contract`, or a new one; its `binding.call` is the caller's to set. */
  acquire(contract: CompiledContract): PooledInstance<C> {
    const idle = this.#pools.get(contract)?.pop();
    if (idle !== undefined) return idle;
    const binding: Binding<C> = { call: null };
    const instance = new WebAssembly.Instance(contract.module, { [HOST_MODULE]: this.#imports(binding) });
    const x = instance.exports;
    const memory = x.memory as WebAssembly.Memory;
    const globalImage = Object.keys(x)
      .filter((name) => name.startsWith(EXPORT_GLOBAL_PREFIX))
      .map((name) => {
        const g = x[name] as WebAssembly.Global;
        return [g, g.value] as [WebAssembly.Global, number | bigint];
      });
    return {
      binding, exports: x, memory, globalImage, memoryImage: new Uint8Array(memory.buffer).slice(),
      gas: x[EXPORT_GAS] as WebAssembly.Global, trap: x[EXPORT_TRAP] as WebAssembly.Global, slots: x[EXPORT_STACK] as WebAssembly.Global,
    };
  }

  /** Puts an instance whose call succeeded back as it was instantiated, unless there is no room for it. */
  release(contract: CompiledContract, p: PooledInstance<C>): void {
    p.binding.call = null;
    if (p.memory.buffer.byteLength !== p.memoryImage.length) return; // it grew: drop it
    let idle = this.#pools.get(contract);
    if (idle === undefined) this.#pools.set(contract, (idle = []));
    if (idle.length >= MAX_IDLE_PER_MODULE) return;
    new Uint8Array(p.memory.buffer).set(p.memoryImage);
    for (const [g, v] of p.globalImage) g.value = v;
    idle.push(p);
  }
}
