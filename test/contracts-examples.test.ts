/**
 * The SDK's example contracts, built from source by contracts/build.ts, deployed and used through
 * blocks on two executors that must agree: the counter, the token (balances, allowances, events),
 * the escrow that calls the token, and the proof-gated claim (Groth16, protocol 3).
 */
import t, { type Test } from 'tap';
import { addressOf, formatAddress } from '../chain/address.ts';
import { toHex } from '../chain/bytes.ts';
import { sha256 } from '../chain/hash.ts';
import { TxStatus, type Receipt } from '../chain/receipt.ts';
import { decodeSignedTransaction } from '../chain/tx.ts';
import { buildContracts, EXAMPLES } from '../contracts/build.ts';
import { contractAddress } from '../execution/contracts.ts';
import { GAS as TX_GAS, intrinsicGas } from '../execution/transaction.ts';
import { proofGas, ZK_GAS } from '../execution/zk.ts';
import { prepareCode } from '../vm/code.ts';
import { decodeValues, encodeValues, type AbiValue } from '../vm/abi.ts';
import { bn254 } from '../zk/groth16.ts';
import { ACCOUNTS, twoChains } from './fixtures/contract-chain.ts';
import { zkFixture } from './fixtures/zk.ts';

const built = await buildContracts();
const [alice, bob, carol] = ACCOUNTS as [typeof ACCOUNTS[0], typeof ACCOUNTS[0], typeof ACCOUNTS[0]];
const ALICE = addressOf(alice.publicKey);
const BOB = addressOf(bob.publicKey);
const CAROL = addressOf(carol.publicKey);
const u64 = (n: number | bigint): AbiValue => ({ type: 'u64', value: BigInt(n) });
const str = (s: string): AbiValue => ({ type: 'string', value: s });
const addr = (a: Uint8Array): AbiValue => ({ type: 'address', value: a });
const bytes = (b: Uint8Array): AbiValue => ({ type: 'bytes', value: b });
const values = (r: Receipt) => decodeValues(r.returnData).map((v) => v.value);
const ok = (t: Test, r: Receipt | undefined, what: string) => t.equal(r?.status, TxStatus.ok, `${what}: ${r?.error}`);

t.test('the examples validate and export the documented methods', async (t) => {
  t.same(prepareCode(built.counter).methods, ['get', 'increment']);
  t.same(prepareCode(built.token).methods, ['allowance', 'approve', 'balance_of', 'name', 'symbol', 'total_supply', 'transfer', 'transfer_from']);
  t.same(prepareCode(built.escrow).methods, ['deposit', 'get', 'refund', 'release']);
  t.same(prepareCode(built.zk_gate).methods, ['claim', 'claimed_by', 'claims', 'key']);
  t.same(Object.keys(built), [...EXAMPLES], 'every example is built');
  for (const [name, bytes] of Object.entries(built)) {
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes));
    t.ok(imports.every((i) => i.module === 'hallmark' && i.kind === 'function'), `${name} imports only hallmark.* functions`);
    t.ok(prepareCode(bytes).hasInit === (name !== 'counter'), `${name}: init as documented`);
  }
  const again = await buildContracts();
  for (const name of EXAMPLES) t.same(again[name], built[name], `${name}: the same source builds the same bytes`);
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

