/**
 * The SDK's example contracts, built from source by contracts/build.ts, deployed and used through
 * blocks on two executors that must agree: the counter, the token (balances, allowances, events)
 * and the escrow that calls the token.
 */
import t, { type Test } from 'tap';
import { addressOf } from '../chain/address.ts';
import { TxStatus, type Receipt } from '../chain/receipt.ts';
import { buildContracts } from '../contracts/build.ts';
import { contractAddress } from '../execution/contracts.ts';
import { prepareCode } from '../vm/code.ts';
import { decodeValues, encodeValues, type AbiValue } from '../vm/abi.ts';
import { ACCOUNTS, twoChains } from './fixtures/contract-chain.ts';

const built = await buildContracts();
const [alice, bob, carol] = ACCOUNTS as [typeof ACCOUNTS[0], typeof ACCOUNTS[0], typeof ACCOUNTS[0]];
const ALICE = addressOf(alice.publicKey);
const BOB = addressOf(bob.publicKey);
const CAROL = addressOf(carol.publicKey);
const u64 = (n: number | bigint): AbiValue => ({ type: 'u64', value: BigInt(n) });
const str = (s: string): AbiValue => ({ type: 'string', value: s });
const addr = (a: Uint8Array): AbiValue => ({ type: 'address', value: a });
const values = (r: Receipt) => decodeValues(r.returnData).map((v) => v.value);
const ok = (t: Test, r: Receipt | undefined, what: string) => t.equal(r?.status, TxStatus.ok, `${what}: ${r?.error}`);

t.test('the examples validate and export the documented methods', async (t) => {
  t.same(prepareCode(built.counter).methods, ['get', 'increment']);
  t.same(prepareCode(built.token).methods, ['allowance', 'approve', 'balance_of', 'name', 'symbol', 'total_supply', 'transfer', 'transfer_from']);
  t.same(prepareCode(built.escrow).methods, ['deposit', 'get', 'refund', 'release']);
  for (const [name, bytes] of Object.entries(built)) {
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes));
    t.ok(imports.every((i) => i.module === 'hallmark' && i.kind === 'function'), `${name} imports only hallmark.* functions`);
    t.ok(prepareCode(bytes).hasInit === (name !== 'counter'), `${name}: init as documented`);
  }
  const again = await buildContracts();
  for (const name of ['counter', 'token', 'escrow'] as const) t.same(again[name], built[name], `${name}: the same source builds the same bytes`);
});

t.test('counter: increment and get', async (t) => {
  const { tx, apply } = await twoChains(t);
  const counter = contractAddress(ALICE, 0);
  ok(t, (await apply([tx({ kind: 'deploy', code: built.counter, args: new Uint8Array(0) })]))[0], 'deploy');
  const call = (method: string, args: AbiValue[] = []) => tx({ kind: 'call', contract: counter, method, args: encodeValues(args), value: 0n });
  const rs = await apply([call('increment'), call('increment', [u64(41)]), call('get')]);
  t.same(rs.map(values), [[1n], [42n], [42n]]);
  const bad = await apply([call('increment', [str('x')])]);
  t.equal(bad[0]!.error, 'revert: argument 0: expected u64', 'a mistyped argument reverts with its position');
});

t.test('token and escrow: transfers, allowances, events, cross-contract calls', async (t) => {
  const { a, tx, apply } = await twoChains(t);
  const token = contractAddress(ALICE, 0);
  const escrow = contractAddress(ALICE, 1);
  const deployed = await apply([
    tx({ kind: 'deploy', code: built.token, args: encodeValues([str('Hallmark'), str('HMK'), u64(1_000_000)]) }),
    tx({ kind: 'deploy', code: built.escrow, args: encodeValues([addr(token)]) }),
  ]);
  ok(t, deployed[0], 'deploy token');
  ok(t, deployed[1], 'deploy escrow');
  t.equal(deployed[0]!.events.length, 1, 'init emits the mint as a Transfer');
  const call = (contract: Uint8Array, method: string, args: AbiValue[], who = alice) =>
    tx({ kind: 'call', contract, method, args: encodeValues(args), value: 0n }, 5_000_000, who);

  const meta = await apply([call(token, 'name', []), call(token, 'symbol', []), call(token, 'total_supply', [])]);
  t.same(meta.map(values), [['Hallmark'], ['HMK'], [1_000_000n]]);

  const moved = await apply([call(token, 'transfer', [addr(BOB), u64(250)]), call(token, 'transfer', [addr(CAROL), u64(2_000_000)])]);
  ok(t, moved[0], 'transfer');
  const ev = moved[0]!.events[0]!.attributes;
  t.equal(ev.filter(([k]) => k === 'topic').length, 3, 'Transfer has three topics');
  t.equal(ev.find(([k]) => k === 'data')?.[1], 'fa00000000000000', 'and the amount as data');
  t.equal(moved[1]!.error, 'revert: insufficient balance');

  const balances = await apply([call(token, 'balance_of', [addr(ALICE)]), call(token, 'balance_of', [addr(BOB)])]);
  t.same(balances.map(values), [[999_750n], [250n]]);

  // Bob escrows 100 for Carol: approve, then deposit (the escrow pulls with transfer_from).
  const noApproval = await apply([call(escrow, 'deposit', [u64(100), addr(CAROL)], bob)]);
  t.equal(noApproval[0]!.error, 'revert: deposit failed: allowance exceeded', 'the inner revert reason comes through');
  const deposit = await apply([call(token, 'approve', [addr(escrow), u64(100)], bob), call(escrow, 'deposit', [u64(100), addr(CAROL)], bob)]);
  ok(t, deposit[0], 'approve');
  ok(t, deposit[1], 'deposit');
  t.same(values(deposit[1]!), [0n], 'the first escrow id');
  t.equal(deposit[1]!.events.length, 1, 'the token\'s Transfer event is in the deposit\'s receipt');
  const held = await apply([call(escrow, 'get', [u64(0)]), call(token, 'balance_of', [addr(escrow)])]);
  t.same(values(held[0]!), [BOB, CAROL, 100n, true]);
  t.same(values(held[1]!), [100n]);

  const release = await apply([call(escrow, 'release', [u64(0)], carol), call(escrow, 'release', [u64(0)], bob), call(escrow, 'refund', [u64(0)], bob)]);
  t.equal(release[0]!.error, 'revert: only the depositor may do that');
  ok(t, release[1], 'release');
  t.equal(release[2]!.error, 'revert: escrow 0 is closed');
  const after = await apply([call(token, 'balance_of', [addr(CAROL)]), call(token, 'balance_of', [addr(escrow)]), call(escrow, 'get', [u64(0)])]);
  t.same(after.slice(0, 2).map(values), [[100n], [0n]], 'the beneficiary was paid');
  t.same(values(after[2]!)[3], false);

  const reinit = await apply([call(token, 'init', [str('Mine'), str('M'), u64(10 ** 9)])]);
  t.match(reinit[0]!.error, /^no_method/, 'init cannot be called again');
  t.ok(a.head!.height > 8);
});
