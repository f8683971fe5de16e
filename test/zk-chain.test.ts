/**
 * Groth16 on chain (protocol 3): verification keys registered by transaction, calls carrying proofs
 * (verified before the block runs), the groth16_verify host function, the mempool's admission
 * check, and two executors agreeing on every root and gas figure.
 */
import t from 'tap';
import { addressOf } from '../chain/address.ts';
import { CODEC_LIMITS } from '../chain/block-rules.ts';
import { concatBytes, toHex } from '../chain/bytes.ts';
import { TxStatus } from '../chain/receipt.ts';
import { decodeSignedTransaction, signTransaction, type AttachedProof, type Payload } from '../chain/tx.ts';
import { contractAddress } from '../execution/contracts.ts';
import { ZK_GAS } from '../execution/zk.ts';
import { Mempool, MempoolError } from '../mempool/mempool.ts';
import { GAS as VM_GAS } from '../vm/limits.ts';
import { InlineVerifier, type Answer, type Verifier, type VerifyItem } from '../zk/groth16.ts';
import { VerifierPool } from '../zk/pool.ts';
import { CHAIN_ID, nextBlock, openChain, testAccounts, testGenesis } from './fixtures/chain.ts';
import { ACCOUNTS, twoChains } from './fixtures/contract-chain.ts';
import { ZK_VERIFIER as VERIFIER } from './fixtures/vm-contracts.ts';
import { zkFixture } from './fixtures/zk.ts';

const ALICE = addressOf(ACCOUNTS[0]!.publicKey);
const mul = zkFixture('multiplier');
const pos = zkFixture('poseidon');
const other = zkFixture('multiplier-other');

const input = (p: AttachedProof) => concatBytes(p.keyHash, p.proof, p.signals);
const tampered = (p: AttachedProof): AttachedProof => {
  const signals = p.signals.slice();
  signals[31]! ^= 1;
  return { ...p, signals };
};

/** A verifier that counts what reaches it: the cache and pre-verification are visible through it. */
class Counting implements Verifier {
  readonly inner = new InlineVerifier();
  each = 0;
  all = 0;
  verifyEach(items: readonly VerifyItem[]): Promise<Answer[]> {
    this.each += items.length;
    return this.inner.verifyEach(items);
  }
  verifyAll(items: readonly VerifyItem[]) {
    this.all += items.length;
    return this.inner.verifyAll(items);
  }
  close() {
    return this.inner.close();
  }
}

