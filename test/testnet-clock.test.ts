/**
 * Proposer-based timestamps on four validator processes: one node's clock is set 10 s ahead
 * (HALLMARK_CLOCK_OFFSET_MS, read by the node's clock port only). Its fresh proposals carry times
 * the others find untimely, so they prevote nil and its rounds pass to the next proposer; the chain
 * keeps committing, and no committed block carries the skewed clock's time. The same network with
 * synchronised clocks is run first, for comparison (heights per minute, printed for the record).
 */
import t from 'tap';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { writeTestnet, type TestnetLayout } from '../cli/testnet.ts';
import { rpc } from './fixtures/node.ts';
import { freeBasePort, spawnNode, type NodeProcess } from './fixtures/processes.ts';
import { liveDir } from './fixtures/dirs.ts';
import { speedUp, waitHeight } from './fixtures/testnet.ts';

const HEIGHTS = 30;
const SKEW_MS = 10_000;

interface Run {
  layout: TestnetLayout;
  /** Heights per minute of wall time between height 5 and HEIGHTS: a figure for the record. */
  perMinute: number;
  extraRounds: number;
  /** How far ahead of the test's clock each committed block's time was, heights 1..HEIGHTS. */
  aheadMs: number[];
}

async function runTestnet(dir: string, skewed: number | null): Promise<Run> {
  const layout = await writeTestnet({ dir, validators: 4, basePort: await freeBasePort(4) });
  for (const n of layout.nodes) await speedUp(n.home);
  const procs: NodeProcess[] = [];
  try {
    for (const [i, n] of layout.nodes.entries()) {
      const env = i === skewed ? { ...process.env, HALLMARK_CLOCK_OFFSET_MS: String(SKEW_MS) } : process.env;
      procs.push(await spawnNode(n.home, n.logPath, env));
    }
    const all = [0, 1, 2, 3];
    await waitHeight(layout, all, 5, procs);
    const from = performance.now();
    await waitHeight(layout, all, HEIGHTS, procs);
    const perMinute = Math.round(((HEIGHTS - 5) * 60_000) / (performance.now() - from));
    const url = layout.nodes[0]!.rpcUrl;
    const metrics = await (await fetch(layout.nodes[0]!.metricsUrl)).text();
    const extraRounds = Number(/^hallmark_extra_rounds_total (\d+)/m.exec(metrics)?.[1] ?? 0);
    const aheadMs: number[] = [];
    for (let h = 1; h <= HEIGHTS; h++) aheadMs.push(Date.parse((await rpc(url, 'chain_getBlock', { height: h })).header.time) - Date.now());
    return { layout, perMinute, extraRounds, aheadMs };
  } finally {
    for (const p of procs) p.kill('SIGINT');
    await Promise.all(procs.map((p) => p.exited));
  }
}

t.test('a 4-validator testnet with one clock 10 s ahead keeps committing; that node\'s proposals are refused as untimely', async (t) => {
  const dir = liveDir(t);
  const base = await runTestnet(join(dir, 'synchronised'), null);
  const skewedNode = 2;
  const skewed = await runTestnet(join(dir, 'skewed'), skewedNode);
  t.comment(`heights per minute: ${base.perMinute} with synchronised clocks, ${skewed.perMinute} with node${skewedNode} ${SKEW_MS / 1000} s ahead; extra rounds ${base.extraRounds} -> ${skewed.extraRounds}`);
  t.pass(`the skewed network committed ${HEIGHTS} heights on every node`);
  t.ok(skewed.extraRounds > base.extraRounds, `rounds were lost to the untimely proposer (${skewed.extraRounds} extra rounds)`);
  const logs = skewed.layout.nodes.map((n) => readFileSync(n.logPath, 'utf8'));
  t.ok(logs.some((l, i) => i !== skewedNode && /not timely: block time is \d+ ms ahead/.test(l)), 'an honest node logged why it prevoted nil');
  // Blocks are read after the fact, so their times are in the past; none is the skewed clock's.
  t.same(skewed.aheadMs.filter((ms) => ms > SKEW_MS / 2), [], 'no committed block carries the skewed clock\'s time');
});
