/**
 * The contract VM (`npx node bench/vm.bench.ts`):
 *   - metered against unmetered V8 on three kernels: an integer loop, FNV-1a over 64 KiB of
 *     memory, and naive recursive fib (goals: <= 1.3x on loops, <= 1.5x on calls); the same
 *     module instantiated as written and as instrumented, results checked equal;
 *   - the same counting loop in @ethereumjs/evm against our metered WebAssembly;
 *   - a trivial method through runCall (instance, host functions, JSPI): calls per second;
 *   - a long loop through runCall in slices of the default yield interval (a turn of the event
 *     loop between slices) against one slice (goal: <= 1.05x);
 *   - token transfers through the executor, in blocks of 1,000, against plain transfers.
 */
import { createEVM } from '@ethereumjs/evm';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressOf } from '../chain/address.ts';
import { keyPairFromSecret, secretKeyFromSeed } from '../chain/keys.ts';
import { signTransaction } from '../chain/tx.ts';
import { buildContracts } from '../contracts/build.ts';
import { contractAddress } from '../execution/contracts.ts';
import { encodeValues } from '../vm/abi.ts';
import { prepareCode } from '../vm/code.ts';
import { HOST_MODULE, IMPORT_REFUEL } from '../vm/host-abi.ts';
import { DEFAULT_YIELD_INTERVAL, runCall } from '../vm/runtime.ts';
import { CHAIN_ID, nextBlock, openChain, testGenesis } from '../test/fixtures/chain.ts';
import { addr, MemoryEnv, wat } from '../test/fixtures/vm.ts';
import { STORE } from '../test/fixtures/vm-contracts.ts';
import { report } from './harness.ts';

const BENCH = 'vm';

const KERNELS = wat(`(module
  (memory (export "memory") 1 1)
  (func (export "loop") (param $n i32) (result i32) (local $x i32)
    (local.set $x (i32.const 1))
    (loop $l
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
      (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $x))
  (func (export "hash") (param $rounds i32) (result i32) (local $h i32) (local $i i32)
    (local.set $h (i32.const 0x811c9dc5))
    (loop $r
      (local.set $i (i32.const 0))
      (loop $b
        (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (local.get $i))) (i32.const 0x01000193)))
        (i32.store8 (local.get $i) (local.get $h))
        (br_if $b (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 65536))))
      (br_if $r (local.tee $rounds (i32.sub (local.get $rounds) (i32.const 1)))))
    (local.get $h))
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1))) (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "countdown") (param $n i32)
    (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
)`);

type Kernel = (n: number) => number;
// The metered kernels get more gas than they use, so the slice never runs out.
const refuel = { [HOST_MODULE]: { [IMPORT_REFUEL]: () => { throw new Error('the bench kernels ran out of gas'); } } };
function instance(bytes: Uint8Array, metered: boolean): Record<string, Kernel> {
  const x = new WebAssembly.Instance(new WebAssembly.Module(bytes), metered ? refuel : {}).exports;
  const k: Record<string, Kernel> = {};
  for (const name of ['loop', 'hash', 'fib', 'countdown']) {
    const f = x[name] as Kernel;
    k[name] = metered
      ? (n) => {
        (x.__hallmark_gas as WebAssembly.Global).value = 1n << 62n;
        (x.__hallmark_stack as WebAssembly.Global).value = 0;
        return f(n);
      }
      : f;
  }
  return k;
}

const median = (ms: number[]) => ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)]!;

/**
 * Median ms of each function over `samples` rounds after `warm`, the functions taking turns in
 * every round, so a baseline and what is compared with it see the same load on a shared machine.
 */
function timeTogether(fs: (() => unknown)[], samples = 15, warm = 3): number[] {
  for (let i = 0; i < warm; i++) for (const f of fs) f();
  const ms = fs.map((): number[] => []);
  for (let i = 0; i < samples; i++) {
    for (const [k, f] of fs.entries()) {
      const t0 = performance.now();
      f();
      ms[k]!.push(performance.now() - t0);
    }
  }
  return ms.map(median);
}

