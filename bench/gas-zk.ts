/**
 * bench/gas.bench.ts's Groth16 classes (docs/zk.md's prices): the largest key registered, carried
 * proofs valid (batched by key) and invalid (each decided alone: the worst case), and
 * groth16_verify on proofs the transaction did not carry, valid and invalid. The executor runs the
 * InlineVerifier, so every proof is verified on the one thread the bench times: the prices are
 * for one verifier thread. Every block gets proofs no cache has seen: valid ones re-randomized
 * (Groth16 is malleable), invalid ones with a signal changed by the round.
 */
import { addressOf } from '../chain/address.ts';
import { concatBytes } from '../chain/bytes.ts';
import { contractAddress } from '../execution/contracts.ts';
import type { KeyPair } from '../chain/keys.ts';
import type { AttachedProof } from '../chain/tx.ts';
import { TxStatus } from '../chain/receipt.ts';
import { bn254, encodeKey, encodeProof, encodeSignals, keyHash, MAX_PUBLIC } from '../zk/groth16.ts';
import { fixtureKey, fixtureProofs, rerandomize } from '../test/fixtures/zk.ts';
import { ZK_VERIFIER } from '../test/fixtures/vm-contracts.ts';
import type { BenchChain, Case } from './gas.bench.ts';

/** Proofs a transaction carries in the carried classes (the most one may). */
const PER_TX = 16;
const TXS = 4;
/** Calls a block of the groth16_verify classes makes, one proof each. */
const CALLS = 32;

export async function zkCases(chain: BenchChain, caller: KeyPair, gas: number): Promise<Case[]> {
  const c = await bn254();
  const vk = fixtureKey('multiplier');
  const key = encodeKey(c, vk);
  const hash = keyHash(key);
  await chain.apply({ status: 0 }, [chain.tx(caller, { kind: 'zk_key', key }, gas)]);
  const verifier = contractAddress(addressOf(caller.publicKey), chain.nextNonce(caller));
  await chain.apply({ status: 0 }, [chain.tx(caller, { kind: 'deploy', code: ZK_VERIFIER, args: new Uint8Array(0) }, gas)]);
  const proofs = fixtureProofs('multiplier');
  let seed = 1n;
  const fresh = (i: number): AttachedProof => {
    const p = proofs[i % proofs.length]!;
    return { keyHash: hash, proof: encodeProof(rerandomize('multiplier', p.proof, seed++)), signals: encodeSignals(p.publicSignals) };
  };
  const tampered = (i: number): AttachedProof => {
    const p = proofs[i % proofs.length]!;
    return { keyHash: hash, proof: encodeProof(p.proof), signals: encodeSignals([String(BigInt(p.publicSignals[0]!) + seed++)]) };
  };
  const carrying = (make: (i: number) => AttachedProof) => Array.from({ length: TXS }, (_, t) =>
    chain.tx(caller, { kind: 'call', contract: new Uint8Array(20), method: 'm', args: new Uint8Array(0), value: 0n, proofs: Array.from({ length: PER_TX }, (_, i) => make(t * PER_TX + i)) }, gas));
  const direct = (make: (i: number) => AttachedProof) => Array.from({ length: CALLS }, (_, i) => {
    const p = make(i);
    return chain.tx(caller, { kind: 'call', contract: verifier, method: 'verify', args: concatBytes(p.keyHash, p.proof, p.signals), value: 0n }, gas);
  });

  // The largest key: MAX_PUBLIC signals, IC points [k]G; IC[0] differs per key so each is new.
  const g = c.G1.one;
  const point = (k: bigint) => (c.G1.toObject(c.G1.toAffine(c.G1.timesScalar(g, k))) as unknown[]).map(String);
  const ic = Array.from({ length: MAX_PUBLIC }, (_, i) => point(BigInt(i + 2)));
  let keyN = 1n;
  const bigKey = () => encodeKey(c, { ...vk, nPublic: MAX_PUBLIC, IC: [point(1_000_000n + keyN++), ...ic] });
  const KEYS = 4;

  return [
    {
      name: `zk key registration, ${MAX_PUBLIC} public signals (the largest key)`, priced: 'zk.keyByte', units: KEYS, unit: 'key',
      txs: () => Array.from({ length: KEYS }, () => chain.tx(caller, { kind: 'zk_key', key: bigKey() }, gas)), status: TxStatus.ok,
    },
    {
      name: `zk carried proofs, valid, ${PER_TX} a call (batched by key)`, priced: 'host.groth16', units: TXS * PER_TX, unit: 'proof',
      txs: () => carrying(fresh), status: TxStatus.contract_failed,
    },
    {
      name: `zk carried proofs, invalid, ${PER_TX} a call (each decided alone)`, priced: 'host.groth16', units: TXS * PER_TX, unit: 'proof',
      txs: () => carrying(tampered), status: TxStatus.zk_refused,
    },
    { name: 'groth16_verify, valid proof not carried', priced: 'host.groth16', units: CALLS, unit: 'proof', txs: () => direct(fresh), status: TxStatus.ok },
    { name: 'groth16_verify, invalid proof not carried', priced: 'host.groth16', units: CALLS, unit: 'proof', txs: () => direct(tampered), status: TxStatus.ok },
  ];
}
