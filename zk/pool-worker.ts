/**
 * One worker thread of zk/pool.ts's VerifierPool: it builds the single-threaded curve once, keeps
 * prepared verification keys in a KeyCache (an LRU by key hash) and answers one job at a time —
 * the items of one key, verified by answerGroup (read each by the rule, batch the readable ones,
 * halve a failed batch), exactly what InlineVerifier does for a group of one key.
 *
 * Messages (the pool sends a worker its next job only after the last one's answer):
 *   in:  { type: 'job', id, keyHash, key, data, n, crash } — `key` is the key's bytes, or null when
 *        the pool believes this worker holds the key already; `data` packs the items (packItems).
 *   out: { type: 'ready' } once the curve is built;
 *        { type: 'done', id, answers } an answer per item, in order;
 *        { type: 'need-key', id } the key was not sent and is not here (the pool resends with it);
 *        { type: 'failed', id, message } something other than the rule refused (a bug, not a proof).
 * `crash: true` makes the worker exit at once with code 1: only VerifierPool.crashNextJobsForTest
 * sets it, to exercise the pool's replacement and retry of crashed workers.
 *
 * The pool's record of which keys a worker holds mirrors this KeyCache exactly (same bound, same
 * order of touches: one get per job, none for a 'need-key'), so 'need-key' is only a safety net.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { bn254 } from './curve.ts';
import { ZkError } from './errors.ts';
import { answerGroup, KeyCache, VALID, type Answer } from './verifier.ts';

export interface JobMessage {
  readonly type: 'job';
  readonly id: number;
  readonly keyHash: Uint8Array;
  readonly key: Uint8Array | null;
  readonly data: ArrayBuffer;
  readonly n: number;
  readonly crash: boolean;
}

export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly id: number; readonly answers: Answer[] }
  | { readonly type: 'need-key'; readonly id: number }
  | { readonly type: 'failed'; readonly id: number; readonly message: string };

type Pair = { readonly proof: Uint8Array; readonly signals: Uint8Array };

/**
 * Items' proofs and signals in one buffer, moved (not copied) to the worker: 2n uint32 lengths
 * (proof, signals of each item), then the bytes in the same order. Lengths are kept as given, so a
 * proof of the wrong size reaches the rule and is refused with the same reason as inline.
 */
export function packItems(items: readonly Pair[]): ArrayBuffer {
  let total = 0;
  for (const it of items) total += it.proof.byteLength + it.signals.byteLength;
  const buf = new ArrayBuffer(8 * items.length + total);
  const lens = new Uint32Array(buf, 0, 2 * items.length);
  const bytes = new Uint8Array(buf);
  let at = 8 * items.length;
  items.forEach((it, i) => {
    lens[2 * i] = it.proof.byteLength;
    lens[2 * i + 1] = it.signals.byteLength;
    bytes.set(it.proof, at);
    at += it.proof.byteLength;
    bytes.set(it.signals, at);
    at += it.signals.byteLength;
  });
  return buf;
}

export function unpackItems(buf: ArrayBuffer, n: number): Pair[] {
  const lens = new Uint32Array(buf, 0, 2 * n);
  const out: Pair[] = [];
  let at = 8 * n;
  for (let i = 0; i < n; i++) {
    const proof = new Uint8Array(buf, at, lens[2 * i]!);
    at += proof.byteLength;
    const signals = new Uint8Array(buf, at, lens[2 * i + 1]!);
    at += signals.byteLength;
    out.push({ proof, signals });
  }
  return out;
}

if (parentPort !== null && (workerData as { zkPool?: boolean } | null)?.zkPool === true) {
  const port = parentPort;
  const curve = bn254();
  // Built eagerly, so the first job does not pay for it; 'ready' tells the pool the thread started.
  void curve.then(() => port.postMessage({ type: 'ready' } satisfies WorkerMessage));
  let keys: KeyCache | undefined;

  const run = async (m: JobMessage): Promise<WorkerMessage> => {
    const c = await curve;
    if (m.crash) process.exit(1); // in a worker thread this ends the thread, not the process
    keys ??= new KeyCache((workerData as { keyCache: number }).keyCache, c);
    if (m.key === null && !keys.has(m.keyHash)) return { type: 'need-key', id: m.id };
    const pk = await keys.get(m.keyHash, m.key ?? new Uint8Array(0));
    const items = unpackItems(m.data, m.n);
    const answers: Answer[] =
      pk instanceof ZkError ? items.map(() => ({ ok: false, code: pk.code, message: pk.message })) : answerGroup(pk, items);
    // Valid answers go back as the shared frozen VALID's shape; nothing else is posted per item.
    return { type: 'done', id: m.id, answers: answers.map((a) => (a.ok ? VALID : a)) };
  };

  // Jobs run one after another even if the pool ever posted two (it does not).
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (m: JobMessage) => {
    chain = chain.then(async () => {
      let reply: WorkerMessage;
      try {
        reply = await run(m);
      } catch (e) {
        reply = { type: 'failed', id: m.id, message: e instanceof Error ? e.message : String(e) };
      }
      port.postMessage(reply);
    });
  });
}
