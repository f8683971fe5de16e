/**
 * The node's Prometheus metrics (docs/operator.md lists them) and the server for `GET /metrics`
 * (text exposition format 0.0.4, default 127.0.0.1:26660). Each node has its own prom-client
 * Registry, so nodes sharing a process (tests) never mix figures. What other parts already count
 * (mempool, evidence pool, RPC server, p2p layer) is read when scraped, so nothing here sits on
 * their paths; the commit counters and the histograms are recorded by the node as work happens.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Block } from '../chain/block.ts';
import type { ConsensusDriver } from '../consensus/driver.ts';
import { EVIDENCE_DROP_REASONS, type EvidencePool } from '../consensus/evidence-pool.ts';
import type { Executor } from '../execution/executor.ts';
import type { Mempool } from '../mempool/mempool.ts';
import type { Network } from '../p2p/network.ts';
import type { RpcServer } from '../rpc/server.ts';
import type { NetworkService } from './network-service.ts';
import type { SnapshotStats } from './snapshots.ts';
import type { StateSyncStats } from './state-sync.ts';

/** The parts whose live figures are served; the RPC server and the network exist only once started. */
export interface MetricSources {
  driver: ConsensusDriver;
  executor: Executor;
  mempool: Mempool;
  evidencePool: EvidencePool;
  service: NetworkService;
  rpc(): RpcServer | null;
  network(): Network | null;
  snapshots: SnapshotStats;
  /** What joining by snapshot did at start, null when the node did not. */
  stateSync: StateSyncStats | null;
}

type Labelled = { labels: Record<string, string>; value: number }[];

/** A gauge or counter whose value is read from live state at each scrape. */
interface Live {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  labels?: string[];
  read(): number | Labelled;
}

const by = (label: string, counts: Readonly<Record<string, number>>): Labelled =>
  Object.entries(counts).map(([key, value]) => ({ labels: { [label]: key }, value }));

