/**
 * Blocks carrying Groth16 proofs through Executor.applyBlock, the whole block timed (checks,
 * pre-verification, execution, commit), in one run:
 *   - carried proofs, pre-verified by the executor in batches on the VerifierPool (all threads);
 *   - the same on the InlineVerifier (batches on the node's own thread: what `verifier_threads = 0` does);
 *   - the same proofs not carried but passed to groth16_verify by a contract, one at a time, on the pool.
 * Every block has PROOFS transactions of one fresh proof each (re-randomized: no cache has seen
 * them). Reported: proofs per second of block time, the pool's speed-up over inline, and the event
 * loop's worst delay while each kind of block ran (what consensus timers and RPC would wait).
 * Issue 15's goal: the event loop that runs consensus never blocked more than 20 ms by
 * verification. `npx node bench/zk-block.bench.ts`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { addressOf } from '../chain/address.ts';
import { concatBytes } from '../chain/bytes.ts';
import { keyPairFromSecret, secretKeyFromSeed } from '../chain/keys.ts';
import { TxStatus } from '../chain/receipt.ts';
import { signTransaction, type AttachedProof, type Payload } from '../chain/tx.ts';
import { contractAddress } from '../execution/contracts.ts';
import { encodeProof, encodeSignals, InlineVerifier, type Verifier } from '../zk/groth16.ts';
import { VerifierPool } from '../zk/pool.ts';
import { CHAIN_ID, nextBlock, openChain, testGenesis } from '../test/fixtures/chain.ts';
import { ZK_VERIFIER } from '../test/fixtures/vm-contracts.ts';
import { fixtureProofs, rerandomize, zkFixture } from '../test/fixtures/zk.ts';
import { median, report } from './harness.ts';

const BENCH = 'zk-block';
const PROOFS = 64;
const ROUNDS = 5;
const GAS = 40_000_000;

const { key, hash } = zkFixture('multiplier');
const proofs = fixtureProofs('multiplier');
let seed = 1n;
const fresh = (i: number): AttachedProof => {
  const p = proofs[i % proofs.length]!;
  return { keyHash: hash, proof: encodeProof(rerandomize('multiplier', p.proof, seed++)), signals: encodeSignals(p.publicSignals) };
};

interface Mode {
  name: string;
  verifier: () => Verifier;
  carried: boolean;
}

async function measure(mode: Mode): Promise<{ proofsPerSecond: number; maxLagMs: number; p99LagMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'hallmark-zk-block-'));
  const verifier = mode.verifier();
  try {
    const user = keyPairFromSecret(secretKeyFromSeed('zk-block/user'));
    const { db, executor } = await openChain(join(dir, 'chain'), undefined, { verifier });
    await executor.initGenesis(testGenesis([user], 10n ** 15n));
    let nonce = 0;
    const tx = (payload: Payload) => signTransaction({ chainId: CHAIN_ID, sender: user.publicKey, nonce: nonce++, fee: 1n, gasLimit: GAS, payload }, user.secretKey).bytes;
    await executor.applyBlock(nextBlock(executor, [tx({ kind: 'zk_key', key }), tx({ kind: 'deploy', code: ZK_VERIFIER, args: new Uint8Array(0) })]));
    const verifierAt = contractAddress(addressOf(user.publicKey), 1);
    // Every block's transactions are signed (and their proofs made) before any is measured.
    const txs = Array.from({ length: ROUNDS + 1 }, () => Array.from({ length: PROOFS }, (_, i) => {
      const p = fresh(i);
      const args = concatBytes(p.keyHash, p.proof, p.signals);
      return tx({ kind: 'call', contract: verifierAt, method: 'verify', args, value: 0n, ...(mode.carried && { proofs: [p] }) });
    }));
    await executor.applyBlock(nextBlock(executor, txs[ROUNDS]!)); // warm: workers started, key prepared, code compiled
    const ms: number[] = [];
    const lag = monitorEventLoopDelay({ resolution: 1 });
    for (let r = 0; r < ROUNDS; r++) {
      const b = nextBlock(executor, txs[r]!);
      lag.enable();
      const t0 = performance.now();
      const applied = await executor.applyBlock(b);
      ms.push(performance.now() - t0);
      lag.disable();
      const bad = applied.receipts.find((x) => x.status !== TxStatus.ok || x.returnData[0] !== 1);
      if (bad !== undefined) throw new Error(`${mode.name}: a proof was not accepted: ${bad.status} ${bad.error}`);
    }
    await db.close();
    return { proofsPerSecond: (PROOFS * 1000) / median(ms), maxLagMs: lag.max / 1e6, p99LagMs: lag.percentile(99) / 1e6 };
  } finally {
    await verifier.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const modes: Mode[] = [
  { name: 'carried, pre-verified on the pool', verifier: () => new VerifierPool(), carried: true },
  { name: 'carried, pre-verified inline', verifier: () => new InlineVerifier(), carried: true },
  { name: 'not carried: groth16_verify one at a time on the pool', verifier: () => new VerifierPool(), carried: false },
];
const got = new Map<string, Awaited<ReturnType<typeof measure>>>();
for (const mode of modes) {
  const r = await measure(mode);
  got.set(mode.name, r);
  report({ bench: BENCH, name: `block of ${PROOFS} proofs: ${mode.name}`, value: r.proofsPerSecond, unit: 'proofs/s' });
  const lagGoal = mode.name.includes('pool') ? { goal: 20, goal_op: '<=' } : {};
  report({ bench: BENCH, name: `event loop delay while it ran (max): ${mode.name}`, value: r.maxLagMs, unit: 'ms', p99_ms: r.p99LagMs, ...lagGoal });
}
const pool = got.get(modes[0]!.name)!;
report({ bench: BENCH, name: 'pre-verified on the pool / inline (block time)', value: pool.proofsPerSecond / got.get(modes[1]!.name)!.proofsPerSecond, unit: 'x' });
report({ bench: BENCH, name: 'carried / not carried (block time, both on the pool)', value: pool.proofsPerSecond / got.get(modes[2]!.name)!.proofsPerSecond, unit: 'x' });
