/**
 * What the multi-process benches read off their nodes: CPU time and resident memory from /proc
 * (Linux), and the shape of the chain they built (transactions per block, rounds, block spacing)
 * through JSON-RPC.
 */
import { readFileSync } from 'node:fs';
import { rpc } from '../test/fixtures/node.ts';

/** CPU time (user + system) a process has used so far, in ms, from /proc (100 ticks/s). */
export function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Resident set size of a process, in MiB. */
export function rssMiBOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

/** A node's memory as its metrics tell it, in MiB (resident, V8 heap used and total, external), and its event loop delay. */
export async function heapOf(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const read = (name: string) => Number(text.split('\n').find((l) => l.startsWith(name + ' '))?.split(' ')[1] ?? NaN);
  const mib = (name: string) => Math.round(read(name) / 1048576);
  const ms = (name: string) => Math.round(read(name) * 1000);
  return {
    rss: mib('process_resident_memory_bytes'),
    heap_used: mib('nodejs_heap_size_used_bytes'),
    heap_total: mib('nodejs_heap_size_total_bytes'),
    external: mib('nodejs_external_memory_bytes'),
    // prom-client resets the event loop delay histogram at each scrape: these cover the last interval.
    loop_max_ms: ms('nodejs_eventloop_lag_max_seconds'),
    loop_p99_ms: ms('nodejs_eventloop_lag_p99_seconds'),
  };
}

/** A node's mempool counters: transactions admitted, and refused because the pool was full. */
export async function admissionsOf(metricsUrl: string): Promise<{ admitted: number; full: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const read = (line: string) => Number(text.split('\n').find((l) => l.startsWith(line + ' '))?.split(' ')[1] ?? NaN);
  return { admitted: read('hallmark_mempool_admitted_total'), full: read('hallmark_mempool_refused_total{reason="mempool_full"}') };
}

/** The q-quantile (0..1) of ascending `xs`. */
export function quantile(xs: readonly number[], q: number): number {
  return xs.length === 0 ? NaN : xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
}

/** Least-squares slope of ys over xs (units of y per unit of x). */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export interface ChainShape {
  blocks: number;
  txs: number;
  txsPerBlock: { mean: number; max: number };
  /** Heights whose commit was made in a round > 0, and the highest such round. */
  roundsAboveZero: number;
  maxRound: number;
  /** Time between consecutive block headers, ms. */
  spacingMs: { p50: number; p90: number; p99: number; max: number };
  /** The longest gap: how many blocks into the phase it ended, and the transactions of its block. */
  slowest: { block: number; ms: number; txs: number } | null;
}

/**
 * Reads blocks from+1..to (and to+1's last commit, if it exists) from one node; `headerTimes`, if
 * given, gets each block's header time by height.
 */
export async function chainShape(url: string, from: number, to: number, headerTimes?: Map<number, number>): Promise<ChainShape> {
  let txs = 0;
  let maxTxs = 0;
  let roundsAboveZero = 0;
  let maxRound = 0;
  const times: number[] = [];
  const counts: number[] = [];
  const latest = (await rpc(url, 'chain_status')).latest_height as number;
  for (let h = from + 1; h <= Math.min(to + 1, latest); h++) {
    const b = await rpc(url, 'chain_getBlock', { height: h }) as { header: { time: string }; txs: unknown[]; last_commit: { round: number } | null };
    if (h > from + 1 && b.last_commit !== null && b.last_commit.round > 0) {
      roundsAboveZero++;
      maxRound = Math.max(maxRound, b.last_commit.round);
    }
    if (h > to) break;
    txs += b.txs.length;
    maxTxs = Math.max(maxTxs, b.txs.length);
    times.push(Date.parse(b.header.time));
    headerTimes?.set(h, times.at(-1)!);
    counts.push(b.txs.length);
  }
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  const at = gaps.indexOf(Math.max(...gaps));
  const slowest = at < 0 ? null : { block: at + 1, ms: gaps[at]!, txs: counts[at + 1]! };
  const spacing = gaps.sort((a, b) => a - b);
  const blocks = times.length;
  return {
    blocks, txs, txsPerBlock: { mean: Number((txs / Math.max(1, blocks)).toFixed(1)), max: maxTxs }, roundsAboveZero, maxRound,
    spacingMs: { p50: quantile(spacing, 0.5), p90: quantile(spacing, 0.9), p99: quantile(spacing, 0.99), max: spacing.at(-1) ?? NaN },
    slowest,
  };
}
