/**
 * What one unit of gas costs in time, for every kind of work a block can be filled with, each in
 * its worst realistic conditions, measured end to end: every figure is whole blocks through
 * Executor.applyBlock (checks, execution, tree.prepare and the LevelDB batch), so state writes pay
 * their commit. `npx node bench/gas.bench.ts [name-filter]`.
 *
 * The reference is plain instructions in the slowest tier: `loop br`, a loop whose blocks cost 1
 * gas each (the most metering per instruction), in Liftoff, the tier a freshly deployed contract
 * runs in (a call never leaves it mid-call). Every class runs in a --liftoff-only child and is
 * reported in ns per gas and as a ratio to the reference; the instruction classes run again in a
 * --no-liftoff (TurboFan) child. The reference is measured between the other classes too, and its
 * median taken, so a shared machine's load weighs on both sides of each ratio.
 *
 * Worst conditions: a tree node cache too small for the state (COLD_CACHE_NODES); signers, keys and
 * callees never seen before (no signature, key or compiled-module cache hit); callees that fail, so
 * every call makes a new instance. Gas is what the receipts charged, except for transactions that
 * fail before they run (`declared`): a block is capped by the gas its transactions declare, so
 * that is what their time is weighed against. The summary gives the worst class and a full
 * block's time at candidate max_gas values.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addressOf } from '../chain/address.ts';
import { concatBytes as cat } from '../chain/bytes.ts';
import { keyPairFromSecret, secretKeyFromSeed, sign, type KeyPair } from '../chain/keys.ts';
import { signTransaction, type Payload } from '../chain/tx.ts';
import { contractAddress } from '../execution/contracts.ts';
import type { Executor } from '../execution/executor.ts';
import { intrinsicGas } from '../execution/transaction.ts';
import { sha256 } from '../chain/hash.ts';
import { MODEL_LIMITS, type RegisterModel } from '../chain/model-op.ts';
import { encodeManifest, manifestRoot, type ManifestEntry } from '../models/manifest.ts';
import { registerOp } from '../test/fixtures/models.ts';
import { GAS, LIMITS } from '../vm/limits.ts';
import { CHAIN_ID, nextBlock, openChain, testGenesis } from '../test/fixtures/chain.ts';
import { callee, DATA_ROOM, heaviestDeploy, WORKLOADS } from './gas-workloads.ts';
import { report } from './harness.ts';
import { zkCases } from './gas-zk.ts';

const BENCH = 'gas';
const SELF = fileURLToPath(import.meta.url);
/** Storage keys written before the storage classes run. */
const STATE_KEYS = 100_000;
/**
 * The tree's node (and leaf) cache while measuring: over STATE_KEYS keys it holds the top three
 * levels and a few bottom nodes, so a random key costs a LevelDB read of its bottom node and one
 * of its leaf, as it would in a state of ~10^7 keys with the default cache of 100,000 nodes.
 */
const COLD_CACHE_NODES = 1000;
/** The module cache size in the bench: CALLEES callees called in turn always miss it. */
const CALLEE_CACHE = 4;
const CALLEES = 6;
/** Blocks measured per class; the median block is reported. */
const ROUNDS = 3;
/** Transactions a block in the per-transaction classes. */
const TXS = 500;
/** Files in the large manifest, and model registrations of that size a block. */
const MANIFEST_FILES = 6500;
const MANIFEST_TXS = 2;
/** Registrations a block naming every parent. */
const PARENT_TXS = 100;
/**
 * New signers one round of the classes takes (every `fresh.take`): calls, transfers and the two
 * refused kinds (4 x TXS), the 1 MiB transactions (3), and the model classes' registrations and
 * attestations (2 x TXS, PARENT_TXS and MANIFEST_TXS). They are funded in genesis, so counted here.
 */
const FRESH_PER_ROUND = 4 * TXS + 3 + 2 * TXS + PARENT_TXS + MANIFEST_TXS;
/** The reference is measured again after this many classes. */
const REFERENCE_EVERY = 8;
const MAX_GAS_CANDIDATES = [100_000_000, 250_000_000, 500_000_000, 1_000_000_000];
const REFERENCE = 'instructions: `loop br`, 1 gas a block (reference)';

