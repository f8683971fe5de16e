/**
 * Memory pressure, in levels with hysteresis. Heap use (percent of V8's heap limit) at or above
 * `shedSyncPercent` enters 'shed_sync' (stop serving block sync to others); at or above
 * `shedInboundPercent`, 'shed_inbound' (also refuse new inbound connections). A level is left
 * only once use is `hysteresisPercent` points below its threshold, so the node does not flap.
 * Consensus traffic is never shed.
 */
import { getHeapStatistics } from 'node:v8';
import type { MemoryConfig } from './config.ts';

export type MemoryLevel = 'normal' | 'shed_sync' | 'shed_inbound';

function heapUsedPercent(): number {
  return (100 * process.memoryUsage().heapUsed) / getHeapStatistics().heap_size_limit;
}

export class MemoryMonitor {
  readonly #cfg: MemoryConfig;
  readonly #read: () => number;
  #level: MemoryLevel = 'normal';
  #timer: NodeJS.Timeout | null = null;
  readonly counters = { transitions: 0, syncRefused: 0, inboundRefused: 0 };

  constructor(cfg: MemoryConfig, opts: { heapUsedPercent?: () => number } = {}) {
    if (!(cfg.shedSyncPercent <= cfg.shedInboundPercent)) throw new RangeError('shedSyncPercent must not exceed shedInboundPercent');
    if (!(cfg.hysteresisPercent >= 0 && cfg.hysteresisPercent < cfg.shedSyncPercent)) throw new RangeError('hysteresisPercent must be in [0, shedSyncPercent)');
    this.#cfg = cfg;
    this.#read = opts.heapUsedPercent ?? heapUsedPercent;
  }

  get level(): MemoryLevel {
    return this.#level;
  }

  /** Reads heap use and moves between levels. */
  check(): MemoryLevel {
    const used = this.#read();
    const { shedSyncPercent: sync, shedInboundPercent: inbound, hysteresisPercent: h } = this.#cfg;
    let next: MemoryLevel;
    if (used >= inbound) next = 'shed_inbound';
    else if (this.#level === 'shed_inbound' && used > inbound - h) next = 'shed_inbound';
    else if (used >= sync) next = 'shed_sync';
    else if (this.#level !== 'normal' && used > sync - h) next = 'shed_sync';
    else next = 'normal';
    if (next !== this.#level) {
      this.#level = next;
      this.counters.transitions++;
    }
    return next;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => this.check(), this.#cfg.checkIntervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  shedsSync(): boolean {
    return this.#level !== 'normal';
  }

  shedsInbound(): boolean {
    return this.#level === 'shed_inbound';
  }

  countSyncRefused(): void {
    this.counters.syncRefused++;
  }

  countInboundRefused(): void {
    this.counters.inboundRefused++;
  }
}
