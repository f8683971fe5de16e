import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildContracts } from '../contracts/build.ts';

const PROBE = fileURLToPath(new URL('./fixtures/vm-tier-probe.ts', import.meta.url));
const NODE_PROBE = fileURLToPath(new URL('./fixtures/contract-node-probe.ts', import.meta.url));

function run<T>(flags: string[], script: string, args: string[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...flags, script, ...args], { timeout: 180_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${flags.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
}

t.test('the same calls give the same results, gas and stack depth in Liftoff, TurboFan and default tiering', async (t) => {
  const probe = (flags: string[]) => run<{ deepest: number; beyond: string; results: unknown[] }>(flags, PROBE);
  const liftoff = await probe(['--liftoff-only']);
  const turbofan = await probe(['--no-liftoff']);
  const tiered = await probe([]);
  t.equal(liftoff.beyond, 'stack_overflow', 'deep recursion traps on the injected limit in Liftoff');
  t.equal(turbofan.beyond, 'stack_overflow', 'and in TurboFan');
  t.equal(liftoff.deepest, turbofan.deepest, `the deepest recursion is the same in both tiers (${liftoff.deepest} frames)`);
  t.equal(tiered.deepest, liftoff.deepest);
  t.same(turbofan.results, liftoff.results, 'results and gas match between tiers');
  t.same(tiered.results, liftoff.results);
});

t.test('two nodes applying the same contract blocks, one Liftoff-only and one with default tiering, agree', async (t) => {
  const dir = t.testdir();
  await buildContracts(dir);
  type Out = { stateRoot: string; resultsHash: string; gas: number[] };
  const [liftoff, tiered, turbofan] = await Promise.all([
    run<Out>(['--liftoff-only'], NODE_PROBE, [dir, join(dir, 'liftoff')]),
    run<Out>([], NODE_PROBE, [dir, join(dir, 'tiered')]),
    run<Out>(['--no-liftoff'], NODE_PROBE, [dir, join(dir, 'turbofan')]),
  ]);
  t.equal(liftoff.gas.length, 3 + 20 * 43, 'every transaction has a receipt');
  t.equal(tiered.stateRoot, liftoff.stateRoot, 'the same state root');
  t.equal(tiered.resultsHash, liftoff.resultsHash, 'the same receipts');
  t.same(tiered.gas, liftoff.gas, 'the same gas, transaction by transaction');
  t.equal(turbofan.stateRoot, liftoff.stateRoot, 'TurboFan only agrees too');
});