function live(s: MetricSources): Live[] {
  const rpc = () => s.rpc()?.load() ?? { connections: 0, reading: 0, handling: 0 };
  const net = <T>(read: (n: Network) => T, none: T) => () => {
    const n = s.network();
    return n === null ? none : read(n);
  };
  const level = { normal: 0, shed_sync: 1, shed_inbound: 2 } as const;
  return [
    { name: 'hallmark_height', help: 'Height of the latest committed block.', type: 'gauge', read: () => s.executor.head?.height ?? 0 },
    { name: 'hallmark_consensus_height', help: 'Height consensus is working on.', type: 'gauge', read: () => s.driver.status().height },
    { name: 'hallmark_consensus_round', help: 'Round consensus is in.', type: 'gauge', read: () => Math.max(0, s.driver.status().round) },
    { name: 'hallmark_mempool_txs', help: 'Transactions in the mempool.', type: 'gauge', read: () => s.mempool.size },
    { name: 'hallmark_mempool_bytes', help: 'Bytes of transactions in the mempool.', type: 'gauge', read: () => s.mempool.bytes },
    { name: 'hallmark_mempool_admitted_total', help: 'Transactions admitted to the mempool.', type: 'counter', read: () => s.mempool.counters.admitted },
    { name: 'hallmark_mempool_refused_total', help: 'Transactions refused by the mempool, by reason.', type: 'counter', labels: ['reason'], read: () => by('reason', s.mempool.counters.refused) },
    { name: 'hallmark_mempool_removed_total', help: 'Transactions that left the mempool, by reason.', type: 'counter', labels: ['reason'], read: () => by('reason', s.mempool.counters.removed) },
    { name: 'hallmark_evidence_pool_items', help: 'Equivocation evidence seen and not yet in a block.', type: 'gauge', read: () => s.evidencePool.size },
    { name: 'hallmark_evidence_pool_bytes', help: 'Encoded bytes of the evidence in the pool.', type: 'gauge', read: () => s.evidencePool.bytes },
    {
      name: 'hallmark_evidence_dropped_total', help: 'Evidence refused by or dropped from the pool without this node proposing it, by reason.', type: 'counter',
      labels: ['reason'], read: () => EVIDENCE_DROP_REASONS.map((reason) => ({ labels: { reason }, value: s.evidencePool.dropped[reason] })),
    },
    { name: 'hallmark_rpc_connections', help: 'Open JSON-RPC connections.', type: 'gauge', read: () => rpc().connections },
    {
      name: 'hallmark_rpc_requests_in_flight', help: 'JSON-RPC requests being read or handled.', type: 'gauge', labels: ['state'],
      read: () => [{ labels: { state: 'reading' }, value: rpc().reading }, { labels: { state: 'handling' }, value: rpc().handling }],
    },
    { name: 'hallmark_rpc_refused_total', help: 'JSON-RPC connections dropped or closed and requests refused, by reason.', type: 'counter', labels: ['reason'], read: () => by('reason', s.rpc()?.refused ?? {}) },
    { name: 'hallmark_catching_up', help: '1 while the node block-syncs instead of taking part in consensus.', type: 'gauge', read: () => (s.service.syncing ? 1 : 0) },
    { name: 'hallmark_blocksync_runs_total', help: 'Times the node left consensus to block-sync.', type: 'counter', read: () => s.service.syncCounters.runs },
    { name: 'hallmark_blocksync_blocks_total', help: 'Blocks applied by block sync.', type: 'counter', read: () => s.service.syncCounters.blocksApplied },
    { name: 'hallmark_p2p_peers', help: 'Connected peers.', type: 'gauge', read: net((n) => n.peers().length, 0) },
    { name: 'hallmark_p2p_messages_received_total', help: 'Inbound messages, by protocol.', type: 'counter', labels: ['protocol'], read: net((n) => by('protocol', n.counters.messagesIn), []) },
    { name: 'hallmark_p2p_messages_sent_total', help: 'Outbound messages queued, by protocol.', type: 'counter', labels: ['protocol'], read: net((n) => by('protocol', n.counters.messagesOut), []) },
    { name: 'hallmark_p2p_send_dropped_total', help: "Outbound messages dropped because a peer's queue was full.", type: 'counter', read: net((n) => n.counters.sendDropped, 0) },
    {
      name: 'hallmark_p2p_rate_limited_total', help: 'Inbound messages or streams refused by quota.', type: 'counter', labels: ['protocol', 'kind'],
      read: net((n) => Object.entries(n.limiter.drops).flatMap(([protocol, d]) => Object.entries(d).map(([kind, value]) => ({ labels: { protocol, kind }, value }))), []),
    },
    { name: 'hallmark_p2p_invalid_messages_total', help: 'Inbound messages that were malformed, oversized or forged.', type: 'counter', read: net((n) => n.counters.invalidMessages, 0) },
    { name: 'hallmark_p2p_penalties_total', help: 'Peer score penalties, by reason.', type: 'counter', labels: ['reason'], read: net((n) => by('reason', n.scores.counters.penalties), []) },
    { name: 'hallmark_p2p_disconnects_total', help: 'Peers disconnected for their score.', type: 'counter', read: net((n) => n.scores.counters.disconnects, 0) },
    { name: 'hallmark_p2p_bans_total', help: 'Peers banned.', type: 'counter', read: net((n) => n.scores.counters.bans, 0) },
    { name: 'hallmark_p2p_banned_peers', help: 'Bans in force.', type: 'gauge', read: net((n) => n.scores.banned().length, 0) },
    {
      name: 'hallmark_p2p_refused_connections_total', help: 'Inbound connections the gater refused, by reason.', type: 'counter', labels: ['reason'],
      read: net(({ gater: { counters: g } }) => by('reason', { ip_cap: g.ipCapRefused, banned: g.bannedRefused, memory: g.memoryRefused }), []),
    },
    { name: 'hallmark_p2p_dial_failures_total', help: 'Failed dials to persistent peers.', type: 'counter', read: net((n) => n.counters.dialFailures, 0) },
    { name: 'hallmark_p2p_sync_served_total', help: 'Block sync requests answered.', type: 'counter', read: net((n) => n.counters.syncServed, 0) },
    { name: 'hallmark_p2p_snapshot_chunks_served_total', help: 'State snapshot chunks served to peers.', type: 'counter', read: net((n) => n.counters.snapshotChunksServed, 0) },
    { name: 'hallmark_snapshots_taken_total', help: 'State snapshots taken.', type: 'counter', read: () => s.snapshots.taken },
    { name: 'hallmark_snapshots_failed_total', help: 'State snapshots that could not be taken.', type: 'counter', read: () => s.snapshots.failed },
    { name: 'hallmark_snapshot_latest_height', help: 'Height of the newest state snapshot served, 0 if none.', type: 'gauge', read: () => s.snapshots.latest },
    { name: 'hallmark_snapshot_seconds', help: 'Seconds the last state snapshot took to write.', type: 'gauge', read: () => s.snapshots.lastSeconds },
    { name: 'hallmark_statesync_height', help: 'Height of the snapshot this node was restored from, 0 if none.', type: 'gauge', read: () => s.stateSync?.outcome === 'restored' ? s.stateSync.height : 0 },
    { name: 'hallmark_statesync_chunks_total', help: 'Snapshot chunks fetched, verified and written when joining.', type: 'counter', read: () => s.stateSync?.chunksFetched ?? 0 },
    { name: 'hallmark_statesync_bytes_total', help: 'Bytes of snapshot chunks fetched when joining.', type: 'counter', read: () => s.stateSync?.bytes ?? 0 },
    { name: 'hallmark_statesync_bad_chunks_total', help: 'Snapshot chunks refused (bad proof, corrupt, wrong height) when joining.', type: 'counter', read: () => s.stateSync?.badChunks ?? 0 },
    { name: 'hallmark_statesync_seconds', help: 'Seconds joining by snapshot took, 0 if the node did not.', type: 'gauge', read: () => s.stateSync?.seconds ?? 0 },
    { name: 'hallmark_memory_pressure_level', help: '0 normal, 1 shedding block sync, 2 also refusing inbound connections.', type: 'gauge', read: net((n) => level[n.memory.level], 0) },
    {
      name: 'hallmark_p2p_shed_total', help: 'Work refused under memory pressure.', type: 'counter', labels: ['work'],
      read: net(({ memory: { counters: m } }) => by('work', { sync: m.syncRefused, inbound: m.inboundRefused }), []),
    },
  ];
}

