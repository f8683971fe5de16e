/**
 * rpc/tx-waiters.ts against a real executor and block store (the RPC test node): waits resolved
 * by the block that commits the transaction, answered from the block store when it is already
 * committed, and forgotten when they time out.
 */
import t from 'tap';
import { addressOf } from '../chain/address.ts';
import { generateKeyPair } from '../chain/keys.ts';
import { openRpcTestNode, type RpcTestNode } from './fixtures/rpc-node.ts';

let node: RpcTestNode;
t.before(async () => {
  node = await openRpcTestNode();
});
t.teardown(() => node.close());

const recipient = addressOf(generateKeyPair().publicKey);

t.test('every wait for a transaction resolves with the block that commits it', async (t) => {
  const stx = await node.transfer(0, recipient, 5n);
  await node.mempool.add(stx.bytes);
  const first = node.waiters.wait(stx.hash, 30_000);
  const second = node.waiters.wait(stx.hash, 30_000);
  t.equal(node.waiters.size, 1, 'one transaction waited for');
  const applied = await node.produceBlock();
  const [a, b] = await Promise.all([first, second]);
  t.same(a, { height: applied.height, index: 0, receipt: applied.receipts[0] });
  t.same(b, a, 'both waiters get the inclusion');
  t.equal(node.waiters.size, 0, 'nobody is left waiting');

  t.same(await node.waiters.wait(stx.hash, 30_000), a, 'a wait for a committed transaction is answered from the block store');
  t.equal(node.waiters.size, 0);
});

t.test('a wait that times out rejects, naming the transaction, and is forgotten', async (t) => {
  const stx = await node.transfer(1, recipient, 6n);
  await node.mempool.add(stx.bytes);
  const kept = node.waiters.wait(stx.hash, 30_000);
  await t.rejects(node.waiters.wait(stx.hash, 1), { message: /^transaction [0-9a-f]{64} was not committed within 1 ms$/ });
  t.equal(node.waiters.size, 1, 'the other wait for it still stands');
  const applied = await node.produceBlock();
  t.equal((await kept).height, applied.height, 'and is resolved by the commit');
  t.equal(node.waiters.size, 0);
});