interface Sample {
  name: string;
  /** The price in vm/limits.ts or execution/executor.ts this class mostly pays. */
  priced: string;
  tier: string;
  nsPerGas: number;
  gasPerBlock: number;
  msPerBlock: number;
  /** Time per unit of work (a key, a byte, a call...), with what the unit is. */
  usPerUnit: number;
  unit: string;
  gasPerUnit: number;
}

// ---- the child: runs the classes in one V8 tier ----------------------------------------------------

export interface Case {
  name: string;
  priced: string;
  /** Work units per block and what one is. */
  units: number;
  unit: string;
  /** The block's transactions (signed before the clock starts). */
  txs: (round: number) => Uint8Array[];
  /** Receipt status every transaction must end with (0 ok; undefined: any). */
  status?: number;
  /** Weigh the time against the gas the transactions declare, not what they used. */
  declared?: boolean;
}

const u32s = (...ns: number[]) => new Uint8Array(new Uint32Array(ns).buffer);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** The largest power of two at most `n`. */
const pow2 = (n: number) => 2 ** Math.floor(Math.log2(n));

interface Run {
  ms: number;
  gas: number;
}

export class BenchChain {
  readonly executor: Executor;
  readonly #nonces = new Map<KeyPair, number>();

  constructor(executor: Executor) {
    this.executor = executor;
  }

  /** The nonce `who`'s next transaction gets. */
  nextNonce(who: KeyPair): number {
    return this.#nonces.get(who) ?? 0;
  }

  tx(who: KeyPair, payload: Payload, gasLimit: number, nonce?: number): Uint8Array {
    const next = this.#nonces.get(who) ?? 0;
    if (nonce === undefined) this.#nonces.set(who, next + 1);
    return signTransaction({ chainId: CHAIN_ID, sender: who.publicKey, nonce: nonce ?? next, fee: 1n, gasLimit, payload }, who.secretKey).bytes;
  }

  async apply(c: Pick<Case, 'status' | 'declared'>, txs: Uint8Array[]): Promise<Run> {
    const block = nextBlock(this.executor, txs);
    const t0 = performance.now();
    const applied = await this.executor.applyBlock(block);
    const ms = performance.now() - t0;
    const bad = applied.receipts.find((r) => c.status !== undefined && r.status !== c.status);
    if (bad !== undefined) throw new Error(`expected status ${c.status}, got ${bad.status}: ${bad.error}`);
    const gas = c.declared === true ? txs.reduce((n, raw) => n + declaredGas(raw), 0) : applied.receipts.reduce((n, r) => n + r.gasUsed, 0);
    return { ms, gas };
  }
}

const declaredGasOf = new Map<Uint8Array, number>();
const declaredGas = (raw: Uint8Array) => declaredGasOf.get(raw)!;

