/**
 * One worker thread of zk/pool.ts's VerifierPool: it builds the single-threaded curve once, keeps
 * prepared verification keys in a KeyCache (an LRU by key hash) and answers one job at a time —
 * the items of one key, verified by answerGroup (read each by the rule, batch the readable ones,
 * halve a failed batch), exactly what InlineVerifier does for a group of one key.
 *
 * Messages (chain/worker-pool.ts carries them, says 'ready' once the curve is built, and reports a
 * handler that throws as 'failed'; the pool sends a worker its next job only after the last one's
 * answer):
 *   in:  { keyHash, key, data, n } — `key` is the key's bytes, or null when the pool believes this
 *        worker holds the key already; `data` packs the items (packItems).
 *   out: { type: 'done', answers } an answer per item, in order;
 *        { type: 'need-key' } the key was not sent and is not here (the pool resends with it).
 *
 * The pool's record of which keys a worker holds mirrors this KeyCache exactly (same bound, same
 * order of touches: one get per job, none for a 'need-key'), so 'need-key' is only a safety net.
 */
import { workerData } from 'node:worker_threads';
import { serveJobs } from '../chain/worker-pool.ts';
import { bn254, type Curve } from './curve.ts';
import { ZkError } from './errors.ts';
import { answerGroup, KeyCache, VALID, type Answer } from './verifier.ts';

export interface JobBody {
  readonly keyHash: Uint8Array;
  readonly key: Uint8Array | null;
  readonly data: ArrayBuffer;
  readonly n: number;
}

export type JobReply = { readonly type: 'done'; readonly answers: Answer[] } | { readonly type: 'need-key' };

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

if ((workerData as { zkPool?: boolean } | null)?.zkPool === true) {
  let keys: KeyCache | undefined;
  serveJobs(bn254, async (c: Curve, m: JobBody): Promise<{ body: JobReply }> => {
    keys ??= new KeyCache((workerData as { keyCache: number }).keyCache, c);
    if (m.key === null && !keys.has(m.keyHash)) return { body: { type: 'need-key' } };
    const pk = await keys.get(m.keyHash, m.key ?? new Uint8Array(0));
    const items = unpackItems(m.data, m.n);
    const answers: Answer[] =
      pk instanceof ZkError ? items.map(() => ({ ok: false, code: pk.code, message: pk.message })) : answerGroup(pk, items);
    // Valid answers go back as the shared frozen VALID's shape; nothing else is posted per item.
    return { body: { type: 'done', answers: answers.map((a) => (a.ok ? VALID : a)) } };
  });
}