t.test('zk_gate: a claim per statement, gated by a Groth16 proof carried or passed directly', async (t) => {
  const mul = zkFixture('multiplier');
  const other = zkFixture('multiplier-other');
  type Proof = (typeof mul.proofs)[number];
  const { tx, apply } = await twoChains(t);
  const gate = contractAddress(ALICE, 2);

  const setup = await apply([
    tx({ kind: 'zk_key', key: mul.key }),
    tx({ kind: 'deploy', code: built.zk_gate, args: encodeValues([bytes(mul.hash.subarray(1))]) }),
    tx({ kind: 'deploy', code: built.zk_gate, args: encodeValues([bytes(mul.hash)]) }),
  ]);
  ok(t, setup[0], 'register the multiplier key');
  t.equal(setup[1]!.error, 'revert: the key hash is 32 bytes', 'init refuses a key hash of 31 bytes');
  ok(t, setup[2], 'deploy the gate');

  const call = (method: string, args: AbiValue[], who = alice) => tx({ kind: 'call', contract: gate, method, args: encodeValues(args), value: 0n }, 50_000_000, who);
  /** claim(proof, signals); `carried`: the same triple rides on the call, verified before it runs. */
  const claim = (p: Proof, carried: boolean, who = alice) =>
    tx({ kind: 'call', contract: gate, method: 'claim', args: encodeValues([bytes(p.proof), bytes(p.signals)]), value: 0n, ...(carried && { proofs: [p] }) }, 50_000_000, who);
  const vmGas = (r: Receipt, raw: Uint8Array) => r.gasUsed - intrinsicGas(raw.length, decodeSignedTransaction(raw).tx.payload);
  const tampered = (p: Proof): Proof => {
    const signals = p.signals.slice();
    signals[31]! ^= 1;
    return { ...p, signals };
  };
  // Another valid proof of the same statement, as anyone can make one: e(-A, -B) = e(A, B), so
  // negating pi_a and pi_b (their y coordinates; pi_b's is in Fp2) keeps the pairing equation.
  const { q } = await bn254();
  const malleated = (p: Proof): Proof => {
    const proof = p.proof.slice();
    for (const at of [32, 128, 160]) {
      const y = BigInt(`0x${toHex(proof.subarray(at, at + 32))}`);
      proof.set(Buffer.from((y === 0n ? 0n : q - y).toString(16).padStart(64, '0'), 'hex'), at);
    }
    return { ...p, proof };
  };

  const first = await apply([claim(mul.proofs[0]!, true)]);
  ok(t, first[0], 'a claim carrying its proof');
  t.same(values(first[0]!), [1n], 'the first claim');
  t.same(first[0]!.events[0]!.attributes, [['contract', formatAddress(gate)], ['topic', toHex(sha256(mul.proofs[0]!.signals))], ['data', toHex(ALICE)]],
    'an event: the nullifier (sha256 of the signals) as topic, the claimant as data');

  const other0 = other.proofs.find((p) => !p.signals.every((b, i) => b === mul.proofs[0]!.signals[i]))!;
  const truncated = { ...mul.proofs[4]!, proof: mul.proofs[4]!.proof.subarray(0, 255) };
  const refused = [
    claim(mul.proofs[0]!, false, bob),
    claim(malleated(mul.proofs[0]!), true, carol),
    claim(tampered(mul.proofs[1]!), false),
    claim(tampered(mul.proofs[1]!), true),
    claim(other0, false),
    claim(truncated, false),
  ];
  t.notSame(malleated(mul.proofs[0]!).proof, mul.proofs[0]!.proof, 'the malleated proof is other bytes');
  const rs = await apply(refused);
  t.equal(rs[0]!.error, 'revert: already claimed', 'the same proof again, by someone else');
  t.ok(vmGas(rs[0]!, refused[0]!) < ZK_GAS.proof, 'a claimed statement is refused before its proof is verified');
  t.equal(rs[1]!.status, TxStatus.contract_failed, 'a re-randomized proof passes the carried check (it is valid)');
  t.equal(rs[1]!.error, 'revert: already claimed', 'and still cannot claim the statement again: the nullifier is the signals');
  t.equal(rs[2]!.error, 'revert: invalid proof', 'a tampered signal, not carried');
  t.equal(rs[3]!.status, TxStatus.zk_refused, 'a tampered signal, carried: refused before the call runs');
  t.match(rs[3]!.error, /^invalid_proof: proof 0: /);
  t.equal(rs[4]!.error, 'revert: invalid proof', "another key's proof");
  t.equal(rs[5]!.error, 'revert: invalid proof', 'a proof of 255 bytes');
  t.ok(vmGas(rs[5]!, refused[5]!) < ZK_GAS.proof, 'answered by the SDK without the proof price');

  // The same claim, carried or not: the VM charges the proof price only for the one not carried,
  // and the carried one paid it with its intrinsic gas (docs/zk.md, "Gas").
  const pair = [claim(mul.proofs[2]!, true), claim(mul.proofs[3]!, false, bob)];
  const [carried, direct] = (await apply(pair)) as [Receipt, Receipt];
  ok(t, carried, 'a carried claim');
  ok(t, direct, 'a direct claim');
  t.same([values(carried), values(direct)], [[2n], [3n]]);
  const price = proofGas([mul.proofs[3]!]);
  t.equal(price, ZK_GAS.proof + ZK_GAS.signal * (mul.proofs[3]!.signals.length / 32));
  t.ok(direct.gasUsed > carried.gasUsed - proofGas([mul.proofs[2]!]), 'direct uses more than carried without its proof\'s intrinsic gas');
  t.equal(vmGas(direct, pair[1]!) - vmGas(carried, pair[0]!), price, 'in the VM, direct costs the proof price more: carried costs only the copy');
  t.equal(intrinsicGas(pair[0]!.length, decodeSignedTransaction(pair[0]!).tx.payload) - intrinsicGas(pair[1]!.length, decodeSignedTransaction(pair[1]!).tx.payload),
    proofGas([mul.proofs[2]!]) + TX_GAS.txByte * (pair[0]!.length - pair[1]!.length), 'the carried one paid the price up front, with its bytes');

  const reads = await apply([
    call('claims', []),
    call('claimed_by', [bytes(mul.proofs[0]!.signals)]),
    call('claimed_by', [bytes(mul.proofs[3]!.signals)]),
    call('claimed_by', [bytes(mul.proofs[1]!.signals)]),
    call('key', []),
  ]);
  t.same(reads.slice(0, 3).map(values), [[3n], [ALICE], [BOB]]);
  t.equal(reads[3]!.error, 'revert: not claimed');
  t.same(values(reads[4]!), [mul.hash]);
});