t.test('keys, calls carrying proofs and groth16_verify: receipts, gas, and two executors agreeing', async (t) => {
  const counting = new Counting();
  const { a, tx, apply } = await twoChains(t, { verifier: counting });
  const contract = contractAddress(ALICE, 0);
  const call = (method: string, args: Uint8Array, proofs?: AttachedProof[], gas = 60_000_000) =>
    tx({ kind: 'call', contract, method, args, value: 0n, ...(proofs && { proofs }) }, gas);

  const keys = await apply([
    tx({ kind: 'deploy', code: VERIFIER, args: new Uint8Array(0) }),
    tx({ kind: 'zk_key', key: mul.key }),
    tx({ kind: 'zk_key', key: pos.key }),
    tx({ kind: 'zk_key', key: mul.key }),
    tx({ kind: 'zk_key', key: mul.key.slice(0, 200) }),
  ]);
  t.same(keys.map((r) => r.status), [0, 0, 0, TxStatus.zk_refused, TxStatus.zk_refused], keys.map((r) => r.error).join(' | '));
  t.match(keys[3]!.error, /^key_registered: verification key [0-9a-f]{64} is registered already$/);
  t.match(keys[4]!.error, /^malformed_key: /);
  t.same(keys[1]!.events[0]!.attributes, [['hash', toHex(mul.hash)], ['n_public', '1']], 'the registration event names the hash');

  // Calls carrying proofs: all verified before the call runs; the first bad one refuses the call.
  const carried = await apply([
    call('verify', input(mul.proofs[0]!), [mul.proofs[0]!, pos.proofs[0]!]),
    call('verify', input(mul.proofs[1]!), [mul.proofs[1]!, tampered(pos.proofs[1]!)]),
    call('verify', input(mul.proofs[2]!), [{ ...other.proofs[0]!, keyHash: other.hash }]),
    call('verify', input(mul.proofs[3]!), [{ ...other.proofs[0]!, keyHash: mul.hash }]),
    call('verify', input(mul.proofs[4]!), [mul.proofs[4]!], 15_000_000),
  ]);
  t.equal(carried[0]!.status, TxStatus.ok, carried[0]!.error);
  t.same(carried[0]!.returnData, [1], 'a carried proof passed to groth16_verify is valid');
  t.equal(carried[1]!.status, TxStatus.zk_refused);
  t.match(carried[1]!.error, /^invalid_proof: proof 1: /, 'the second proof is the bad one');
  t.match(carried[2]!.error, /^unknown_key: proof 0: no verification key [0-9a-f]{64} is registered$/);
  t.match(carried[3]!.error, /^invalid_proof: proof 0: /, "another key's proof under this key");
  t.equal(carried[4]!.status, TxStatus.out_of_gas, 'a limit that cannot pay for the carried proofs');
  t.equal(carried[4]!.gasUsed, 15_000_000);
  t.equal(counting.each, 6, 'the block verified its six proofs (with known keys) once, before running');

  // groth16_verify on proofs not carried: priced per proof and signal; invalid is 0; unknown key a host error.
  const direct = await apply([
    call('verify', input(mul.proofs[5]!)),
    call('verify', input(tampered(mul.proofs[6]!))),
    call('verify', input(pos.proofs[2]!)),
    call('verify', concatBytes(mul.hash, new Uint8Array(256), mul.proofs[0]!.signals)),
    call('verify', input({ ...mul.proofs[7]!, keyHash: other.hash })),
    call('verify', input(mul.proofs[0]!), [mul.proofs[0]!]),
  ]);
  t.same(direct.slice(0, 4).map((r) => [r.status, r.returnData[0]]), [[0, 1], [0, 0], [0, 1], [0, 0]], 'valid, tampered, poseidon, a proof of zeros (points at infinity)');
  t.equal(direct[4]!.status, TxStatus.contract_failed);
  t.match(direct[4]!.error, /^host_error: groth16_verify: no verification key [0-9a-f]{64} is registered$/);
  const proofGas = VM_GAS.host.groth16 + VM_GAS.host.groth16Signal;
  t.ok(direct[0]!.gasUsed - direct[5]!.gasUsed > proofGas - ZK_GAS.proof - ZK_GAS.signal - 100_000, 'gas: carried and direct cost the same proof price once');
  t.ok(direct[0]!.gasUsed > proofGas, 'a direct verification pays the proof price');
  t.equal(direct[5]!.status, TxStatus.ok);
  t.same(direct[5]!.returnData, [1]);
  t.equal(counting.each, 6 + 4, 'the four direct ones with a known key went to the verifier; the cached carried one did not');

  // The same proofs again: answered from the cache, the same receipts.
  const again = await apply([call('verify', input(mul.proofs[5]!)), call('verify', input(mul.proofs[0]!), [mul.proofs[0]!, pos.proofs[0]!])]);
  t.same(again.map((r) => [r.status, r.returnData[0]]), [[0, 1], [0, 1]]);
  t.equal(counting.each, 10, 'nothing verified twice');
  t.equal((await a.getAccount(ALICE)).nonce, 18);
});

t.test('protocol 2: groth16_verify is a host error, as it always was', async (t) => {
  const { executor, db } = await openChain(t.testdir(), undefined, { limits: { ...CODEC_LIMITS, protocolVersion: 2 } });
  t.teardown(() => db.close());
  await executor.initGenesis(testGenesis(ACCOUNTS));
  t.equal(executor.zk, undefined);
  const sign = (nonce: number, payload: Payload) =>
    signTransaction({ chainId: CHAIN_ID, sender: ACCOUNTS[0]!.publicKey, nonce, fee: 1n, gasLimit: 60_000_000, payload }, ACCOUNTS[0]!.secretKey).bytes;
  const r = await executor.applyBlock(nextBlock(executor, [
    sign(0, { kind: 'deploy', code: VERIFIER, args: new Uint8Array(0) }),
    sign(1, { kind: 'call', contract: contractAddress(ALICE, 0), method: 'verify', args: input(mul.proofs[0]!), value: 0n }),
  ]));
  t.equal(r.receipts[1]!.status, TxStatus.contract_failed);
  t.equal(r.receipts[1]!.error, 'host_error: groth16_verify is not available yet');
});

