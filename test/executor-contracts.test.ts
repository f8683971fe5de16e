import t from 'tap';
import { GAS as VM_GAS } from '../vm/limits.ts';
import { addressOf } from '../chain/address.ts';
import { TxStatus } from '../chain/receipt.ts';
import { concatBytes, toHex, utf8 } from '../chain/bytes.ts';
import { encodeCanonical } from '../chain/codec.ts';
import { sha256 } from '../chain/hash.ts';
import { codeKey, contractAddress, instrumentedKey, type IndexSnapshot } from '../execution/contracts.ts';
import { StateOverlay } from '../state/overlay.ts';
import { prepareCode } from '../vm/code.ts';
import { CHAIN_ID, openChain, testGenesis } from './fixtures/chain.ts';
import type { CommittedView } from '../execution/executor.ts';
import { ACCOUNTS, twoChains } from './fixtures/contract-chain.ts';
import { FORWARDER, LISTER, STORE } from './fixtures/vm-contracts.ts';
import { wat } from './fixtures/vm.ts';

const ALICE = addressOf(ACCOUNTS[0]!.publicKey);
const u64 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);

t.test('deploy and call through blocks: receipts, state, and two nodes agreeing', async (t) => {
  const { a, tx, apply } = await twoChains(t);
  const store = contractAddress(ALICE, 0);
  const fwd = contractAddress(ALICE, 1);
  const [d1, d2] = await apply([tx({ kind: 'deploy', code: STORE, args: new Uint8Array(0) }), tx({ kind: 'deploy', code: FORWARDER, args: new Uint8Array(0) })]);
  t.equal(d1!.status, TxStatus.ok, d1!.error);
  t.same(d1!.returnData, store, 'a deploy returns the contract address');
  t.equal(d2!.status, TxStatus.ok);

  const call = (contract: Uint8Array, method: string, args: Uint8Array = new Uint8Array(0), gas?: number) =>
    tx({ kind: 'call', contract, method, args, value: 0n }, gas);
  const rs = await apply([call(store, 'increment'), call(store, 'increment'), call(store, 'fail'), call(store, 'nope'), call(fwd, 'poke', store)]);
  t.equal(u64(rs[1]!.returnData), 2n, 'state persists between transactions in a block');
  t.equal(rs[0]!.events[0]!.type, 'contract');
  t.equal(rs[2]!.status, TxStatus.contract_failed);
  t.equal(rs[2]!.error, 'revert: no way');
  t.match(rs[3]!.error, /^no_method: /);
  t.equal(rs[4]!.status, TxStatus.ok);
  t.equal(u64(rs[4]!.returnData.subarray(1)), 3n, 'a cross-contract call sees the earlier writes');
  t.equal((await a.getAccount(ALICE)).nonce, 7, 'failed calls use their nonce');
  t.ok(rs[2]!.gasUsed > 0, 'and pay for their gas');

  // storage_next over committed keys (the LevelDB index) and keys written in the same block.
  const [k1] = await apply([call(store, 'keys')]);
  t.equal(new TextDecoder().decode(k1!.returnData.subarray(0, 6)), 'k/ak/b', 'iteration over staged writes');
  const [k2] = await apply([call(store, 'keys')]);
  t.equal(new TextDecoder().decode(k2!.returnData.subarray(0, 6)), 'k/ak/b', 'iteration over committed keys');
  const [spin] = await apply([call(store, 'spin', undefined, 5_000_000)]);
  t.equal(spin!.status, TxStatus.contract_failed);
  t.match(spin!.error, /^out_of_gas/);
  t.equal(spin!.gasUsed, 5_000_000, 'an infinite loop costs the whole limit');
});

