/**
 * The Groth16 walkthrough of docs/zk.md, run as written: its shell block is read from the document
 * and run by bash against a node started from the default home (test/fixtures/walkthrough.ts), with
 * the contracts built and the zk fixtures copied where the block expects them.
 */
import t from 'tap';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildContracts } from '../contracts/build.ts';
import { walkthroughBlock, walkthroughNode } from './fixtures/walkthrough.ts';

const DOC = new URL('../docs/zk.md', import.meta.url);

t.test('the docs/zk.md walkthrough works as written against a devnet node', async (t) => {
  const node = await walkthroughNode(t);
  await buildContracts(join(node.work, 'contracts', 'build')); // what `npm run build:contracts` writes
  cpSync(fileURLToPath(new URL('fixtures/zk', import.meta.url)), join(node.work, 'test', 'fixtures', 'zk'), { recursive: true });
  const r = await node.runBlock(walkthroughBlock(DOC, /```sh\nnpm run build:contracts .*\nnpm start .*\n```/));
  const out = r.stdout;
  const key = /^key hash +([0-9a-f]{64})$/m.exec(out)?.[1];
  t.ok(key, 'zk hash prints the key hash');
  t.match(r.stderr, new RegExp(`^\\+ KEY=${key}$`, 'm'), 'register-key registered it under the same hash');
  t.match(out, /^valid +true$/m, 'the proof verifies');
  t.match(out, /^valid +false\ncode +invalid_proof$/m, 'the wrong signal does not');
  t.match(out, /^verify exited 2$/m, 'and verify exits 2');
  t.match(r.stderr, /^\+ GATE=hm1\S+$/m, 'the gate was deployed');
  t.match(out, /^status +ok\n(?:.*\n)*?return +1$/m, 'the first claim succeeds and returns the count');
  t.match(r.stderr, /failed: revert: already claimed/, 'the same signals cannot be claimed twice');
  t.match(r.stderr, /invalid_proof|proof 0/, 'the mempool refuses a carried proof that does not fit its signals');
  t.same([...out.matchAll(/^claim exited (\d+)$/gm)].map((m) => m[1]), ['1', '1'], 'both bad claims exit 1');
  t.match(out, /^ok +true\ngas used +\d+\nreturn +1$/m, 'one claim was recorded');
  t.equal(r.code, 0, 'the block runs to its end', { stdout: out, stderr: r.stderr });

  t.equal(await node.stop(), 0, 'the node stops cleanly');
});
