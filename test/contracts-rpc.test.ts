import t, { type Test } from 'tap';
import { addressOf, formatAddress } from '../chain/address.ts';
import { fromHex, toHex } from '../chain/bytes.ts';
import { sha256 } from '../chain/hash.ts';
import { signTransaction, type Payload } from '../chain/tx.ts';
import { contractAddress } from '../execution/contracts.ts';
import { FAUCET, rpc, startTestNode } from './fixtures/node.ts';
import { STORE } from './fixtures/vm-contracts.ts';
import { wat } from './fixtures/vm.ts';
import { LIMITS } from '../vm/limits.ts';
import { liveDir } from './fixtures/dirs.ts';

/** A test node on the default config, and the faucet sending it transactions, each awaited to its commit. */
async function faucetNode(t: Test) {
  const running = await startTestNode(liveDir(t));
  t.teardown(() => running.close());
  const url = running.rpcUrl;
  const faucet = addressOf(FAUCET.publicKey);
  const { chain_id: chainId } = await rpc(url, 'chain_status');
  let nonce = (await rpc(url, 'state_getAccount', { address: formatAddress(faucet) })).nonce as number;
  const sign = (payload: Payload, gasLimit: number) => signTransaction({ chainId, sender: FAUCET.publicKey, nonce: nonce++, fee: BigInt(gasLimit), gasLimit, payload }, FAUCET.secretKey);
  return {
    url, faucet, sign,
    nextNonce: () => nonce,
    send: (payload: Payload, gasLimit = 50_000_000) => rpc(url, 'tx_broadcast', { tx: toHex(sign(payload, gasLimit).bytes), wait: 'committed' }),
  };
}

t.test('contracts over JSON-RPC: deploy and call by tx_broadcast, contract_getCode, contract_query', async (t) => {
  const { url, faucet, send, nextNonce } = await faucetNode(t);
  const deployNonce = nextNonce();
  const deployed = await send({ kind: 'deploy', code: STORE, args: new Uint8Array(0) });
  t.equal(deployed.receipt.status, 'ok', JSON.stringify(deployed.receipt));
  const address = contractAddress(faucet, deployNonce);
  t.equal(deployed.receipt.return_data, toHex(address), 'the receipt names the contract address');

  const info = await rpc(url, 'contract_getCode', { address: formatAddress(address) });
  t.equal(info.code, toHex(STORE), 'the original module comes back');
  t.equal(info.code_hash, toHex(sha256(STORE)));
  t.equal(info.creator, formatAddress(faucet));
  t.ok(info.methods.includes('increment') && !info.methods.includes('_hidden'));

  const q1 = await rpc(url, 'contract_query', { address: formatAddress(address), method: 'increment' });
  const q2 = await rpc(url, 'contract_query', { address: formatAddress(address), method: 'increment' });
  t.ok(q1.ok);
  t.equal(q1.return_data, q2.return_data, 'a query writes nothing');
  t.equal(q1.events[0].type, 'contract');

  const called = await send({ kind: 'call', contract: address, method: 'increment', args: new Uint8Array(0), value: 0n });
  t.equal(called.receipt.status, 'ok');
  t.equal(called.receipt.return_data, q1.return_data, 'the transaction did what the query predicted');
  const tx = await rpc(url, 'tx_get', { hash: called.hash });
  t.same(tx.tx.payload, { type: 'call', contract: formatAddress(address), method: 'increment', args: '', value: '0' });
  const q3 = await rpc(url, 'contract_query', { address: formatAddress(address), method: 'increment' });
  t.equal(new DataView(fromHex(q3.return_data).buffer).getBigUint64(0, true), 2n, 'queries see committed state');

  const failed = await rpc(url, 'contract_query', { address: formatAddress(address), method: 'spin', gas_limit: 100_000 });
  t.same([failed.ok, failed.gas_used, failed.error], [false, 100_000, 'out_of_gas: out of gas']);
  const reverted = await send({ kind: 'call', contract: address, method: 'fail', args: new Uint8Array(0), value: 0n });
  t.equal(reverted.receipt.status, 'contract_failed');
  t.equal(reverted.receipt.error, 'revert: no way');

  const code = (p: Promise<unknown>) => p.then(() => 0, (err: { rpc?: { code: number } }) => err.rpc?.code);
  t.equal(await code(rpc(url, 'contract_query', { address: formatAddress(faucet), method: 'x' })), -32004, 'no contract there: not found');
  t.equal(await code(rpc(url, 'contract_getCode', { address: formatAddress(faucet) })), -32004);
  t.equal(await code(rpc(url, 'contract_query', { address: formatAddress(address), method: 'spin', gas_limit: 10 ** 9 })), -32602, 'gas above the cap is refused');
});

/** A valid module of about `bytes` bytes: a data segment that size, and `peek` returning its first 4. */
function moduleOf(bytes: number): Uint8Array {
  const pages = Math.ceil(bytes / 65536) + 1;
  return wat(`(module
    (import "hallmark" "return_data" (func $ret (param i32 i32)))
    (memory (export "memory") ${pages} ${pages})
    (data (i32.const 0) "${'abcd'.repeat(Math.ceil(bytes / 4)).slice(0, bytes)}")
    (func (export "peek") (call $ret (i32.const 0) (i32.const 4))))`);
}

t.test('a node on the default config takes a deploy of a module near the VM\'s size cap; one over it is refused with the reason', async (t) => {
  const { url, faucet, sign, nextNonce } = await faucetNode(t);
  const deploy = async (code: Uint8Array) => {
    const stx = sign({ kind: 'deploy', code, args: new Uint8Array(0) }, 200_000_000);
    return { size: stx.bytes.length, sent: await rpc(url, 'tx_broadcast', { tx: toHex(stx.bytes), wait: 'committed' }) };
  };

  const big = moduleOf(LIMITS.maxCodeBytes - 200);
  t.ok(big.length <= LIMITS.maxCodeBytes && big.length > LIMITS.maxCodeBytes - 1024, `a ${big.length}-byte module`);
  const at = nextNonce();
  const { size, sent } = await deploy(big);
  t.ok(size > 64 * 1024, `the transaction is ${size} bytes, over the old 64 KiB default`);
  t.equal(sent.receipt.status, 'ok', JSON.stringify(sent.receipt.error));
  const address = formatAddress(contractAddress(faucet, at));
  t.equal((await rpc(url, 'contract_getCode', { address })).size, big.length, 'stored whole');
  t.equal((await rpc(url, 'contract_query', { address, method: 'peek' })).return_data, toHex(new TextEncoder().encode('abcd')), 'and it runs');

  const over = moduleOf(LIMITS.maxCodeBytes + 1000);
  const refused = await deploy(over);
  t.equal(refused.sent.receipt.status, 'invalid_contract', 'over the VM cap: refused at deploy, in the receipt');
  t.match(refused.sent.receipt.error, /over the limit/);
});
