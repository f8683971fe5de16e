/**
 * The contract walkthrough of docs/contracts.md, run as written: its shell block is read from the
 * document and run by bash against a node started from the default home, with the contracts built
 * where the block expects them. Only the ports differ from `npm start` (free ones, written into the
 * home's config, which the CLI reads).
 */
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildContracts } from '../contracts/build.ts';
import { BIN, freePort } from './fixtures/processes.ts';
import { liveDir } from './fixtures/dirs.ts';

const DOC = new URL('../docs/contracts.md', import.meta.url);

/** The shell block after "Then, in the first terminal:", once the set-up block is as this test does it. */
function walkthroughBlock(): string {
  const doc = readFileSync(DOC, 'utf8');
  if (!/```sh\nnpm run build:contracts .*\nnpm start .*\n```/.test(doc)) throw new Error('docs/contracts.md: the set-up block changed; update this test');
  const m = /Then, in the first terminal:\s*```sh\n([\s\S]*?)```/.exec(doc);
  if (m === null) throw new Error('docs/contracts.md: the walkthrough block is gone');
  return m[1]!;
}

function run(file: string, args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { ...opts, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

t.test('the docs/contracts.md walkthrough works as written against a devnet node', async (t) => {
  const root = liveDir(t);
  const home = join(root, 'home');
  const work = join(root, 'work');
  mkdirSync(home);
  mkdirSync(work);
  const env = { PATH: process.env.PATH, HOME: home };
  await buildContracts(join(work, 'contracts', 'build')); // what `npm run build:contracts` writes

  t.equal((await run(process.execPath, [BIN, 'init'], { env })).code, 0, 'a default home');
  writeFileSync(join(home, '.hallmark', 'config.toml'),
    `[rpc]\nlisten = "127.0.0.1:${await freePort()}"\n[p2p]\nlisten = "127.0.0.1:${await freePort()}"\n[metrics]\nenabled = false\n`);
  const node = spawn(process.execPath, [BIN, 'start'], { env, stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => node.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (node.exitCode === null) node.kill('SIGKILL');
  });
  let ready = false;
  for (let i = 0; i < 300 && !ready && node.exitCode === null; i++) {
    ready = (await run(process.execPath, [BIN, 'status'], { env })).code === 0;
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(ready, 'the node answers');

  const block = walkthroughBlock();
  const r = await run('bash', ['-c', `set -x\n${block}`], { cwd: work, env });
  const out = r.stdout;
  // What the bullets under the block promise.
  t.match(out, /^return +42$/m, 'the second increment returns 42');
  const queries = [...out.matchAll(/^ok +true\ngas used +\d+\nreturn +(\S+)$/gm)].map((m) => m[1]);
  t.same(queries, ['42', '250'], 'query get gives 42, balance_of gives 250');
  t.match(out, /^return +true$/m, 'a transfer returns true');
  t.match(out, /^status +contract_failed$/m, 'the oversized transfer fails');
  t.match(r.stderr, /error: transaction [0-9a-f]{64} was committed but failed: revert: insufficient balance/, 'with the reason');
  t.match(out, /^methods +allowance, approve, balance_of, name, symbol, total_supply, transfer, transfer_from$/m, 'contract code lists the methods');
  t.match(r.stderr, /^\+ COUNTER=hm1\S+$/m, 'the counter\'s deploy printed its address');
  t.match(r.stderr, /^\+ TOKEN=hm1\S+$/m, 'the token\'s deploy printed its address');
  t.equal(r.code, 0, 'the block runs to its end', { stdout: out, stderr: r.stderr });

  node.kill('SIGINT');
  t.equal(await exited, 0, 'the node stops cleanly');
});
