/**
 * Builds the example contracts with the AssemblyScript compiler: `npm run build:contracts` writes
 * contracts/build/<name>.wasm and prints each file's size and sha256.
 *
 * Reproducible: the same sources and compiler give the same bytes (no name section, no source
 * map, no build paths or times in the output); test/contracts-examples.test.ts builds twice and
 * compares. The flags:
 *   --runtime stub      a bump allocator that never frees: a call is short-lived and its memory
 *                       is discarded with the instance, so a collector is only gas spent;
 *   -O3 --noAssert      optimised; assertions become reverts through the SDK anyway;
 *   --initialMemory 1 --maximumMemory 16
 *                       the VM requires a declared maximum (16 pages = 1 MiB here);
 *   --disable nontrapping-f2i
 *                       the VM accepts integer WebAssembly 1.0 + sign extension + bulk memory only;
 *   --use abort=…       AssemblyScript's `abort` becomes a revert with its message, so the module
 *                       imports nothing but hallmark.* host functions;
 *   --exportStart _start
 *                       the VM refuses a start section (docs/contracts.md): the top-level code
 *                       (the stub allocator's heap start, `const COUNT = key("count")`) is exported
 *                       instead, then run at build time by binaryen's wasm-ctor-eval, which writes
 *                       what it computed into the data and global initialisers and drops `_start`.
 *                       Every call then starts from that state without paying for it. Top-level
 *                       code that calls a host function cannot be evaluated: the build fails.
 */
import asc from 'assemblyscript/asc';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = dirname(fileURLToPath(import.meta.url));
export const EXAMPLES = ['counter', 'token', 'escrow', 'zk_gate'] as const;
export type Example = (typeof EXAMPLES)[number];

const START = '_start';
const FLAGS = [
  '--runtime', 'stub', '-O3', '--noAssert', '--initialMemory', '1', '--maximumMemory', '16',
  '--disable', 'nontrapping-f2i', '--use', 'abort=contracts/sdk/env/abortHandler', '--exportStart', START,
];

// The binaryen that assemblyscript itself depends on (its optimiser), so one pinned version.
const require = createRequire(import.meta.url);
const CTOR_EVAL = join(dirname(require.resolve('binaryen/package.json', { paths: [dirname(require.resolve('assemblyscript/package.json'))] })), 'bin', 'wasm-ctor-eval');

/** Compiles one example; throws with the compiler's diagnostics when it fails. */
export async function buildContract(name: Example): Promise<Uint8Array> {
  return preEvaluate(name, await compile(name));
}

async function compile(name: Example): Promise<Uint8Array> {
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

/** Runs the exported start function at build time and bakes its effects into the module. */
async function preEvaluate(name: Example, compiled: Uint8Array): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), 'hallmark-contract-'));
  try {
    const input = join(dir, 'in.wasm');
    const output = join(dir, 'out.wasm');
    writeFileSync(input, compiled);
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [
      CTOR_EVAL, input, `--ctors=${START}`, '--enable-sign-ext', '--enable-bulk-memory', '--enable-bulk-memory-opt', '--enable-mutable-globals', '-o', output,
    ]);
    const evaluated = new Uint8Array(readFileSync(output));
    if (WebAssembly.Module.exports(new WebAssembly.Module(evaluated)).some((e) => e.name === START)) {
      throw new Error(`${name}: its top-level code could not be run at build time (does it call a host function? move that into init or a method)\n${stdout}${stderr}`);
    }
    return evaluated;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Builds every example; with `outDir`, also writes <name>.wasm there. */
export async function buildContracts(outDir?: string): Promise<Record<Example, Uint8Array>> {
  const out = {} as Record<Example, Uint8Array>;
  // asc runs in this process, one module at a time; each pre-evaluation (a child process) runs
  // while the next module compiles. A failure is handled by the Promise.all below.
  const evaluating: Promise<Uint8Array>[] = [];
  for (const name of EXAMPLES) {
    const p = preEvaluate(name, await compile(name));
    p.catch(() => {});
    evaluating.push(p);
  }
  const evaluated = await Promise.all(evaluating);
  for (const [i, name] of EXAMPLES.entries()) out[name] = evaluated[i]!;
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