async function child(tier: string, filter: string | undefined): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hallmark-gas-bench-'));
  try {
    const fresh = signers('fresh', ROUNDS * FRESH_PER_ROUND);
    const [deployer, caller] = [keyPairFromSecret(secretKeyFromSeed('gas/deployer')), keyPairFromSecret(secretKeyFromSeed('gas/caller'))];
    {
      // The state the classes run on, written with the default caches, then reopened cold.
      const { db, executor } = await openChain(join(dir, 'chain'));
      await executor.initGenesis(testGenesis([deployer!, caller!, ...fresh.all], 10n ** 15n));
      await db.close();
    }
    const { db, executor } = await openChain(join(dir, 'chain'), { cacheNodes: COLD_CACHE_NODES }, { contracts: { cacheSize: CALLEE_CACHE } });
    const chain = new BenchChain(executor);
    const cases = await setup(chain, deployer!, caller!, fresh, tier);
    const reference = cases.find((c) => c.name === REFERENCE)!;
    const refRuns: Run[] = [];
    const measure = async (c: Case): Promise<Run[]> => {
      const runs: Run[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        runs.push(await chain.apply(c, c.txs(r)).catch((err: Error) => {
          throw new Error(`${c.name}: ${err.message}`);
        }));
      }
      return runs;
    };
    const emit = (c: Case, runs: Run[]) => {
      const perGas = (x: Run) => (x.ms * 1e6) / x.gas;
      const run = runs.find((x) => perGas(x) === median(runs.map(perGas)))!;
      const sample: Sample = {
        name: c.name, priced: c.priced, tier, nsPerGas: perGas(run), gasPerBlock: run.gas, msPerBlock: run.ms,
        usPerUnit: (run.ms * 1000) / c.units, unit: c.unit, gasPerUnit: run.gas / c.units,
      };
      process.stdout.write(JSON.stringify(sample) + '\n');
    };
    let since = 0;
    for (const c of cases) {
      if (c === reference || (filter !== undefined && !c.name.includes(filter))) continue;
      if (since++ % REFERENCE_EVERY === 0) refRuns.push(...(await measure(reference)));
      emit(c, await measure(c));
    }
    refRuns.push(...(await measure(reference)));
    emit(reference, refRuns);
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function signers(label: string, n: number): { all: KeyPair[]; take: (k: number) => KeyPair[] } {
  const all = Array.from({ length: n }, (_, i) => keyPairFromSecret(secretKeyFromSeed(`gas/${label}/${i}`)));
  let next = 0;
  return {
    all,
    take: (k) => {
      if (next + k > all.length) throw new Error(`only ${all.length} ${label} signers (FRESH_PER_ROUND counts what the classes take)`);
      next += k;
      return all.slice(next - k, next);
    },
  };
}

/** Deploys the contracts, writes the state, and returns the classes to measure. */
async function setup(chain: BenchChain, deployer: KeyPair, caller: KeyPair, fresh: ReturnType<typeof signers>, tier: string): Promise<Case[]> {
  const BIG = 2 ** 40;
  const deploy = (code: Uint8Array) => chain.tx(deployer, { kind: 'deploy', code, args: new Uint8Array(0) }, BIG);
  const deployed: Uint8Array[] = [];
  const deployAll = async (codes: Uint8Array[]) => {
    for (const code of codes) {
      deployed.push(contractAddress(addressOf(deployer.publicKey), deployed.length));
      await chain.apply({ status: 0 }, [deploy(code)]);
    }
    return deployed.slice(-codes.length);
  };
  const [workloads] = await deployAll([WORKLOADS]);
  const call = (method: string, args: Uint8Array, gasLimit = BIG, at = workloads!) =>
    chain.tx(caller, { kind: 'call', contract: at, method, args, value: 0n }, gasLimit);
  const plain: Case[] = [
    { name: REFERENCE, priced: 'op', units: 1e8, unit: 'instruction', txs: () => [call('spin', u32s(), 1e8)] },
    { name: 'instructions: xorshift loop, 23 gas a block', priced: 'op', units: 5e6 * 23, unit: 'instruction', txs: () => [call('loop', u32s(5e6))], status: 0 },
    { name: 'instructions: dependent i64.div_u', priced: 'op', units: 2e6, unit: 'iteration', txs: () => [call('div', u32s(2e6))], status: 0 },
    { name: `instructions: dependent loads over ${LIMITS.maxMemoryPages} pages`, priced: 'op', units: 2e6, unit: 'iteration', txs: () => [call('chase', u32s(2e6))], status: 0 },
    { name: 'instructions: calls with 32 parameters', priced: 'op', units: 1e6, unit: 'call', txs: () => [call('calls', u32s(1e6))], status: 0 },
    { name: 'instructions: calls of a function with 512 locals', priced: 'op', units: 1e6, unit: 'call', txs: () => [call('locals', u32s(1e6))], status: 0 },
    { name: 'instructions: call_indirect', priced: 'op', units: 3e6, unit: 'call', txs: () => [call('indirect', u32s(3e6))], status: 0 },
    { name: 'instructions: recursion 2,000 deep', priced: 'op', units: 200 * 2000, unit: 'frame', txs: () => [call('recurse', u32s(200, 2000))], status: 0 },
  ];
  if (tier !== 'liftoff') return plain;

  const pages = [...new Set([1, 16, LIMITS.maxMemoryPages])].filter((p) => p <= LIMITS.maxMemoryPages);
  const byPages = await deployAll(pages.map((p) => callee(p, 0)));
  const heavy = await deployAll(Array.from({ length: CALLEES }, (_, i) => callee(LIMITS.maxMemoryPages, 1 + i, 200 * 1024)));
  // The state: STATE_KEYS keys of 32-byte values, 5,000 a transaction.
  for (let start = 0; start < STATE_KEYS; start += 20_000) {
    await chain.apply({ status: 0 }, Array.from({ length: 4 }, (_, j) => call('write', u32s(5000, start + j * 5000, 32))));
  }
  // Registered models that the model classes name as parents (16 each: the most a record has).
  const parents = Array.from({ length: MODEL_LIMITS.parents }, (_, i) => registerOp(`gas-parent-${i}`));
  await chain.apply({ status: 0 }, parents.map((op) => chain.tx(deployer, { kind: 'model', op }, BIG)));
  let overwriteFrom = 0;
  let removeFrom = STATE_KEYS / 2;
  let newFrom = 1 << 24;
  const newKeys = (n: number) => (newFrom += n) - n;
  const ed = edInputs();
  /** xcall's input: n calls of `method` (0 nop, 1 boom, 2 grow) of `list` in turn, forwarding `gas` each. */
  const xcall = (n: number, method: 0 | 1 | 2, list: Uint8Array[], gas = 2 ** 32 - 1) => cat(u32s(n, method, gas, list.length), ...list);
  // A failing callee burns what it is given: the least that gets it a new instance is the cheapest.
  const instanceGas = (pages: number) => GAS.memoryPage * pages + GAS.frame + 100;
  /** A transaction declaring its intrinsic gas less `below` (its size depends on what it declares). */
  const sized = (k: KeyPair, payload: Payload, below: number, nonce?: number) => {
    let gas = 0;
    for (let i = 0; i < 8; i++) {
      const need = intrinsicGas(chain.tx(k, payload, gas, 0).length, payload);
      if (need === gas) break;
      gas = need;
    }
    const raw = chain.tx(k, payload, gas - below, nonce);
    declaredGasOf.set(raw, gas - below);
    return raw;
  };
  const half = pow2(DATA_ROOM / 2);
  const maxArgs = (1 << 20) - 512;
  const nothing = { kind: 'transfer' as const, to: new Uint8Array(20), amount: 1n };
  return [
    ...plain,
    { name: 'memory.fill, 1 byte', priced: 'bulkByte', units: 3e6, unit: 'fill', txs: () => [call('fill', u32s(3e6, 1))], status: 0 },
    { name: `memory.fill, ${half} bytes`, priced: 'bulkByte', units: 2 ** 29, unit: 'byte', txs: () => [call('fill', u32s(2 ** 29 / half, half))], status: 0 },
    { name: `memory.copy, ${half} bytes`, priced: 'bulkByte', units: 2 ** 29, unit: 'byte', txs: () => [call('copy', u32s(2 ** 29 / half, half))], status: 0 },
    { name: 'gas_left, a host call doing nothing', priced: 'host.base', units: 1e6, unit: 'call', txs: () => [call('hostcall', u32s(1e6))], status: 0 },
    { name: 'storage_read, cold existing key', priced: 'host.storageRead', units: 5000, unit: 'key', txs: (r) => [call('read', u32s(5000, 0, 7919 + r * 2, STATE_KEYS))], status: 0 },
    { name: 'storage_read, missing key', priced: 'host.storageRead', units: 5000, unit: 'key', txs: (r) => [call('read', u32s(5000, 1 << 30, 7919 + r * 2, 1 << 30))], status: 0 },
    { name: 'storage_write, new key, 32-byte value', priced: 'host.storageWrite', units: 5000, unit: 'key', txs: () => [call('write', u32s(5000, newKeys(5000), 32))], status: 0 },
    { name: 'storage_write, new key, 64 KiB value', priced: 'host.storageByte', units: 150 * 65_536, unit: 'byte', txs: () => [call('write', u32s(150, newKeys(150), 65_536))], status: 0 },
    { name: 'storage_write, overwrite a cold key', priced: 'host.storageWrite', units: 5000, unit: 'key', txs: () => [call('write', u32s(5000, (overwriteFrom += 5000) - 5000, 40))], status: 0 },
    { name: 'storage_remove, cold key', priced: 'host.storageRemove', units: 5000, unit: 'key', txs: () => [call('remove', u32s(5000, (removeFrom += 5000) - 5000))], status: 0 },
    { name: 'storage_next, committed keys', priced: 'host.storageNext', units: 2000, unit: 'step', txs: () => [call('next', u32s(2000))], status: 0 },
    {
      name: 'storage_next, 2,000 keys written earlier in the block', priced: 'host.storageNext', units: 2000, unit: 'step',
      txs: () => [call('write', u32s(2000, newKeys(2000), 32)), call('next', u32s(2000))], status: 0,
    },
    { name: 'emit, 4 topics and no data', priced: 'host.emit', units: 20_000, unit: 'event', txs: () => [call('emit', u32s(20_000, 4, 0))], status: 0 },
    { name: `emit, ${half} bytes of data`, priced: 'host.emitByte', units: 2 ** 23, unit: 'byte', txs: () => [call('emit', u32s(2 ** 23 / half, 0, half))], status: 0 },
    { name: 'sha256, 32 bytes', priced: 'host.sha256', units: 100_000, unit: 'hash', txs: () => [call('sha256', u32s(100_000, 32))], status: 0 },
    { name: `sha256, ${half} bytes`, priced: 'host.byte', units: 2 ** 28, unit: 'byte', txs: () => [call('sha256', u32s(2 ** 28 / half, half))], status: 0 },
    { name: 'ed25519_verify, valid, new keys', priced: 'host.ed25519Verify', units: ed.n, unit: 'verify', txs: (r) => [call('verify', ed.valid(r))], status: 0 },
    { name: 'ed25519_verify, invalid, new keys', priced: 'host.ed25519Verify', units: ed.n, unit: 'verify', txs: (r) => [call('verify', ed.invalid(r))], status: 0 },
    { name: 'ed25519_verify, small-order non-canonical key', priced: 'host.ed25519Verify', units: ed.n, unit: 'verify', txs: () => [call('verify', ed.smallOrder())], status: 0 },
    ...pages.flatMap((p, i): Case[] => {
      const [warm, failing] = [Math.max(20, Math.floor(4000 / p)), Math.max(10, Math.floor(1000 / p))];
      return [
        { name: `call, warm callee with ${p} pages of memory`, priced: 'host.call', units: warm, unit: 'call', txs: () => [call('xcall', xcall(warm, 0, [byPages[i]!]))], status: 0 },
        { name: `call, failing callee with ${p} pages of memory (a new instance each call)`, priced: 'host.call', units: failing, unit: 'call', txs: () => [call('xcall', xcall(failing, 1, [byPages[i]!], instanceGas(p)))], status: 0 },
      ];
    }),
    {
      name: `call, callee growing from 1 to ${LIMITS.maxMemoryPages} pages and touching every 4 KiB`, priced: 'memoryGrowPage', units: 200 * (LIMITS.maxMemoryPages - 1), unit: 'page',
      txs: () => [call('xcall', xcall(200, 2, [byPages[0]!]))], status: 0,
    },
    { name: `call, ${CALLEES} callees of ${LIMITS.maxMemoryPages} pages and 200 KiB code in turn (module cache misses)`, priced: 'host.call', units: 2 * CALLEES, unit: 'call', txs: () => [call('xcall', xcall(2 * CALLEES, 0, heavy))], status: 0 },
    { name: 'input_read, 256 KiB input', priced: 'host.byte', units: 400 * 2 ** 18, unit: 'byte', txs: () => [call('input', cat(u32s(400), new Uint8Array(2 ** 18 - 4)))], status: 0 },
    { name: `return_data, ${DATA_ROOM} bytes`, priced: 'host.byte', units: 8 * DATA_ROOM, unit: 'byte', txs: () => Array.from({ length: 8 }, () => call('ret', u32s(1, DATA_ROOM))), status: 0 },
    { name: 'debug_log, 1 KiB lines (off)', priced: 'host.byte', units: 20_000, unit: 'line', txs: () => [call('log', u32s(20_000, 1024))], status: 0 },
    { name: `deploy, ${LIMITS.maxCodeBytes}-byte module`, priced: 'deployByte', units: LIMITS.maxCodeBytes, unit: 'byte', txs: (r) => [deploy(heaviestDeploy(1000 + r, LIMITS.maxCodeBytes))], status: 0 },
    {
      name: 'call tx of a method doing nothing, new signers', priced: 'callBase', units: TXS, unit: 'tx',
      txs: () => fresh.take(TXS).map((k) => chain.tx(k, { kind: 'call', contract: workloads!, method: 'nop', args: new Uint8Array(0), value: 0n }, BIG)),
      status: 0,
    },
    {
      name: 'transfer to a new account, new signers', priced: 'txBase+transfer', units: TXS, unit: 'tx',
      txs: () => fresh.take(TXS).map((k) => chain.tx(k, { kind: 'transfer', to: cat(u32s(newKeys(1)), new Uint8Array(16)), amount: 1n }, BIG)),
      status: 0,
    },
    {
      name: 'tx out of gas before it runs (gas limit just below its intrinsic gas), new signers', priced: 'txBase', units: TXS, unit: 'tx',
      txs: () => fresh.take(TXS).map((k) => sized(k, nothing, 1)), status: 6, declared: true,
    },
    {
      name: 'tx with a wrong nonce (declaring its intrinsic gas), new signers', priced: 'txBase', units: TXS, unit: 'tx',
      txs: () => fresh.take(TXS).map((k) => sized(k, nothing, 0, 1)), status: 3, declared: true,
    },
    ...modelCases(chain, fresh, BIG, parents),
    ...(await zkCases(chain, caller, BIG)),
    {
      name: 'tx of 1 MiB (a call to no contract)', priced: 'txByte', units: 3 * maxArgs, unit: 'byte',
      txs: () => fresh.take(3).map((k) => chain.tx(k, { kind: 'call', contract: new Uint8Array(20), method: 'm', args: new Uint8Array(maxArgs), value: 0n }, BIG)),
      status: 8,
    },
  ];
}

/**
 * The model registry's operations (execution/models.ts MODEL_GAS), by new signers: a registration
 * with a small manifest, one naming 16 cold parents, one carrying a manifest as large as a
 * transaction holds (what the per-byte price is for: decoding it and hashing its Merkle root), and
 * an attestation.
 */
function modelCases(chain: BenchChain, fresh: ReturnType<typeof signers>, gas: number, parents: RegisterModel[]): Case[] {
  let n = 0;
  const register = (k: KeyPair, extra: Partial<RegisterModel> = {}) =>
    chain.tx(k, { kind: 'model', op: registerOp(`gas-model-${n++}`, extra) }, gas);
  const bigManifest = (files: number) => {
    const label = `gas-big-${n++}`;
    const entries: ManifestEntry[] = Array.from({ length: files }, (_, i) => ({
      path: `shards/${label}/part-${String(i).padStart(6, '0')}.bin`, size: 1000 + i, digest: sha256(u32s(n, i)), algorithm: 'sha256',
    }));
    return { fingerprint: manifestRoot(entries), manifest: encodeManifest(entries) };
  };
  return [
    { name: 'model register, 2-file manifest, new signers', priced: 'model.register', units: TXS, unit: 'tx', txs: () => fresh.take(TXS).map((k) => register(k)), status: 0 },
    {
      name: `model register naming ${parents.length} cold parents, new signers`, priced: 'model.perParent', units: PARENT_TXS * parents.length, unit: 'parent',
      txs: () => fresh.take(PARENT_TXS).map((k) => register(k, { parents: parents.map((p) => ({ fingerprint: p.fingerprint, relation: 'merge' as const })) })), status: 0,
    },
    {
      name: `model register with a ${MANIFEST_FILES}-file manifest`, priced: 'model.manifestByte', units: MANIFEST_TXS, unit: 'tx',
      txs: () => fresh.take(MANIFEST_TXS).map((k) => register(k, bigManifest(MANIFEST_FILES))), status: 0,
    },
    {
      name: 'model attest, new signers', priced: 'model.attest', units: TXS, unit: 'tx',
      txs: () => fresh.take(TXS).map((k) => chain.tx(k, { kind: 'model', op: { op: 'attest', fingerprint: parents[0]!.fingerprint, kind: 'eval', value: 'ok', digest: null, uri: null } }, gas)),
      status: 0,
    },
  ];
}

/** ed25519_verify inputs: [n, message, n x (key, signature)], with keys never seen before. */
function edInputs() {
  const n = 300;
  const message = new Uint8Array(32).fill(7);
  const build = (label: string, bad: boolean) => {
    const items = Array.from({ length: n }, (_, i) => {
      const sk = secretKeyFromSeed(`gas/ed/${label}/${i}`);
      const sig = sign(sk, message);
      if (bad) sig[0]! ^= 1;
      return cat(keyPairFromSecret(sk).publicKey, sig);
    });
    return cat(u32s(n), message, ...items);
  };
  // y = p + 1, a non-canonical encoding of the identity (small order); R the base point, S < L.
  const identity = Uint8Array.from([0xee, ...new Array(30).fill(0xff), 0x7f]);
  const base = Uint8Array.from([0x58, ...new Array(31).fill(0x66)]);
  const smallOrder = cat(u32s(n), message, ...Array.from({ length: n }, () => cat(identity, base, new Uint8Array(32).fill(1))));
  return { n, valid: (r: number) => build(`valid-${r}`, false), invalid: (r: number) => build(`invalid-${r}`, true), smallOrder: () => smallOrder };
}

// ---- the parent: runs the children, reports ratios and the full-block figures ----------------------

function runChild(tier: string, flags: string[], filter: string | undefined): Sample[] {
  const r = spawnSync(process.execPath, [...flags, SELF, '--child', tier, ...(filter ? [filter] : [])], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`the ${tier} child exited with ${r.status ?? r.signal}`);
  return r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Sample);
}

