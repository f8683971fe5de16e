// Node's compile cache for the node's own TypeScript (the bin shim calls it before loading any).
//
// Node 24 runs our .ts files by stripping their types with amaro, a build of swc in WebAssembly that
// it loads on the first .ts file it has not seen: ~17 MiB of resident memory in every thread that
// loads one, kept for the life of the thread (measured: a one-line .ts file runs in 58 MiB of RSS,
// the same in .js in 41). With the compile cache on, Node keeps the stripped code (and V8's code
// cache) on disk, keyed by the source's hash, so from the second start on no thread loads amaro:
// a devnet node idled at 153 MiB against 169-177 without it, and each worker thread of the
// signature and Groth16 pools saves as much again. An edited file is stripped afresh.
//
// The directory is the package's own node_modules/.cache/hallmark (writable by whoever installed
// it, not shared like the system temporary directory), or NODE_COMPILE_CACHE if set;
// NODE_DISABLE_COMPILE_CACHE=1 turns it off. Worker threads do not inherit the cache from the
// thread that starts them, only from the environment, hence the variable set below. If the
// directory cannot be written the cache stays off and everything runs as before.
import module from 'node:module';
import { join } from 'node:path';

const DEFAULT_COMPILE_CACHE_DIR = join(import.meta.dirname, '..', 'node_modules', '.cache', 'hallmark');

/** Turns the cache on for this thread and the worker threads it starts; the directory, or undefined. */
export function enableCompileCache(dir = process.env.NODE_COMPILE_CACHE || DEFAULT_COMPILE_CACHE_DIR) {
  const { directory } = module.enableCompileCache(dir);
  if (directory === undefined) return undefined;
  process.env.NODE_COMPILE_CACHE = dir;
  return directory;
}
