/**
 * VerifierPool: Groth16 verification on worker threads (zk/pool-worker.ts) with InlineVerifier's
 * answers; the caller's thread only groups, posts and collects.
 *
 * On chain/worker-pool.ts's WorkerThreads (the threads' lifecycle, shared with the Ed25519 pool),
 * not piscina: piscina picks the worker for a task, but key residency needs to choose it (one that
 * holds the key) and to know what each worker holds; cancellation happens in our own per-key queue
 * before dispatch, so piscina's queue would only sit behind it; and on a crash the retry with an
 * attempt limit, and forgetting the dead thread's keys, are ours to do anyway.
 *
 * Flow. A call's items are queued by key (one FIFO per key hash, across requests), counted against
 * `maxQueued`; a call that does not fit waits, FIFO, until dispatch or cancellation makes room; a
 * request larger than `maxQueued` is admitted when the queue is empty, so `queued` never exceeds
 * max(maxQueued, the largest single request). Jobs are formed only for idle workers: up to
 * `maxBatch` items of one key (shared evenly by the idle workers), from the ready key whose oldest
 * item is oldest. A key is ready with a full batch, when its oldest item has waited `maxWaitMs`,
 * or when no job is in flight (Nagle's rule: waiting to fill a batch only pays while other work
 * runs, so a lone request gets no added latency). The job goes to an idle worker holding its key if there is one, and carries
 * the key's bytes only if that worker lacks it (the pool mirrors each worker's KeyCache LRU).
 *
 * verifyAll. An invalid answer lowers the request's lowest known invalid index `best` and drops its
 * still-queued items above it (stats.cancelled); items above `best` already in flight are verified
 * but ignored. It settles once every item below `best` is answered: the lowest invalid index.
 *
 * Crashes (WorkerThreads). A worker that exits unexpectedly is replaced, and its in-flight job is
 * retried ahead of the queue (outside the `maxQueued` count: at most `threads` jobs); a job that
 * has crashed MAX_ATTEMPTS workers rejects its requests. Workers that keep dying before taking any
 * job (a broken install) fail the pool rather than respawn forever.
 *
 * Idle workers are unref'd (ref'd only while a job is in flight): an idle pool does not keep the
 * process alive, though close() is the way to stop it.
 */
import { defaultThreads, positiveInt, WorkerThreads, type ThreadSlot } from '../chain/worker-pool.ts';
import { packItems, type JobBody, type JobReply } from './pool-worker.ts';
import { VALID, type AllAnswer, type Answer, type Verifier, type VerifyItem } from './verifier.ts';

export interface VerifierPoolOptions {
  /** Worker threads (≥ 1). Default: os.availableParallelism(). */
  readonly threads?: number;
  /** Most items in one job (≥ 1). Default 64. */
  readonly maxBatch?: number;
  /** How long a short batch may wait to fill while other jobs run, in ms (≥ 0). Default 2. */
  readonly maxWaitMs?: number;
  /** Bound on items queued and not yet dispatched (≥ 1). Default 4096. */
  readonly maxQueued?: number;
  /** Prepared keys each worker keeps (≥ 1). Default 64. */
  readonly keyCache?: number;
}

export interface PoolStats {
  /** Items answered by workers (including ones a settled verifyAll no longer needed). */
  readonly verified: number;
  /** Jobs formed from the queue (batches; a retry is not counted again). */
  readonly jobs: number;
  /** Job messages that carried key bytes (a worker did not hold the key). */
  readonly keysSent: number;
  /** Queued items dropped: above a verifyAll's invalid index, or of a refused request. */
  readonly cancelled: number;
  /** Jobs put back after their worker crashed. */
  readonly retried: number;
  /** Workers replaced after exiting unexpectedly. */
  readonly replaced: number;
  /** Items queued now (not yet dispatched). */
  readonly queued: number;
  /** The most items ever queued at once. */
  readonly maxQueuedSeen: number;
  /** Calls waiting for room in the queue. */
  readonly waiting: number;
  /** Jobs in flight. */
  readonly inFlight: number;
}

export { MAX_ATTEMPTS } from '../chain/worker-pool.ts';

const WORKER_URL = new URL('./pool-worker.ts', import.meta.url);

interface Request {
  readonly kind: 'each' | 'all';
  readonly items: readonly VerifyItem[];
  readonly answers: (Answer | undefined)[];
  /** Items not yet answered below `best`. */
  outstanding: number;
  /** verifyAll: lowest invalid index known; items.length while none (and always, for verifyEach). */
  best: number;
  /** When the request was admitted to the queue (performance.now()). */
  at: number;
  settled: boolean;
  readonly keyIds: Set<string>;
  readonly resolve: (v: Answer[] | AllAnswer) => void;
  readonly reject: (e: Error) => void;
}

