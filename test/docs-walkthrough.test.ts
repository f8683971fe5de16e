/**
 * The contract walkthrough of docs/contracts.md, run as written: its shell block is read from the
 * document and run by bash against a node started from the default home (test/fixtures/walkthrough.ts),
 * with the contracts built where the block expects them.
 */
import t from 'tap';
import { join } from 'node:path';
import { buildContracts } from '../contracts/build.ts';
import { walkthroughBlock, walkthroughNode } from './fixtures/walkthrough.ts';

const DOC = new URL('../docs/contracts.md', import.meta.url);

t.test('the docs/contracts.md walkthrough works as written against a devnet node', async (t) => {
  const node = await walkthroughNode(t);
  await buildContracts(join(node.work, 'contracts', 'build')); // what `npm run build:contracts` writes
  const r = await node.runBlock(walkthroughBlock(DOC, /```sh\nnpm run build:contracts .*\nnpm start .*\n```/));
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

  t.equal(await node.stop(), 0, 'the node stops cleanly');
});