function parent(filter: string | undefined): void {
  const liftoff = runChild('liftoff', ['--liftoff-only'], filter);
  const turbofan = runChild('turbofan', ['--no-liftoff'], filter ?? 'instructions');
  const ref = liftoff.find((s) => s.name === REFERENCE)!;
  const all = [...liftoff, ...turbofan];
  for (const s of all) {
    report({
      bench: BENCH, name: `${s.name} [${s.tier}]`, value: s.nsPerGas, unit: 'ns/gas', ratio: s.nsPerGas / ref.nsPerGas, priced: s.priced,
      us_per_unit: s.usPerUnit, per: s.unit, gas_per_unit: s.gasPerUnit, gas_at_reference: (s.usPerUnit * 1000) / ref.nsPerGas,
      ms_per_block: s.msPerBlock, gas_per_block: s.gasPerBlock,
    });
  }
  const worst = all.reduce((a, b) => (b.nsPerGas > a.nsPerGas ? b : a));
  report({ bench: BENCH, name: `worst class / reference: ${worst.name} [${worst.tier}]`, value: worst.nsPerGas / ref.nsPerGas, unit: 'ratio', goal: 2, goal_op: '<=' });
  const transfer = liftoff.find((s) => s.name.startsWith('transfer'));
  for (const maxGas of MAX_GAS_CANDIDATES) {
    report({
      bench: BENCH, name: `full block of the worst class at max_gas ${maxGas}`, value: (maxGas * worst.nsPerGas) / 1e6, unit: 'ms',
      reference_ms: (maxGas * ref.nsPerGas) / 1e6, ...(transfer && { transfers_per_block: Math.floor(maxGas / transfer.gasPerUnit) }),
    });
  }
}

const [mode, tier, childFilter] = process.argv.slice(2);
if (mode === '--child') await child(tier!, childFilter);
else parent(mode);