const plain = instance(KERNELS, false);
const metered = instance(prepareCode(KERNELS).instrumented, true);
const runs: [string, string, number, number][] = [
  ['loop kernel (xorshift, 20M iterations)', 'loop', 20_000_000, 1.3],
  ['memory kernel (FNV-1a over 64 KiB, 40 rounds)', 'hash', 40, 1.3],
  ['call kernel (recursive fib(30))', 'fib', 30, 1.5],
];
for (const [name, fn, n, goal] of runs) {
  const a = plain[fn]!(n);
  const b = metered[fn]!(n);
  if (a !== b) throw new Error(`${fn}: metered result ${b} differs from unmetered ${a}`);
  const [base, withGas] = timeTogether([() => plain[fn]!(n), () => metered[fn]!(n)]) as [number, number];
  report({ bench: BENCH, name: `${name}, unmetered (baseline)`, value: base, unit: 'ms' });
  report({ bench: BENCH, name: `${name}, metered`, value: withGas, unit: 'ms' });
  report({ bench: BENCH, name: `${name}, metered / unmetered`, value: withGas / base, unit: 'ratio', goal, goal_op: '<=' });
}

// The same counting loop in the EVM (PUSH4 N; JUMPDEST; PUSH1 1; SWAP1; SUB; DUP1; PUSH1 5; JUMPI; STOP).
{
  const N = 300_000;
  const code = Uint8Array.from([0x63, (N >>> 24) & 0xff, (N >>> 16) & 0xff, (N >>> 8) & 0xff, N & 0xff, 0x5b, 0x60, 0x01, 0x90, 0x03, 0x80, 0x60, 0x05, 0x57, 0x00]);
  const evm = await createEVM();
  const once = async () => {
    const r = await evm.runCode({ code, gasLimit: 1n << 40n });
    if (r.exceptionError !== undefined) throw new Error(`EVM loop failed: ${r.exceptionError.error}`);
  };
  await once();
  const ms: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await once();
    ms.push(performance.now() - t0);
  }
  const evmRate = N / (median(ms) / 1000);
  const M = 50_000_000;
  const wasmRate = M / (timeTogether([() => metered.countdown!(M)], 7)[0]! / 1000);
  report({ bench: BENCH, name: 'counting loop in @ethereumjs/evm (baseline)', value: evmRate, unit: 'iterations/s' });
  report({ bench: BENCH, name: 'counting loop in metered WebAssembly', value: wasmRate, unit: 'iterations/s' });
  report({ bench: BENCH, name: 'counting loop, metered WebAssembly / EVM', value: wasmRate / evmRate, unit: 'ratio' });
}

const built = await buildContracts();

// A trivial method through runCall: instance, imports, JSPI, one storage read.
{
  const env = new MemoryEnv();
  const at = addr(1);
  const contract = env.deploy(at, built.counter);
  const block = { chainId: CHAIN_ID, height: 1, time: 0, origin: addr(2) };
  const call = () => runCall(env, block, { contract, address: at, method: 'get', input: new Uint8Array(0), caller: addr(2), value: 0n, gasLimit: 1_000_000 });
  for (let i = 0; i < 500; i++) await call();
  const n = 5_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await call();
  report({ bench: BENCH, name: 'counter.get through runCall', value: (n * 1000) / (performance.now() - t0), unit: 'calls/s' });
}

