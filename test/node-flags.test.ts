/**
 * A node's process runs with node/process-flags.ts's flags however it is started: the bin shim's
 * shebang (`npx hallmark start`, `./bin/hallmark.js`), `npm start`, and `hallmark testnet`'s nodes.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NODE_PROCESS_FLAGS } from '../node/process-flags.ts';

const root = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const run = (file: string, args: string[]) => new Promise<{ code: number; stdout: string }>((resolve) => {
  execFile(file, args, (err, stdout) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout }));
});

t.test('the shebang, npm start and the testnet supervisor carry the flags', async (t) => {
  t.ok(NODE_PROCESS_FLAGS.length > 0);
  const shebang = readFileSync(root('bin/hallmark.js'), 'utf8').split('\n')[0]!;
  t.equal(shebang, `#!/usr/bin/env -S node ${NODE_PROCESS_FLAGS.join(' ')}`);
  const start = (JSON.parse(readFileSync(root('package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  t.equal(start, `node ${NODE_PROCESS_FLAGS.join(' ')} bin/hallmark.js start`);
  t.match(readFileSync(root('cli/testnet.ts'), 'utf8'), /spawn\(process\.execPath, \[\.\.\.NODE_PROCESS_FLAGS, \.\.\.args\]/);
});

t.test('node accepts the flags, and the shim runs through its shebang', async (t) => {
  const flags = await run(process.execPath, [...NODE_PROCESS_FLAGS, '-p', 'process.execArgv.slice(0, -2).join(" ")']);
  t.same(flags, { code: 0, stdout: NODE_PROCESS_FLAGS.join(' ') + '\n' });
  const help = await run(root('bin/hallmark.js'), ['--help']);
  t.equal(help.code, 0, 'executed as a program, the shim starts under the flags');
  t.match(help.stdout, /hallmark/);
});
