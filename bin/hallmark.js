#!/usr/bin/env -S node --max-semi-space-size=8 --max-old-space-size=768
// The `hallmark` command; the shebang's flags are node/process-flags.ts's (see there). The CLI is
// TypeScript (cli/main.ts), which Node 24 runs directly (type stripping; contracts need its
// WebAssembly JSPI); older Node gets one line saying how to run it
// instead of a syntax error.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(`error: hallmark needs Node 24 or newer (this is Node ${process.versions.node}); run it as "npx hallmark" or through the npm scripts, which use the project's Node 24\n`);
  process.exit(1);
}
// Before the first .ts module: from the second start on, no thread loads the TypeScript stripper.
const { enableCompileCache } = await import('./compile-cache.js');
enableCompileCache();
const { runCli } = await import('../cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