t.test('hostile calls stop at their limits; the chain goes on and only the fee and nonce change', async (t) => {
  const { a, tx, apply } = await twoChains(t);
  const store = contractAddress(ALICE, 0);
  await apply([tx({ kind: 'deploy', code: STORE, args: new Uint8Array(0) })]);
  await apply([tx({ kind: 'call', contract: store, method: 'increment', args: new Uint8Array(0), value: 0n })]);
  const deep = new Uint8Array(new Uint32Array([10_000_000]).buffer);
  const hostile: [string, Uint8Array, RegExp][] = [
    ['spin', new Uint8Array(0), /^out_of_gas/], ['recurse', deep, /^stack_overflow/], ['grow', new Uint8Array(0), /^out_of_gas/],
    ['flood', new Uint8Array(0), /^out_of_gas/], ['boom', new Uint8Array(0), /^unreachable/], ['oob', new Uint8Array(0), /^trap/],
  ];
  for (const [method, args, why] of hostile) {
    const before = await a.getAccount(ALICE);
    // grow: its intrinsic gas and initial page, and less than the 3 pages it asks for.
    const gas = method === 'grow' ? 1_200_000 + 3 * VM_GAS.memoryPage : 5_000_000;
    const [r] = await apply([tx({ kind: 'call', contract: store, method, args, value: 0n }, gas)]);
    t.equal(r!.status, TxStatus.contract_failed, `${method}: failed`);
    t.match(r!.error, why, `${method}: ${r!.error}`);
    const after = await a.getAccount(ALICE);
    t.equal(after.balance, before.balance - 1n, `${method}: only the fee was taken`);
    t.equal(after.nonce, before.nonce + 1, `${method}: the nonce advanced`);
  }
  const [again] = await apply([tx({ kind: 'call', contract: store, method: 'increment', args: new Uint8Array(0), value: 0n })]);
  t.equal(u64(again!.returnData), 2n, 'the contract\'s state is as the hostile calls found it');
});

t.test('a refused module is a receipt with the reason, and nothing is stored', async (t) => {
  const { a, tx, apply } = await twoChains(t);
  const float = wat('(module (memory (export "memory") 1 1) (func (export "f") (drop (f32.const 1))))');
  const before = a.head!.stateRoot;
  const [r, small] = await apply([tx({ kind: 'deploy', code: float, args: new Uint8Array(0) }), tx({ kind: 'deploy', code: STORE, args: new Uint8Array(0) }, 60_000)]);
  t.equal(r!.status, TxStatus.invalid_contract);
  t.match(r!.error, /floating-point/);
  t.equal(small!.status, TxStatus.out_of_gas, 'a deploy pays per byte of code up front');
  t.not(a.head!.stateRoot, before, 'fees and nonces moved');
  const call = await apply([tx({ kind: 'call', contract: contractAddress(ALICE, 0), method: 'f', args: new Uint8Array(0), value: 0n })]);
  t.match(call[0]!.error, /^no_contract/, 'no contract was created');
});

t.test('value sent with a call moves to the contract, and back if the call fails', async (t) => {
  const { a, tx, apply } = await twoChains(t);
  const store = contractAddress(ALICE, 0);
  await apply([tx({ kind: 'deploy', code: STORE, args: new Uint8Array(0) })]);
  const [ok, bad] = await apply([
    tx({ kind: 'call', contract: store, method: 'increment', args: new Uint8Array(0), value: 500n }),
    tx({ kind: 'call', contract: store, method: 'fail', args: new Uint8Array(0), value: 700n }),
  ]);
  t.equal(ok!.status, TxStatus.ok);
  t.equal(bad!.status, TxStatus.contract_failed);
  t.equal((await a.getAccount(store)).balance, 500n, 'only the successful call\'s value stays');
});

t.test('a query reads one height throughout, though a block commits while it runs', async (t) => {
  const { a, aDb, tx, apply } = await twoChains(t);
  const lister = contractAddress(ALICE, 0);
  const call = (method: string, key = '') => tx({ kind: 'call', contract: lister, method, args: utf8(key), value: 0n });
  await apply([tx({ kind: 'deploy', code: LISTER, args: new Uint8Array(0) })]);
  await apply([call('add', 'k/a'), call('add', 'k/b')]);
  const query = (v: CommittedView, method: string, args: Uint8Array) =>
    a.contracts.query(v.overlay, v.snapshot, { chainId: v.head.chainId, height: v.head.height, time: v.head.time, origin: ALICE }, ALICE, lister, method, args, 1_000_000);
  const list = async (v: CommittedView) => {
    const out = await query(v, 'list', new Uint8Array(0));
    t.ok(out.ok, out.error);
    return new TextDecoder().decode(out.returnData);
  };

  let held: IndexSnapshot | undefined;
  const during = await a.read(async (v) => {
    held = v.snapshot;
    t.equal(await list(v), 'k/ak/b', 'before the block');
    await apply([call('del', 'k/a'), call('add', 'k/c')]);
    t.equal(a.head!.height, v.head.height + 1, 'a block committed while the read was open');
    return list(v);
  });
  t.equal(during, 'k/ak/b', 'the storage index answered as of the read\'s height, not the newer one');
  t.equal(await a.read(list), 'k/bk/c', 'a new read sees the new height');
  await t.rejects(aDb.get(Uint8Array.of(0), { snapshot: held! }), { code: 'LEVEL_SNAPSHOT_NOT_OPEN' }, 'the old snapshot was released when its last reader finished');

  // What a query writes is never kept.
  const wrote = await a.read((v) => query(v, 'add', utf8('k/z')));
  t.ok(wrote.ok);
  t.equal(await a.read(list), 'k/bk/c', 'the query\'s write was dropped');
});