type Entry = { readonly req: Request; readonly index: number };
type KeyQueue = { readonly id: string; readonly keyHash: Uint8Array; readonly key: Uint8Array; entries: Entry[] };
/** `key` is the queue the job was taken from, for the key's id, hash and bytes. */
type Job = { readonly key: KeyQueue; entries: Entry[] };
/** Key ids a worker holds, least recently used first (mirrors its KeyCache). */
type Keys = Map<string, true>;
type Slot = ThreadSlot<Job, Keys>;

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const live = (e: Entry): boolean => !e.req.settled && e.index < e.req.best;

const positive = (name: string, v: number): number => positiveInt('VerifierPool', name, v);

export class VerifierPool implements Verifier {
  readonly threads: number;
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly maxQueued: number;
  readonly keyCache: number;

  readonly #threads: WorkerThreads<Job, Keys, JobBody, JobReply>;
  readonly #queues = new Map<string, KeyQueue>();
  #waiting: Request[] = [];
  readonly #live = new Set<Request>();
  #queued = 0;
  #stats = { verified: 0, jobs: 0, keysSent: 0, cancelled: 0, maxQueuedSeen: 0 };
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;

  constructor(options: VerifierPoolOptions = {}) {
    const threads = positive('threads', options.threads ?? defaultThreads());
    this.maxBatch = positive('maxBatch', options.maxBatch ?? 64);
    this.maxQueued = positive('maxQueued', options.maxQueued ?? 4096);
    this.keyCache = positive('keyCache', options.keyCache ?? 64);
    const wait = options.maxWaitMs ?? 2;
    if (!(wait >= 0 && Number.isFinite(wait))) throw new RangeError(`VerifierPool: maxWaitMs must be a finite number >= 0, got ${wait}`);
    this.maxWaitMs = wait;
    this.#threads = new WorkerThreads({
      name: 'zk pool', url: WORKER_URL, threads, workerData: { zkPool: true, keyCache: this.keyCache },
      describe: (job) => `a job of ${job.entries.length} proofs`,
      source: {
        fresh: () => new Map(),
        next: (idle) => this.#nextBatch(idle.length),
        // An idle worker holding the job's key if there is one.
        pick: (idle, job) => idle.find((s) => s.state.has(job.key.id)) ?? idle[0]!,
        message: (job, slot) => this.#message(job, slot),
        answered: (job, reply, slot) => this.#answered(job, reply, slot),
        refused: (job, err) => { for (const e of job.entries) this.#reject(e.req, err); },
        needed: (job) => (job.entries = job.entries.filter(live)).length > 0,
        failed: (err) => {
          this.#refuseUndispatched(err);
          for (const r of [...this.#live]) this.#reject(r, err);
        },
      },
    });
    this.threads = this.#threads.threads;
  }

  verifyEach(items: readonly VerifyItem[]): Promise<Answer[]> {
    return this.#submit('each', items) as Promise<Answer[]>;
  }

  verifyAll(items: readonly VerifyItem[]): Promise<AllAnswer> {
    return this.#submit('all', items) as Promise<AllAnswer>;
  }

  stats(): PoolStats {
    return { ...this.#stats, ...this.#threads.stats(), queued: this.#queued, waiting: this.#waiting.length };
  }

  /**
   * FOR TESTS ONLY: the next `jobs` job messages posted make the worker that receives each one
   * exit with code 1 before doing any work, as a crash would. Nothing else sets this.
   */
  crashNextJobsForTest(jobs = 1): void {
    this.#threads.crashNextJobsForTest(jobs);
  }

  /**
   * Refuses new calls; rejects calls still waiting for room and requests with items not yet
   * dispatched; lets jobs in flight finish (their requests settle normally); then terminates the
   * workers. Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    const err = new Error('zk pool: closed before these proofs were verified');
    this.#refuseUndispatched(err);
    await this.#threads.close();
    for (const r of [...this.#live]) this.#reject(r, err); // none expected: every job has answered
  }

  #submit(kind: Request['kind'], items: readonly VerifyItem[]): Promise<Answer[] | AllAnswer> {
    if (this.#closed) return Promise.reject(new Error('zk pool: the verifier is closed'));
    const failure = this.#threads.failure;
    if (failure !== null) return Promise.reject(failure);
    if (items.length === 0) return Promise.resolve(kind === 'each' ? [] : { ok: true });
    return new Promise<Answer[] | AllAnswer>((resolve, reject) => {
      const req: Request = {
        kind, items, answers: new Array(items.length), outstanding: items.length, best: items.length,
        at: 0, settled: false, keyIds: new Set(), resolve, reject,
      };
      this.#live.add(req);
      // FIFO: a call that would fit still waits behind calls already waiting.
      if (this.#waiting.length === 0 && this.#fits(items.length)) this.#enqueue(req);
      else this.#waiting.push(req);
    });
  }

  #fits(n: number): boolean {
    return this.#queued === 0 || this.#queued + n <= this.maxQueued;
  }

  #enqueue(req: Request): void {
    req.at = performance.now();
    req.items.forEach((it, index) => {
      const id = hex(it.keyHash);
      let q = this.#queues.get(id);
      if (q === undefined) this.#queues.set(id, (q = { id, keyHash: it.keyHash, key: it.key, entries: [] }));
      q.entries.push({ req, index });
      req.keyIds.add(id);
    });
    this.#queued += req.items.length;
    this.#stats.maxQueuedSeen = Math.max(this.#stats.maxQueuedSeen, this.#queued);
    this.#threads.kick();
  }

  #admitWaiting(): void {
    while (this.#waiting.length > 0 && !this.#closed && this.#fits(this.#waiting[0]!.items.length)) this.#enqueue(this.#waiting.shift()!);
  }

  /**
   * A batch from the ready key whose oldest item is oldest, its items shared evenly by the `idle`
   * workers (a block's 64 proofs of one key run on every core); null (and a timer) if none is ready.
   */
  #nextBatch(idle: number): Job | null {
    clearTimeout(this.#timer ?? undefined);
    this.#timer = null;
    const now = performance.now();
    const inFlight = this.#threads.busy();
    let pick: KeyQueue | null = null;
    let due = Infinity;
    for (const q of this.#queues.values()) {
      const at = q.entries[0]!.req.at;
      const ready = !inFlight || q.entries.length >= this.maxBatch || now - at >= this.maxWaitMs;
      if (!ready) due = Math.min(due, at + this.maxWaitMs);
      else if (pick === null || at < pick.entries[0]!.req.at) pick = q;
    }
    if (pick === null) {
      if (due !== Infinity) this.#timer = setTimeout(() => this.#threads.dispatch(), Math.max(0, due - now));
      return null;
    }
    const entries = pick.entries.splice(0, Math.min(this.maxBatch, Math.ceil(pick.entries.length / idle)));
    if (pick.entries.length === 0) this.#queues.delete(pick.id);
    this.#queued -= entries.length;
    this.#stats.jobs++;
    this.#admitWaiting();
    return { key: pick, entries };
  }

  #message(job: Job, slot: Slot): { body: JobBody; transfer: ArrayBuffer[] } {
    const keys = slot.state;
    const has = keys.delete(job.key.id);
    keys.set(job.key.id, true); // most recently used, as the worker's KeyCache.get does
    if (keys.size > this.keyCache) keys.delete(keys.keys().next().value!);
    if (!has) this.#stats.keysSent++;
    const data = packItems(job.entries.map((e) => e.req.items[e.index]!));
    return { body: { keyHash: job.key.keyHash, key: has ? null : job.key.key, data, n: job.entries.length }, transfer: [data] };
  }

  #answered(job: Job, reply: JobReply, slot: Slot): 'done' | 'again' {
    if (reply.type === 'need-key') {
      slot.state.delete(job.key.id); // the mirror was wrong; resend with the bytes
      return 'again';
    }
    this.#stats.verified += reply.answers.length;
    job.entries.forEach((e, i) => this.#answer(e, reply.answers[i]!.ok ? VALID : reply.answers[i]!));
    return 'done';
  }

  /** Records an answer; settles the request when nothing it still needs is outstanding. */
  #answer(e: Entry, a: Answer): void {
    const r = e.req;
    if (!live(e) || r.answers[e.index] !== undefined) return;
    r.answers[e.index] = a;
    r.outstanding--;
    if (r.kind === 'all' && !a.ok) {
      // Items between the new and the old lowest invalid index are no longer needed.
      for (let k = e.index + 1; k < r.best; k++) if (r.answers[k] === undefined) r.outstanding--;
      r.best = e.index;
      this.#dropQueued(r, e.index);
    }
    if (r.outstanding > 0) return;
    r.settled = true;
    this.#live.delete(r);
    if (r.kind === 'each') r.resolve(r.answers as Answer[]);
    else {
      const bad = r.answers[r.best];
      r.resolve(bad === undefined || bad.ok ? { ok: true } : { ok: false, index: r.best, code: bad.code, message: bad.message });
    }
  }

