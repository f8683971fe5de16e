import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PROBE = fileURLToPath(new URL('./fixtures/vm-tier-probe.ts', import.meta.url));

function probe(flags: string[]): Promise<{ deepest: number; beyond: string; results: unknown[] }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...flags, PROBE], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${flags.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
}

t.test('the same calls give the same results, gas and stack depth in Liftoff, TurboFan and default tiering', async (t) => {
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