t.test('storage_next skips runs of committed keys deleted in the block, and stops at the prefix end', async (t) => {
  const { tx, apply } = await twoChains(t);
  const lister = contractAddress(ALICE, 0);
  const call = (method: string, key: string) => tx({ kind: 'call', contract: lister, method, args: utf8(key), value: 0n });
  await apply([tx({ kind: 'deploy', code: LISTER, args: new Uint8Array(0) })]);
  const names = [...'0123456789abcdefghijklmnopqrstuvwxyz'].map((c) => `k/${c}`);
  await apply([...names, 'j/x', 'l/x', 'l/y'].map((k) => call('add', k)));
  // 30 committed keys in a row deleted: the index is read past them in growing batches.
  const [, ...rest] = await apply([...names.slice(0, 30).map((k) => call('del', k)), call('list', '')]);
  const listed = rest[rest.length - 1]!;
  t.equal(listed.status, TxStatus.ok, listed.error);
  t.equal(new TextDecoder().decode(listed.returnData), names.slice(30).join(''), 'the keys left under the prefix, in order, none after it');
});

t.test('a deploy of code already stored runs the stored instrumented code, and calls use the cached module', async (t) => {
  const { executor, tree, db } = await openChain(t.testdir());
  t.teardown(() => db.close());
  await executor.initGenesis(testGenesis(ACCOUNTS));
  // init writes "v" = the byte it was built with.
  const module = (v: number) => wat(`(module
    (import "hallmark" "storage_write" (func $w (param i32 i32 i32 i32)))
    (memory (export "memory") 1 1)
    (data (i32.const 0) "v\\${v.toString(16).padStart(2, '0')}")
    (func (export "init") (call $w (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 1)))
    (func (export "noop")))`);
  const mine = module(1);
  const stored = prepareCode(module(2));
  const hash = sha256(mine);
  // As if an earlier instrumenter had stored other bytes under this code's hash.
  const overlay = new StateOverlay(tree, 0);
  overlay.set(codeKey(hash), mine);
  overlay.set(instrumentedKey(hash), encodeCanonical([1, stored.instrumented, [...stored.methods]]));
  const block = { chainId: CHAIN_ID, height: 1, time: 0, origin: ALICE };
  const out = await executor.contracts.deploy(overlay, block, ALICE, 0, mine, new Uint8Array(0), 1_000_000);
  t.ok(out.ok, out.error);
  const at = contractAddress(ALICE, 0);
  t.same(await overlay.get(concatBytes(Uint8Array.of(0x05), at, utf8('v'))), Uint8Array.of(2), 'init ran the stored code, not a fresh instrumentation');

  const { hits, misses } = executor.contracts.cache;
  const reads: string[] = [];
  const get = overlay.get.bind(overlay);
  overlay.get = (key) => {
    reads.push(toHex(key.subarray(0, 1)));
    return get(key);
  };
  t.ok((await executor.contracts.call(overlay, block, ALICE, at, 'noop', new Uint8Array(0), 0n, 5_000_000)).ok);
  t.same([executor.contracts.cache.hits - hits, executor.contracts.cache.misses - misses], [1, 0], 'the module came from the cache');
  t.notOk(reads.includes('03'), 'and the instrumented code was not read again');
});
