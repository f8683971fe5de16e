/**
 * Builds the example contracts with the AssemblyScript compiler: `npm run build:contracts` writes
 * contracts/build/<name>.wasm and prints each file's size and sha256.
 *
 * Reproducible: the same sources and compiler give the same bytes (no name section, no source
 * map, no build paths or times in the output); test/contracts-build.test.ts builds twice and
 * compares. The flags:
 *   --runtime stub      a bump allocator that never frees: a call is short-lived and its memory
 *                       is discarded with the instance, so a collector is only gas spent;
 *   -O3 --noAssert      optimised; assertions become reverts through the SDK anyway;
 *   --initialMemory 1 --maximumMemory 16
 *                       the VM requires a declared maximum (16 pages = 1 MiB here);
 *   --disable nontrapping-f2i
 *                       the VM accepts integer WebAssembly 1.0 + sign extension + bulk memory only;
 *   --use abort=…       AssemblyScript's `abort` becomes a revert with its message, so the module
 *                       imports nothing but hallmark.* host functions.
 */
import asc from 'assemblyscript/asc';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(fileURLToPath(import.meta.url));
export const EXAMPLES = ['counter', 'token', 'escrow'] as const;
export type Example = (typeof EXAMPLES)[number];

const FLAGS = [
  '--runtime', 'stub', '-O3', '--noAssert', '--initialMemory', '1', '--maximumMemory', '16',
  '--disable', 'nontrapping-f2i', '--use', 'abort=contracts/sdk/env/abortHandler',
];

/** Compiles one example; throws with the compiler's diagnostics when it fails. */
export async function buildContract(name: Example): Promise<Uint8Array> {
  let binary: Uint8Array | undefined;
  let diagnostics = '';
  // Paths relative to the project root, whatever the working directory: they name the abort
  // handler, and they must not leak the machine's directories into anything.
  const result = await asc.main([`contracts/examples/${name}.ts`, ...FLAGS, '--baseDir', join(ROOT, '..'), '--outFile', `${name}.wasm`], {
    writeFile: (file, contents) => {
      if (file.endsWith('.wasm') && contents instanceof Uint8Array) binary = contents;
    },
    stdout: { write: (s: string | Uint8Array) => { diagnostics += String(s); return true; } } as never,
    stderr: { write: (s: string | Uint8Array) => { diagnostics += String(s); return true; } } as never,
  });
  if (result.error !== null || binary === undefined) throw new Error(`${name}: ${result.error?.message ?? 'no output'}\n${diagnostics}`);
  return binary;
}

/** Builds every example; with `outDir`, also writes <name>.wasm there. */
export async function buildContracts(outDir?: string): Promise<Record<Example, Uint8Array>> {
  const out = {} as Record<Example, Uint8Array>;
  for (const name of EXAMPLES) out[name] = await buildContract(name);
  if (outDir !== undefined) {
    mkdirSync(outDir, { recursive: true });
    for (const name of EXAMPLES) writeFileSync(join(outDir, `${name}.wasm`), out[name]);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outDir = join(ROOT, 'build');
  const built = await buildContracts(outDir);
  for (const name of EXAMPLES) {
    const bytes = built[name];
    console.log(`${relative(process.cwd(), join(outDir, `${name}.wasm`))}  ${bytes.length} bytes  sha256 ${createHash('sha256').update(bytes).digest('hex')}`);
  }
}
