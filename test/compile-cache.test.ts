/**
 * bin/compile-cache.js: with Node's compile cache on, a process started a second time strips no
 * TypeScript, in its main thread or in the worker threads it starts (each would otherwise load the
 * stripper, ~17 MiB resident); without it, both load it every time.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./fixtures/compile-cache-child.mjs', import.meta.url));

interface Report {
  directory: string | null;
  main: boolean;
  worker: boolean;
}

const run = (arg: string, env: NodeJS.ProcessEnv = {}) => new Promise<Report>((resolve, reject) => {
  const clean = { ...process.env };
  delete clean.NODE_COMPILE_CACHE;
  delete clean.NODE_DISABLE_COMPILE_CACHE;
  execFile(process.execPath, [CHILD, arg], { env: { ...clean, ...env } }, (err, stdout, stderr) => {
    if (err) reject(new Error(`${err.message}\n${stderr}`));
    else resolve(JSON.parse(stdout) as Report);
  });
});

t.test('without the cache every thread loads the stripper', async (t) => {
  t.same(await run('off'), { directory: null, main: true, worker: true });
});

t.test('with the cache, the second start strips nothing in either thread', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hallmark-compile-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = await run(dir);
  t.equal(first.main, true, 'a cold cache strips');
  t.ok(first.directory?.startsWith(dir), 'the cache lives in the directory given');
  t.ok(readdirSync(first.directory!).length > 0, 'the first run wrote entries');
  t.same(await run(dir), { ...first, main: false, worker: false });
});

t.test('NODE_DISABLE_COMPILE_CACHE turns it off', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hallmark-compile-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.same(await run(dir, { NODE_DISABLE_COMPILE_CACHE: '1' }), { directory: null, main: true, worker: true });
  t.same(readdirSync(dir), [], 'nothing written');
});
