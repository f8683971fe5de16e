/**
 * The model registry end to end on a single-validator devnet (a real node on disk, in this process,
 * 10 ms block time), each figure against a baseline measured in the same run:
 *   - registrations committed per second (each with a 3-file manifest), against transfers committed
 *     per second from the same senders through the same node;
 *   - model_lineage over a 1,000-record lineage (every ancestor of the tip, pages of 500), against
 *     model_get of one record, both over HTTP;
 *   - model verify end to end on a small model (fingerprint the files, fetch model_getProof, check the
 *     commit, header and proofs, compare the manifests), against fingerprinting the files alone;
 *   - the tensor fingerprint against the file fingerprint of the same sharded safetensors files.
 * Run: npx node bench/model-registry.bench.ts
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressOf } from '../chain/address.ts';
import { toHex } from '../chain/bytes.ts';
import { keyPairFromSecret, secretKeyFromSeed, type KeyPair } from '../chain/keys.ts';
import type { ModelOp } from '../chain/model-op.ts';
import { signTransaction, type SignedTransaction } from '../chain/tx.ts';
import { compareModel, fingerprintModel } from '../models/fingerprint.ts';
import { fingerprintFiles } from '../models/files-fingerprint.ts';
import { HashPool } from '../models/hash-pool.ts';
import { encodeManifest } from '../models/manifest.ts';
import { proveModel } from '../models/light-client.ts';
import { encodeTensors, tensorFingerprint } from '../models/tensors.ts';
import { intrinsicGas } from '../execution/transaction.ts';
import { fastGenesis, rpc, startTestNode, VALIDATOR } from '../test/fixtures/node.ts';
import { registerOp } from '../test/fixtures/models.ts';
import { safetensorsBytes } from '../test/fixtures/safetensors.ts';
import { median, report } from './harness.ts';
import { broadcast, presignedTransfers } from './load.ts';

const BENCH = 'model-registry';
const SENDERS = 200;
const NONCES = 10;
const LINEAGE = 1_000;
const REPS = 15;

const genesis = fastGenesis({ chainId: 'hallmark-bench' });
const senders = Array.from({ length: SENDERS }, (_, i) => keyPairFromSecret(secretKeyFromSeed(`model-bench/${i}`)));
genesis.accounts.push(...senders.map((k) => ({ address: addressOf(k.publicKey), balance: 1n << 50n })));

function signedOp(key: KeyPair, nonce: number, op: ModelOp): SignedTransaction {
  const payload = { kind: 'model' as const, op };
  const draft = { chainId: genesis.chainId, sender: key.publicKey, nonce, fee: 0n, gasLimit: 0, payload };
  const gas = intrinsicGas(signTransaction({ ...draft, gasLimit: 50_000_000, fee: 50_000_000n }, key.secretKey).bytes.length, payload);
  return signTransaction({ ...draft, gasLimit: gas, fee: BigInt(gas) }, key.secretKey);
}

const dir = mkdtempSync(join(tmpdir(), 'hallmark-bench-models-'));
const running = await startTestNode(join(dir, 'node'), { genesis });
try {
  const url = running.rpcUrl;
  const node = running.node;
  const commitAll = async (txs: SignedTransaction[]) => {
    const t0 = performance.now();
    for (let i = 0; i < txs.length; i += 100) await broadcast(url, txs.slice(i, i + 100), 'checked');
    await node.query.waitForTx(txs[txs.length - 1]!.hash, 300_000);
    return (txs.length * 1000) / (performance.now() - t0);
  };

  // Transfers, then registrations, from the same senders.
  const transfers = presignedTransfers(genesis.chainId, senders, addressOf(senders[0]!.publicKey), 0, NONCES);
  const transferRate = await commitAll(transfers);
  report({ bench: BENCH, name: 'committed transfers (baseline)', value: transferRate, unit: 'tx/s' });
  const registrations: SignedTransaction[] = [];
  for (let n = 0; n < NONCES; n++) {
    for (const [i, k] of senders.entries()) registrations.push(signedOp(k, NONCES + n, registerOp(`bench-${i}-${n}`)));
  }
  const registerRate = await commitAll(registrations);
  const receipt = await rpc(url, 'tx_get', { hash: toHex(registrations[registrations.length - 1]!.hash) });
  if (receipt.receipt.status !== 'ok') throw new Error(`registration failed: ${JSON.stringify(receipt.receipt)}`);
  report({ bench: BENCH, name: 'committed registrations', value: registerRate, unit: 'tx/s', ratio: Number((registerRate / transferRate).toPrecision(3)), baseline: 'committed transfers' });

  // A 1,000-record lineage, from one sender, each record the child of the one before.
  const owner = senders[1]!;
  let nonce = 2 * NONCES;
  let parent: Uint8Array | undefined;
  const chain: SignedTransaction[] = [];
  for (let i = 0; i < LINEAGE; i++) {
    const op = registerOp(`lineage-${i}`, { parents: parent === undefined ? [] : [{ fingerprint: parent, relation: 'finetune' }] });
    chain.push(signedOp(owner, nonce++, op));
    parent = op.fingerprint;
  }
  for (let i = 0; i < chain.length; i += 50) await commitAll(chain.slice(i, i + 50));
  const tip = toHex(parent!);
  const walk = async () => {
    let cursor: string | null = null;
    let nodes = 0;
    do {
      const page: { nodes: unknown[]; next_cursor: string | null } = await rpc(url, 'model_lineage', { fingerprint: tip, depth: 1024, limit: 500, ...(cursor ? { cursor } : {}) });
      nodes += page.nodes.length;
      cursor = page.next_cursor;
    } while (cursor);
    if (nodes !== LINEAGE) throw new Error(`lineage walk listed ${nodes} records, not ${LINEAGE}`);
  };
  const time = async (fn: () => Promise<unknown>) => {
    const ms: number[] = [];
    await fn();
    for (let i = 0; i < REPS; i++) {
      const t0 = performance.now();
      await fn();
      ms.push(performance.now() - t0);
    }
    return median(ms);
  };
  const lineageMs = await time(walk);
  const getMs = await time(() => rpc(url, 'model_get', { fingerprint: tip }));
  report({ bench: BENCH, name: 'model_lineage, 1,000 ancestors (2 pages)', value: lineageMs, unit: 'ms', per_record_us: Number(((lineageMs * 1000) / LINEAGE).toPrecision(3)), ratio_to_model_get: Number((lineageMs / getMs).toPrecision(3)) });
  report({ bench: BENCH, name: 'model_get (baseline)', value: getMs, unit: 'ms' });

  // model verify end to end on a small model (~8 MiB of safetensors, a config), in this process.
  const small = join(dir, 'small');
  mkdirSync(small);
  const tensors = Array.from({ length: 8 }, (_, i) => ({ name: `layer.${i}.weight`, dtype: 'F32', shape: [512, 512], data: new Uint8Array(512 * 512 * 4).fill(i + 1) }));
  writeFileSync(join(small, 'model.safetensors'), safetensorsBytes(tensors));
  writeFileSync(join(small, 'config.json'), '{"hidden": 512}');
  const pool = new HashPool();
  const fp = await fingerprintModel(small, { pool });
  const reg = signedOp(owner, nonce++, {
    ...registerOp('small'), fingerprint: fp.fingerprint, manifest: encodeManifest(fp.manifest),
    tensorFingerprint: fp.tensorFingerprint, tensors: fp.tensors && encodeTensors(fp.tensors),
  });
  await commitAll([reg]);
  const height = node.executor.head!.height;
  while (node.executor.head!.height < height + 1) await new Promise((r) => setTimeout(r, 5));
  const validators = [{ address: addressOf(VALIDATOR.publicKey), publicKey: VALIDATOR.publicKey, power: genesis.validators[0]!.power }];
  const source = {
    modelProof: (f: Uint8Array) => rpc(url, 'model_getProof', { fingerprint: toHex(f) }),
    header: () => Promise.reject(new Error('unused')),
    validators: () => Promise.reject(new Error('unused')),
  };
  const verifyMs = await time(async () => {
    const local = await fingerprintModel(small, { pool });
    const proven = await proveModel(source, local.fingerprint, { kind: 'genesis', chainId: genesis.chainId, validators });
    if (!compareModel(local, proven.manifest!).same) throw new Error('verify: the files differ');
  });
  const fingerprintMs = await time(() => fingerprintModel(small, { pool }));
  report({ bench: BENCH, name: 'model verify end to end, 8 MiB model', value: verifyMs, unit: 'ms', ratio_to_fingerprint: Number((verifyMs / fingerprintMs).toPrecision(3)) });
  report({ bench: BENCH, name: 'fingerprint alone, 8 MiB model (baseline)', value: fingerprintMs, unit: 'ms' });

  // Tensor fingerprint against the file fingerprint, same files: ~256 MiB in 4 shards.
  const big = join(dir, 'big');
  mkdirSync(big);
  const files: string[] = [];
  for (let s = 0; s < 4; s++) {
    const shard = Array.from({ length: 16 }, (_, i) => ({ name: `s${s}.t${i}`, dtype: 'BF16', shape: [1024, 2048], data: new Uint8Array(1024 * 2048 * 2).fill(s * 16 + i) }));
    const name = `model-0000${s + 1}-of-00004.safetensors`;
    writeFileSync(join(big, name), safetensorsBytes(shard));
    files.push(name);
  }
  const filesMs = await time(() => fingerprintFiles(big, { pool }));
  const tensorMs = await time(() => tensorFingerprint(big, files, (job) => pool.hash(job)));
  report({ bench: BENCH, name: 'tensor fingerprint vs file fingerprint, 256 MiB safetensors', value: Number((filesMs / tensorMs).toPrecision(3)), unit: 'x', tensor_ms: tensorMs, files_ms: filesMs });
  await pool.close();
} finally {
  await running.close();
  rmSync(dir, { recursive: true, force: true });
}