// The slowest plain code per gas (`loop br`, one check per instruction) until its gas runs out:
// a turn of the event loop every DEFAULT_YIELD_INTERVAL gas against none.
{
  const env = new MemoryEnv();
  const at = addr(1);
  const contract = env.deploy(at, STORE);
  const block = { chainId: CHAIN_ID, height: 1, time: 0, origin: addr(2) };
  const GAS = 200_000_000;
  const spin = async (yieldInterval: number) => {
    const r = await runCall(env, block, { contract, address: at, method: 'spin', input: new Uint8Array(0), caller: addr(2), value: 0n, gasLimit: GAS }, { yieldInterval });
    if (r.gasUsed !== GAS) throw new Error(`spin used ${r.gasUsed} gas, not ${GAS}`);
  };
  const ms: [number[], number[]] = [[], []];
  for (let i = 0; i < 2; i++) await spin(Number.MAX_SAFE_INTEGER);
  for (let i = 0; i < 9; i++) {
    for (const [k, interval] of [Number.MAX_SAFE_INTEGER, DEFAULT_YIELD_INTERVAL].entries()) {
      const t0 = performance.now();
      await spin(interval);
      ms[k]!.push(performance.now() - t0);
    }
  }
  const [one, sliced] = ms.map(median) as [number, number];
  report({ bench: BENCH, name: `spin, ${GAS / 1e6}M gas through runCall, one slice (baseline)`, value: one, unit: 'ms' });
  report({ bench: BENCH, name: `spin, ${GAS / 1e6}M gas through runCall, a turn every ${DEFAULT_YIELD_INTERVAL / 1e6}M gas`, value: sliced, unit: 'ms' });
  report({ bench: BENCH, name: 'spin, yielding / one slice', value: sliced / one, unit: 'ratio', goal: 1.05, goal_op: '<=' });
}

// Token transfers through the executor against plain transfers, blocks of 1,000, one core.
{
  const SENDERS = 1000;
  const senders = Array.from({ length: SENDERS }, (_, i) => keyPairFromSecret(secretKeyFromSeed(`vm-bench/${i}`)));
  const dir = mkdtempSync(join(tmpdir(), 'hallmark-vm-bench-'));
  try {
    const rates: Record<'plain' | 'token', number> = { plain: 0, token: 0 };
    for (const kind of ['plain', 'token'] as const) {
      const { db, executor } = await openChain(join(dir, kind));
      await executor.initGenesis(testGenesis(senders, 1n << 40n));
      const deployer = senders[0]!;
      const token = contractAddress(addressOf(deployer.publicKey), 0);
      const nonces = new Array<number>(SENDERS).fill(0);
      const sign = (i: number, payload: Parameters<typeof signTransaction>[0]['payload']) =>
        signTransaction({ chainId: CHAIN_ID, sender: senders[i]!.publicKey, nonce: nonces[i]!++, fee: 1n, gasLimit: 50_000_000, payload }, senders[i]!.secretKey).bytes;
      if (kind === 'token') {
        // Deploy, then give every sender tokens: the timed blocks move tokens between senders.
        const setup = [sign(0, { kind: 'deploy', code: built.token, args: encodeValues([{ type: 'string', value: 'B' }, { type: 'string', value: 'B' }, { type: 'u64', value: 1n << 50n }]) })];
        for (let i = 1; i < SENDERS; i++) {
          setup.push(sign(0, { kind: 'call', contract: token, method: 'transfer', args: encodeValues([{ type: 'address', value: addressOf(senders[i]!.publicKey) }, { type: 'u64', value: 1n << 30n }]), value: 0n }));
        }
        await executor.applyBlock(nextBlock(executor, setup));
      }
      const blocks: Uint8Array[][] = [];
      for (let b = 0; b < 5; b++) {
        blocks.push(senders.map((_, i) => {
          const to = addressOf(senders[(i + 1 + b) % SENDERS]!.publicKey);
          return kind === 'plain'
            ? sign(i, { kind: 'transfer', to, amount: 1n })
            : sign(i, { kind: 'call', contract: token, method: 'transfer', args: encodeValues([{ type: 'address', value: to }, { type: 'u64', value: 1n }]), value: 0n });
        }));
      }
      const t0 = performance.now();
      let failed = 0;
      for (const txs of blocks) failed += (await executor.applyBlock(nextBlock(executor, txs))).receipts.filter((r) => r.status !== 0).length;
      rates[kind] = (blocks.length * SENDERS * 1000) / (performance.now() - t0);
      if (failed > 0) throw new Error(`${kind}: ${failed} transfers failed`);
      await db.close();
    }
    report({ bench: BENCH, name: 'plain transfers through the executor (baseline)', value: rates.plain, unit: 'tx/s' });
    report({ bench: BENCH, name: 'token transfers through the executor (VM)', value: rates.token, unit: 'tx/s' });
    report({ bench: BENCH, name: 'token / plain transfers', value: rates.token / rates.plain, unit: 'ratio' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
