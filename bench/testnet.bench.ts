/**
 * A 4-validator testnet on this machine: four node processes (`hallmark testnet` homes) joined by
 * libp2p over loopback TCP, 10 ms block time (BLOCK_TIME_MS=… to try another).
 *   - empty blocks: heights per second with no load;
 *   - saturation: transfers signed ahead of time sent to all four nodes' tx_broadcast (JSON-RPC
 *     batches), committed transfers per second, against the executor alone applying the same
 *     transfers in blocks of 1,000 in this process (the ceiling any one node can reach);
 *   - efficiency: committed tx/s against cores / validators × the executor alone (each of the
 *     validators executes every transfer, and they share the cores);
 *   - latency at half that load: time from tx_broadcast to its commit (wait: committed), its
 *     distribution, and p99 / p50; and how many blocks the slowest 1% of batches waited for, against
 *     the median ones (1: the first block proposed after the send took them);
 *   - the chain built in each phase (transactions per block, commits in rounds > 0, block spacing);
 *   - a soak at saturation for SOAK_MIN minutes (default 10; 0 skips it): each node's resident
 *     memory, sampled every second through every phase, its peak and its trend in the soak's second half.
 * PROFILE_DIR=dir runs the nodes with --cpu-prof, writing one .cpuprofile per node there at exit;
 * NODE_FLAGS='--flag …' passes other flags to the nodes' node. VARIANTS='[{}, {"flags": ["--x"]},
 * {"env": {"A": "1"}}, …]' adds flags and environment to node i only, to compare settings side by
 * side under the same load (how node/process-flags.ts's heap limit was chosen).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressOf } from '../chain/address.ts';
import { toHex } from '../chain/bytes.ts';
import { keyPairFromSecret, secretKeyFromSeed } from '../chain/keys.ts';
import { toGenesisState } from '../genesis/genesis.ts';
import { formatGenesis, parseGenesis } from '../genesis/schema.ts';
import { formatConfig, loadConfig } from '../node/config.ts';
import { Executor } from '../execution/executor.ts';
import { writeTestnet } from '../cli/testnet.ts';
import { nextBlock, openChain } from '../test/fixtures/chain.ts';
import { rpc } from '../test/fixtures/node.ts';
import { freeBasePort, spawnNode, type NodeProcess } from '../test/fixtures/processes.ts';
import { report } from './harness.ts';
import { admissionsOf, chainShape, cpuMsOf, heapOf, quantile, rssMiBOf, slope } from './probe.ts';
import { broadcast, presignedTransfers } from './load.ts';

const VALIDATORS = 4;
const SENDERS = 2000;
const SATURATION_NONCES = 10;
const LATENCY_NONCES = 4;
const BATCH = 100;

const dir = mkdtempSync(join(tmpdir(), 'hallmark-testnet-bench-'));
const layout = await writeTestnet({ dir: join(dir, 'tn'), validators: VALIDATORS, basePort: await freeBasePort(VALIDATORS) });
const senders = Array.from({ length: SENDERS }, (_, i) => keyPairFromSecret(secretKeyFromSeed(`testnet-bench/${i}`)));
const genesis = parseGenesis(readFileSync(join(layout.nodes[0]!.home, 'genesis.json'), 'utf8'));
genesis.accounts.push(...senders.map((k) => ({ address: addressOf(k.publicKey), balance: 1n << 40n })));
const genesisText = formatGenesis(genesis);
for (const n of layout.nodes) {
  writeFileSync(join(n.home, 'genesis.json'), genesisText);
  const c = await loadConfig(n.home);
  c.logLevel = 'warn';
  c.consensus.blockTimeMs = Number(process.env.BLOCK_TIME_MS ?? 10);
  c.consensus.timeouts = { proposeMs: 1000, prevoteMs: 500, precommitMs: 500 };
  writeFileSync(join(n.home, 'config.toml'), formatConfig(c));
}
const sink = addressOf(senders[0]!.publicKey);

const transfers = (fromNonce: number, nonces: number) => presignedTransfers(genesis.chainId, senders, sink, fromNonce, nonces);

const height = async (url: string) => (await rpc(url, 'chain_status')).latest_height as number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ownCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const saturation = transfers(0, SATURATION_NONCES);
const latencyTxs = transfers(SATURATION_NONCES, LATENCY_NONCES);

// Baseline: the executor alone, same transfers, blocks of 1,000, in this process; the best of three
// runs on fresh stores (one run moved by ±15% on this host, and the best is the hardest to match).
const baselineRuns: number[] = [];
for (let run = 0; run < 3; run++) {
  const { db, tree } = await openChain(join(dir, `baseline-${run}`));
  const executor = await Executor.open(db, tree);
  await executor.initGenesis(toGenesisState(genesis));
  const start = performance.now();
  for (let i = 0; i < saturation.length; i += 1000) {
    await executor.applyBlock(nextBlock(executor, saturation.slice(i, i + 1000).map((s) => s.bytes), genesis.validators[0]!.address));
  }
  baselineRuns.push((saturation.length * 1000) / (performance.now() - start));
  await db.close();
}
const baseline = Math.max(...baselineRuns);
report({ bench: 'testnet', name: 'executor alone (baseline)', value: baseline, unit: 'tx/s', runs: baselineRuns.map(Math.round) });

// The nodes start as they do from their second start on: with bin/compile-cache.js's cache of the
// node's modules already written (else each loads the TypeScript stripper, ~17 MiB, for good).
const warm = spawnSync(process.execPath, ['--input-type=module', '-e', [
  `const { enableCompileCache } = await import(${JSON.stringify(new URL('../bin/compile-cache.js', import.meta.url).href)});`,
  'enableCompileCache();',
  `await import(${JSON.stringify(new URL('../cli/main.ts', import.meta.url).href)});`,
  `await import(${JSON.stringify(new URL('../node/node.ts', import.meta.url).href)});`,
].join('\n')], { stdio: 'inherit' });
if (warm.status !== 0) throw new Error('warming the compile cache failed');

const procs: NodeProcess[] = [];
// A load promise that rejects before it is awaited ends this process without `finally`: no orphans.
process.on('exit', () => {
  for (const p of procs) p.kill('SIGKILL');
});
try {
    const flags = [
    ...(process.env.PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`] : []),
    ...(process.env.NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
  ];
  const variants = JSON.parse(process.env.VARIANTS ?? '[]') as { env?: Record<string, string>; flags?: string[] }[];
  if (!Array.isArray(variants)) throw new Error('VARIANTS: expected a JSON list of { env?, flags? }, one for each node');
  for (const [i, n] of layout.nodes.entries()) procs.push(await spawnNode(n.home, n.logPath, { ...process.env, ...variants[i]?.env }, [...flags, ...(variants[i]?.flags ?? [])]));
  const urls = layout.nodes.map((n) => n.rpcUrl);
  for (let i = 0; i < 600; i++) {
    if (procs.some((p) => p.done)) throw new Error(`a node exited; see ${dir}`);
    const hs = await Promise.all(urls.map((u) => height(u).catch(() => 0)));
    if (hs.every((h) => h >= 3)) break;
    await sleep(100);
  }

  // Empty blocks.
  const h0 = await height(urls[0]!);
  const e0 = performance.now();
  await sleep(5000);
  const emptyRate = ((await height(urls[0]!)) - h0) * 1000 / (performance.now() - e0);
  report({ bench: 'testnet', name: 'empty blocks', value: emptyRate, unit: 'blocks/s', validators: VALIDATORS });

  const rss: { t: number; mib: number[] }[] = [];
  const heap: Record<string, number>[] = [];
  const sampler = setInterval(() => {
    try {
      rss.push({ t: performance.now() / 1000, mib: procs.map((p) => rssMiBOf(p.pid)) });
    } catch {
      // a node that exited is reported by the phase that waits on it
    }
    const t = performance.now() / 1000;
    void heapOf(layout.nodes[0]!.metricsUrl).then((h) => heap.push({ ...h, t }), () => {});
  }, 1000);
  const satFrom = await height(urls[0]!);

  // Saturation: batches to the four nodes in turn, a few in flight per node.
  const counted = () => Promise.all(layout.nodes.map((n) => admissionsOf(n.metricsUrl)));
  const admissions0 = await counted();
  const cpu0 = procs.map((p) => cpuMsOf(p.pid));
  const own0 = ownCpuMs();
  const t0 = performance.now();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0, k = 0; i < saturation.length; i += BATCH, k++) {
    inflight.push(broadcast(urls[k % urls.length]!, saturation.slice(i, i + BATCH), 'checked'));
    if (inflight.length >= 8) await inflight.shift();
  }
  await Promise.all(inflight);
  // Done when the last transfer of every 50th sender is committed (each sender's nonces go in order).
  const lastRound = saturation.slice(-SENDERS);
  for (let s = 0; s < SENDERS; s += 50) {
    for (let i = 0; ; i++) {
      if (await rpc(urls[0]!, 'tx_get', { hash: toHex(lastRound[s]!.hash) }).then(() => true, () => false)) break;
      if (i > 12_000 || procs.some((p) => p.done)) throw new Error('saturation load was not committed');
      await sleep(10);
    }
  }
  const satMs = performance.now() - t0;
  const satRate = (saturation.length * 1000) / satMs;
  const satTo = await height(urls[0]!);
  report({ bench: 'testnet', name: 'committed transfers at saturation', value: satRate, unit: 'tx/s', ratio: Number((satRate / baseline).toPrecision(3)), validators: VALIDATORS });
  const cores = availableParallelism();
  report({
    bench: 'testnet', name: 'efficiency: saturation / (cores / validators × executor alone)', unit: 'ratio',
    value: satRate / ((cores / VALIDATORS) * baseline), goal: 0.8, goal_op: '>=', cores, validators: VALIDATORS,
  });
  // Where the machine's time went: CPU per committed transfer in each node and in this load
  // generator, against the executor alone's cost per transfer (the floor each node pays).
  const nodeCpuMs = procs.map((p, i) => cpuMsOf(p.pid) - cpu0[i]!);
  const loadCpuMs = ownCpuMs() - own0;
  const perTxUs = (ms: number) => Number(((ms * 1000) / saturation.length).toPrecision(3));
  report({
    bench: 'testnet', name: 'CPU per committed transfer, mean of the nodes', unit: 'us',
    value: perTxUs(nodeCpuMs.reduce((a, b) => a + b, 0) / VALIDATORS),
    nodes_us: nodeCpuMs.map(perTxUs), load_generator_us: perTxUs(loadCpuMs),
    executor_alone_us: Number((1e6 / baseline).toPrecision(3)),
  });
  report({
    bench: 'testnet', name: 'CPU busy during saturation', unit: 'fraction of all cores',
    value: Number(((nodeCpuMs.reduce((a, b) => a + b, 0) + loadCpuMs) / (satMs * availableParallelism())).toPrecision(3)),
    cores,
  });
  report({ bench: 'testnet', name: 'chain during saturation', unit: 'blocks', ...await chainShape(urls[0]!, satFrom, satTo), value: satTo - satFrom });
  // The load keeps the pools full: what it sends again after a mempool_full costs the nodes too.
  const admissions = (await counted()).map((a, i) => ({ admitted: a.admitted - admissions0[i]!.admitted, full: a.full - admissions0[i]!.full }));
  report({
    bench: 'testnet', name: 'mempool_full refusals per committed transfer during saturation', unit: 'ratio',
    value: Number((admissions.reduce((a, b) => a + b.full, 0) / saturation.length).toPrecision(3)),
    admitted_per_node: admissions.map((a) => a.admitted), refused_full_per_node: admissions.map((a) => a.full),
  });

  // Latency at half the saturation rate: batches every 20 ms, each waiting for its commit.
  const latFrom = await height(urls[0]!);
  const latStart = performance.now();
  const perTick = Math.max(1, Math.round((satRate / 2) * 0.02));
  const latencies: number[] = [];
  const batches: { node: number; sentWall: number; ms: number; height: number }[] = [];
  const pending: Promise<void>[] = [];
  for (let i = 0, k = 0; i < latencyTxs.length; i += perTick, k++) {
    const batch = latencyTxs.slice(i, i + perTick);
    const sentAt = performance.now();
    const sentWall = Date.now();
    pending.push(broadcast(urls[k % urls.length]!, batch, 'committed').then((committedAt) => {
      const ms = performance.now() - sentAt;
      for (let j = 0; j < batch.length; j++) latencies.push(ms);
      batches.push({ node: k % urls.length, sentWall, ms, height: committedAt });
    }));
    await sleep(20);
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  const latTo = await height(urls[0]!);
  const p50 = quantile(latencies, 0.5);
  const p99 = quantile(latencies, 0.99);
  const dist = { p50, p90: quantile(latencies, 0.9), p99, max: latencies.at(-1)!, load_tx_s: perTick * 50 };
  report({ bench: 'testnet', name: 'broadcast to commit at half load, median', value: p50, unit: 'ms', load_tx_s: perTick * 50 });
  report({ bench: 'testnet', name: 'broadcast to commit at half load, p99', value: p99, unit: 'ms', load_tx_s: perTick * 50 });
  report({ bench: 'testnet', name: 'broadcast to commit at half load, p99 / p50', value: p99 / p50, unit: 'ratio', goal: 4, goal_op: '<=', ...dist });
  const loop = heap.filter((h) => h.t! >= latStart / 1000);
  report({
    bench: 'testnet', name: 'node0 event loop delay during the latency phase, worst second', unit: 'ms',
    value: Math.max(...loop.map((h) => h.loop_max_ms!)), median_of_per_second_p99: quantile(loop.map((h) => h.loop_p99_ms!).sort((a, b) => a - b), 0.5),
  });
  const times = new Map<number, number>();
  report({ bench: 'testnet', name: 'chain during the latency phase', unit: 'blocks', ...await chainShape(urls[0]!, latFrom, latTo, times), value: latTo - latFrom });
  // Where the slowest batches lost their time: blocks proposed between the send and the block that
  // took them (1: the first block proposed after it was sent), against the median batches'.
  const waited = (b: (typeof batches)[number]) => {
    let before = latFrom;
    while (times.has(before + 1) && times.get(before + 1)! <= b.sentWall) before++;
    return b.height - before;
  };
  const byMs = [...batches].sort((a, b) => a.ms - b.ms);
  const describe = (bs: typeof batches) => {
    const w = bs.map(waited).sort((a, b) => a - b);
    return { batches: bs.length, blocks_waited: quantile(w, 0.5), max_blocks_waited: w.at(-1), per_node: urls.map((_, n) => bs.filter((b) => b.node === n).length) };
  };
  const slowest = describe(byMs.slice(Math.floor(byMs.length * 0.99)));
  report({
    bench: 'testnet', name: 'latency phase: blocks waited by the slowest 1% of batches', unit: 'blocks', value: slowest.blocks_waited,
    slowest, median: describe(byMs.slice(Math.floor(byMs.length * 0.45), Math.ceil(byMs.length * 0.55))),
  });

  // Soak: saturation for SOAK_MIN minutes (default 10) with transfers signed as it goes, for memory.
  const soakMs = Number(process.env.SOAK_MIN ?? 10) * 60_000;
  const soakStart = performance.now() / 1000;
  let soakSent = 0;
  for (let nonce = SATURATION_NONCES + LATENCY_NONCES; performance.now() / 1000 - soakStart < soakMs / 1000; nonce++) {
    const round = transfers(nonce, 1);
    const inflight: Promise<unknown>[] = [];
    for (let i = 0, k = 0; i < round.length; i += BATCH, k++) {
      inflight.push(broadcast(urls[k % urls.length]!, round.slice(i, i + BATCH), 'checked'));
      if (inflight.length >= 8) await inflight.shift();
    }
    await Promise.all(inflight);
    soakSent += round.length;
    if (procs.some((p) => p.done)) throw new Error('a node exited during the soak');
  }
  clearInterval(sampler);
  const all = procs.map((_, i) => rss.map((r) => r.mib[i]!));
  // The trend is taken over the second half of the soak (or of everything, without one): steady state.
  const steadyFrom = soakMs > 0 ? soakStart + soakMs / 2000 : 0;
  const steady = rss.filter((r) => r.t >= steadyFrom);
  report({
    bench: 'testnet', name: 'node RSS, highest sample of any node', unit: 'MiB', value: Math.max(...all.flat()), goal: 300, goal_op: '<=',
    samples: rss.length, soak_min: soakMs / 60_000, soak_tx_s: Math.round(soakSent / Math.max(1, soakMs / 1000)),
    max_per_node: all.map((xs) => Math.round(Math.max(...xs))),
    steady_trend_mib_per_min: procs.map((_, i) => Number((slope(steady.map((r) => r.t), steady.map((r) => r.mib[i]!)) * 60).toFixed(1))),
    node0_heap_at_peak: heap.reduce((a, b) => ((b.rss ?? 0) > (a.rss ?? 0) ? b : a), {}),
    node0_heap_last: heap.at(-1),
  });
} finally {
  for (const p of procs) p.kill('SIGINT');
  await Promise.all(procs.map((p) => p.exited));
  rmSync(dir, { recursive: true, force: true });
}