  #reject(r: Request, err: Error): void {
    if (r.settled) return;
    r.settled = true;
    this.#live.delete(r);
    const w = this.#waiting.indexOf(r);
    if (w >= 0) this.#waiting.splice(w, 1);
    else this.#dropQueued(r, -1);
    r.reject(err);
  }

  /** Removes the request's queued items with index > `above`, counting them as cancelled. */
  #dropQueued(r: Request, above: number): void {
    let dropped = 0;
    for (const id of r.keyIds) {
      const q = this.#queues.get(id);
      if (q === undefined) continue;
      const before = q.entries.length;
      q.entries = q.entries.filter((e) => e.req !== r || e.index <= above);
      dropped += before - q.entries.length;
      if (q.entries.length === 0) this.#queues.delete(id);
    }
    this.#queued -= dropped;
    this.#stats.cancelled += dropped;
    if (dropped > 0) this.#admitWaiting();
  }

  /** Rejects calls waiting for room and every request with an item queued or awaiting retry. */
  #refuseUndispatched(err: Error): void {
    const refused = new Set<Request>(this.#waiting);
    for (const q of this.#queues.values()) for (const e of q.entries) refused.add(e.req);
    for (const job of this.#threads.takeRetries()) for (const e of job.entries) refused.add(e.req);
    for (const r of refused) this.#reject(r, err);
  }
}
