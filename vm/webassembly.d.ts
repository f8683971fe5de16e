/**
 * The part of the WebAssembly JS API the VM uses, JSPI included. TypeScript ships these types
 * only in its DOM library, which this project does not load (it is a Node program).
 */
declare namespace WebAssembly {
  type ImportValue = Function | Global | Memory | Table | Suspending;
  type Imports = Record<string, Record<string, ImportValue>>;
  type ExportValue = Function | Global | Memory | Table;
  type Exports = Record<string, ExportValue>;

  class Module {
    constructor(bytes: BufferSource);
    static imports(module: Module): { module: string; name: string; kind: string }[];
    static exports(module: Module): { name: string; kind: string }[];
  }
  class Instance {
    constructor(module: Module, imports?: Imports);
    readonly exports: Exports;
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  class Table {
    readonly length: number;
  }
  class Global {
    constructor(descriptor: { value: 'i32' | 'i64'; mutable?: boolean }, value?: number | bigint);
    value: number | bigint;
  }
  class Suspending {
    constructor(fn: (...args: any[]) => unknown);
  }
  class CompileError extends Error {}
  class LinkError extends Error {}
  class RuntimeError extends Error {}
  function validate(bytes: BufferSource): boolean;
  function compile(bytes: BufferSource): Promise<Module>;
  function promising<A extends unknown[]>(fn: (...args: A) => unknown): (...args: A) => Promise<unknown>;
}