t.test('the mempool verifies carried proofs at admission, stopping at the first bad one', async (t) => {
  const counting = new Counting();
  const { executor, db } = await openChain(t.testdir(), undefined, { verifier: counting });
  t.teardown(() => db.close());
  const accounts = testAccounts(2);
  await executor.initGenesis(testGenesis(accounts));
  const [alice, bob] = accounts as [typeof accounts[0], typeof accounts[0]];
  const sign = (who: typeof alice, nonce: number, payload: Payload) =>
    signTransaction({ chainId: CHAIN_ID, sender: who.publicKey, nonce, fee: 300_000_000n, gasLimit: 300_000_000, payload }, who.secretKey).bytes;
  await executor.applyBlock(nextBlock(executor, [sign(alice, 0, { kind: 'zk_key', key: mul.key })]));
  const zk = executor.zk!;
  const pool = new Mempool({ chainId: CHAIN_ID, accounts: executor, proofs: (p) => executor.read(({ overlay }) => zk.admit(overlay, p)) });
  const proven = (who: typeof alice, nonce: number, proofs: AttachedProof[]) =>
    sign(who, nonce, { kind: 'call', contract: new Uint8Array(20), method: 'm', args: new Uint8Array(0), value: 0n, proofs });

  const bad = [...mul.proofs.slice(0, 16)];
  bad[3] = tampered(bad[3]!);
  bad[9] = tampered(bad[9]!);
  await t.rejects(pool.add(proven(alice, 1, bad)), { code: 'invalid_proof', message: /^proof 3: invalid_proof: / });
  t.equal(counting.all, 16, 'verifyAll was asked');
  await t.rejects(pool.add(proven(alice, 1, [mul.proofs[0]!, { ...pos.proofs[0]!, keyHash: pos.hash }])), { code: 'unknown_verifying_key', message: /^proof 1: / });
  await t.rejects(pool.add(proven(alice, 1, [tampered(mul.proofs[0]!), { ...pos.proofs[0]!, keyHash: pos.hash }])), { code: 'invalid_proof', message: /^proof 0: / },
    'a bad proof before an unknown key is the answer');
  const good = await pool.add(proven(bob, 0, mul.proofs.slice(0, 3)));
  t.equal(pool.size, 1, 'valid proofs are admitted');
  t.ok(pool.has(good.hash));
  t.equal(pool.counters.refused.invalid_proof, 2);
  t.equal(pool.counters.refused.unknown_verifying_key, 1);

  // The block then finds its answers in the cache: nothing verified again.
  const before = counting.each;
  const r = await executor.applyBlock(nextBlock(executor, [good.bytes]));
  t.equal(r.receipts[0]!.status, TxStatus.contract_failed, 'the call ran (there is no contract there)');
  t.equal(counting.each, before, 'admitted proofs are not verified again by the block');

  const plain = new Mempool({ chainId: CHAIN_ID, accounts: executor });
  await t.rejects(plain.add(proven(bob, 1, mul.proofs.slice(0, 1))), MempoolError, 'a mempool without a proof check refuses calls carrying proofs');
  t.equal(decodeSignedTransaction(good.bytes).tx.payload.kind, 'call');
});

t.test('a version-2 mempool refuses Groth16 payloads as payload_not_enabled', async (t) => {
  const { executor, db } = await openChain(t.testdir(), undefined, { limits: { ...CODEC_LIMITS, protocolVersion: 2 } });
  t.teardown(() => db.close());
  await executor.initGenesis(testGenesis(ACCOUNTS));
  const pool = new Mempool({ chainId: CHAIN_ID, accounts: executor, limits: { ...CODEC_LIMITS, protocolVersion: 2 } });
  const sign = (payload: Payload) => signTransaction({ chainId: CHAIN_ID, sender: ACCOUNTS[0]!.publicKey, nonce: 0, fee: 1n, gasLimit: 60_000_000, payload }, ACCOUNTS[0]!.secretKey).bytes;
  await t.rejects(pool.add(sign({ kind: 'zk_key', key: mul.key })), { code: 'payload_not_enabled', message: /need protocol version 3; this chain runs version 2/ });
  await t.rejects(pool.add(sign({ kind: 'call', contract: new Uint8Array(20), method: 'm', args: new Uint8Array(0), value: 0n, proofs: [mul.proofs[0]!] })), { code: 'payload_not_enabled' });
});

