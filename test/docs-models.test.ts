/**
 * The model provenance walkthrough of docs/models.md, run as written: its shell block is read from
 * the document and run by bash against a node started from the default home, in a scratch folder
 * inside the project (as the set-up block's `mkdir -p demo && cd demo`; test/fixtures/walkthrough.ts).
 */
import t from 'tap';
import { walkthroughBlock, walkthroughNode } from './fixtures/walkthrough.ts';

const DOC = new URL('../docs/models.md', import.meta.url);

t.test('the docs/models.md walkthrough works as written against a devnet node', async (t) => {
  const node = await walkthroughNode(t);
  const r = await node.runBlock(walkthroughBlock(DOC, /```sh\nnpm start .*\nmkdir -p demo && cd demo .*\n```/));
  const out = r.stdout;
  const fp = /^fingerprint +([0-9a-f]{64})$/m.exec(out)?.[1];
  t.ok(fp, 'fingerprint prints the directory fingerprint');
  t.match(out, /^tensor fingerprint +[0-9a-f]{64} \(safetensors\)$/m, 'and the tensor fingerprint read from the safetensors header');
  t.match(r.stderr, new RegExp(`^\\+ BASE=${fp}$`, 'm'), 'register printed the same fingerprint');
  const chat = /^\+ CHAT=([0-9a-f]{64})$/m.exec(r.stderr)?.[1];
  t.ok(chat && chat !== fp, 'the fine-tune registered with its own fingerprint');
  t.match(out, new RegExp(`^demo/tiny-chat 1\\.0 +${chat} +active\\n +finetune: demo/tiny 1\\.0 +${fp} +active$`, 'm'), 'lineage: the fine-tune, then its parent');
  t.match(out, /^verified: demo\/tiny-chat 1\.0, registered at height \d+/m, 'the first verify passes');
  t.match(out, /^changed +model\.safetensors$/m, 'the changed file is named');
  t.match(out, /^changed tensor +head\.weight$/m, 'and the changed tensor');
  t.match(out, /^files differ: /m);
  t.match(out, /^verify exited 2$/m, 'files differ: exit 2');
  t.match(out, /^revoked: trained on a leaked eval set$/m, 'the revocation and its reason');
  t.match(out, /^verify exited 4$/m, 'revoked: exit 4');
  t.equal(r.code, 0, 'the block runs to its end', { stdout: out, stderr: r.stderr });

  t.equal(await node.stop(), 0, 'the node stops cleanly');
});
