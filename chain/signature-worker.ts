/**
 * One worker thread of chain/signature-pool.ts: it answers a job of signed items by THE rule
 * (chain/signature.ts, with this thread's own KeyObject cache), one job at a time, through
 * chain/worker-pool.ts's serveJobs.
 *
 *   in:  { all, data, n } — `data` packs the items (packSigned); `all` asks for a stop at the first
 *        invalid item (firstInvalid), else every item is answered (verifyBatch).
 *   out: { answers } — one byte per item: VALID, INVALID, or UNCHECKED (after the first invalid).
 */
import { workerData } from 'node:worker_threads';
import { serveJobs } from './worker-pool.ts';
import { firstInvalid, verifyBatch, type SignedItem } from './signature.ts';

export const INVALID = 0;
export const VALID = 1;
export const UNCHECKED = 2;

export interface SignatureJob {
  readonly all: boolean;
  readonly data: ArrayBuffer;
  readonly n: number;
}

export interface SignatureReply {
  readonly answers: Uint8Array;
}

/**
 * Items in one buffer, moved (not copied) to the worker: 3n uint32 lengths (key, message,
 * signature of each item), then the bytes in the same order. Lengths are kept as given, so a key
 * or signature of the wrong length reaches the rule and is invalid there, as inline.
 */
export function packSigned(items: readonly SignedItem[]): ArrayBuffer {
  let total = 0;
  for (const it of items) total += it.publicKey.byteLength + it.message.byteLength + it.signature.byteLength;
  const head = 12 * items.length;
  const buf = new ArrayBuffer(head + total);
  const lens = new Uint32Array(buf, 0, 3 * items.length);
  const bytes = new Uint8Array(buf);
  let at = head;
  const put = (slot: number, part: Uint8Array): void => {
    lens[slot] = part.byteLength;
    bytes.set(part, at);
    at += part.byteLength;
  };
  items.forEach((it, i) => {
    put(3 * i, it.publicKey);
    put(3 * i + 1, it.message);
    put(3 * i + 2, it.signature);
  });
  return buf;
}

export function unpackSigned(buf: ArrayBuffer, n: number): SignedItem[] {
  const lens = new Uint32Array(buf, 0, 3 * n);
  const out: SignedItem[] = [];
  let at = 12 * n;
  const take = (len: number): Uint8Array => {
    const part = new Uint8Array(buf, at, len);
    at += len;
    return part;
  };
  for (let i = 0; i < n; i++) out.push({ publicKey: take(lens[3 * i]!), message: take(lens[3 * i + 1]!), signature: take(lens[3 * i + 2]!) });
  return out;
}

/** The answers to one job, as the worker computes them. */
export function answerJob(job: SignatureJob): Uint8Array<ArrayBuffer> {
  const items = unpackSigned(job.data, job.n);
  const answers = new Uint8Array(job.n);
  if (job.all) {
    const bad = firstInvalid(items);
    answers.fill(VALID, 0, bad < 0 ? job.n : bad);
    if (bad >= 0) answers.fill(UNCHECKED, bad).fill(INVALID, bad, bad + 1);
  } else {
    verifyBatch(items).forEach((ok, i) => (answers[i] = ok ? VALID : INVALID));
  }
  return answers;
}

if ((workerData as { signaturePool?: boolean } | null)?.signaturePool === true) {
  serveJobs(() => null, (_: null, job: SignatureJob) => {
    const answers = answerJob(job);
    return { body: { answers } satisfies SignatureReply, transfer: [answers.buffer] };
  });
}