t.test('proof admission: cheap checks first, and a bound on proofs verified at once', async (t) => {
  /** Holds every verifyAll until released: admissions in flight can be counted. */
  class Held extends Counting {
    release: () => void = () => {};
    readonly held = new Promise<void>((resolve) => (this.release = resolve));
    override async verifyAll(items: readonly VerifyItem[]) {
      await this.held;
      return super.verifyAll(items);
    }
  }
  const held = new Held();
  const { executor, db } = await openChain(t.testdir(), undefined, { verifier: held });
  t.teardown(() => db.close());
  const accounts = testAccounts(12);
  await executor.initGenesis(testGenesis(accounts.slice(0, 11), 10n ** 12n));
  const sign = (who: number, payload: Payload, gasLimit = 100_000_000, fee = 100_000_000n) =>
    signTransaction({ chainId: CHAIN_ID, sender: accounts[who]!.publicKey, nonce: who === 0 ? 1 : 0, fee, gasLimit, payload }, accounts[who]!.secretKey).bytes;
  await executor.applyBlock(nextBlock(executor, [signTransaction({ chainId: CHAIN_ID, sender: accounts[0]!.publicKey, nonce: 0, fee: 1n, gasLimit: 60_000_000, payload: { kind: 'zk_key', key: mul.key } }, accounts[0]!.secretKey).bytes]));
  const zk = executor.zk!;
  const pool = new Mempool({ chainId: CHAIN_ID, accounts: executor, proofs: (p) => executor.read(({ overlay }) => zk.admit(overlay, p)) });
  const proven = (i: number): Payload => ({ kind: 'call', contract: new Uint8Array(20), method: 'm', args: new Uint8Array(0), value: 0n, proofs: [mul.proofs[i]!] });

  await t.rejects(pool.add(sign(1, proven(1), 10_000_000, 10_000_000n)), { code: 'gas_limit_too_low', message: /does not cover the \d+ gas the call's 1 proof/ });
  await t.rejects(pool.add(sign(11, proven(2))), { code: 'insufficient_fee_balance' }, 'a sender who cannot pay the fee');
  t.equal(held.all, 0, 'neither reached the verifier');

  const pending = Array.from({ length: 10 }, (_, i) => pool.add(sign(i + 1, proven(i))).then(() => 'admitted', (e: MempoolError) => e.code));
  await new Promise((r) => setTimeout(r, 50));
  held.release();
  const outcomes = await Promise.all(pending);
  t.same(outcomes.filter((o) => o === 'proofs_busy').length, 2, 'two of ten arrivals found eight already verifying');
  t.same(outcomes.filter((o) => o === 'admitted').length, 8);
  t.equal(pool.counters.refused.proofs_busy, 2);
  t.equal(held.all, 8, 'only the eight were verified');
});

t.test('the pool and the inline verifier give every block the same roots, gas and receipts', async (t) => {
  const pool = new VerifierPool({ threads: 2 });
  t.teardown(() => pool.close());
  const { tx, apply } = await twoChains(t, { verifier: pool });
  const contract = contractAddress(ALICE, 0);
  const call = (args: Uint8Array, proofs?: AttachedProof[]) => tx({ kind: 'call', contract, method: 'verify', args, value: 0n, ...(proofs && { proofs }) }, 400_000_000);
  await apply([tx({ kind: 'deploy', code: VERIFIER, args: new Uint8Array(0) }), tx({ kind: 'zk_key', key: mul.key }), tx({ kind: 'zk_key', key: pos.key })]);
  const bad = (i: number) => tampered(mul.proofs[i]!);
  const rs = await apply([
    call(input(mul.proofs[10]!), mul.proofs.slice(10, 26)),
    call(input(pos.proofs[3]!), [pos.proofs[3]!, bad(30), mul.proofs[31]!]),
    call(input(bad(32))),
    call(input(pos.proofs[4]!)),
    call(input(mul.proofs[33]!), [...mul.proofs.slice(34, 40), { ...pos.proofs[5]!, keyHash: mul.hash }]),
  ]);
  t.same(rs.map((r) => [r.status, r.returnData[0]]), [[0, 1], [TxStatus.zk_refused, undefined], [0, 0], [0, 1], [TxStatus.zk_refused, undefined]]);
  t.match(rs[4]!.error, /^(wrong_signal_count|invalid_proof): proof 6: /, "a poseidon proof under the multiplier's key is refused by the rule");
  t.ok(pool.stats().verified >= 27, 'the pool verified the carried proofs');
});