/** Bucket bounds in seconds: a 20 ms devnet block time up to a minute-long stall. */
const BLOCK_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
const WORK_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The metrics the node records as work happens (the rest are read from live state). */
function recorded(registers: Registry[]) {
  const counter = (name: string, help: string) => new Counter({ name, help, registers });
  const histogram = (name: string, help: string, buckets: number[], labelNames: string[] = []) => new Histogram({ name, help, buckets, labelNames, registers });
  return {
    blocks: counter('hallmark_blocks_committed_total', 'Blocks committed by this process.'),
    txs: counter('hallmark_txs_committed_total', 'Transactions in blocks committed by this process.'),
    extraRounds: counter('hallmark_extra_rounds_total', 'Rounds beyond the first that committed blocks needed.'),
    interval: histogram('hallmark_block_interval_seconds', 'Time between a committed block and the one before it, by their block times.', BLOCK_BUCKETS),
    proposalToCommit: histogram('hallmark_proposal_to_commit_seconds', "From a block's time (its proposer's clock) to its commit here (this node's clock), for blocks decided by consensus.", BLOCK_BUCKETS),
    execution: histogram('hallmark_block_execution_seconds', 'Time to check, execute and store one block.', WORK_BUCKETS),
    rpc: histogram('hallmark_rpc_request_duration_seconds', 'Time to handle one JSON-RPC call, by method.', WORK_BUCKETS, ['method']),
  };
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly #m = recorded([this.registry]);

  constructor(sources: MetricSources) {
    for (const m of live(sources)) {
      const read = m.read;
      const collect = function (this: Gauge | Counter): void {
        this.reset();
        const v = read();
        for (const { labels, value } of typeof v === 'number' ? [{ labels: {}, value: v }] : v) {
          if (this instanceof Gauge) this.set(labels, value);
          else this.inc(labels, value);
        }
      };
      const config = { name: m.name, help: m.help, labelNames: m.labels ?? [], registers: [this.registry], collect };
      if (m.type === 'gauge') new Gauge(config);
      else new Counter(config);
    }
  }

  /** Starts timing a block's execution; call the result once it is applied. */
  executing(): () => number {
    return this.#m.execution.startTimer();
  }

  /**
   * A block this node applied on `parent` (the head before it). `committedAt` is this node's clock
   * (Unix ms) once it was stored, or null when block sync applied it rather than consensus.
   */
  committed(block: Block, round: number, parent: { height: number; time: number }, committedAt: number | null): void {
    this.#m.blocks.inc();
    this.#m.txs.inc(block.txs.length);
    this.#m.extraRounds.inc(round);
    // Genesis time is when the chain was set up, not a block's.
    if (parent.height > 0) this.#m.interval.observe((block.header.time - parent.time) / 1000);
    // Clocks in sync to the genesis precision; a proposer a little ahead must not make it negative.
    if (committedAt !== null) this.#m.proposalToCommit.observe(Math.max(0, committedAt - block.header.time) / 1000);
  }

  /** One JSON-RPC call of a known method, answered after `seconds`. */
  rpcCall(method: string, seconds: number): void {
    this.#m.rpc.observe({ method }, seconds);
  }

  /** Adds prom-client's process and Node.js metrics (event loop lag among them) and serves them all. */
  async serve(opts: { host: string; port: number }): Promise<{ url: string; close(): Promise<void> }> {
    collectDefaultMetrics({ register: this.registry });
    return startMetricsServer(this.registry, opts);
  }
}

async function startMetricsServer(registry: Registry, opts: { host: string; port: number }): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('metrics are at GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`could not collect metrics: ${(err as Error).message}\n`),
    );
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
