/**
 * What this machine gives in parallel right now: `threads` plain worker threads (no pool) each
 * looping verifyBatch over its own signatures at once, against one thread alone, as a ratio of
 * summed rates. On a quiet 2-core machine it is ~2; on a shared one (vCPUs of an overcommitted
 * host, other benchmarks) it can be much less, and no pool can beat it. bench/signature.bench.ts
 * reports the pool's gains beside it.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { utf8 } from '../chain/bytes.ts';
import { publicKeyOf, secretKeyFromSeed, sign } from '../chain/keys.ts';
import { verifyBatch, type SignedItem } from '../chain/signature.ts';

function loop(ms: number): number {
  const items: SignedItem[] = Array.from({ length: 64 }, (_, i) => {
    const sk = secretKeyFromSeed(`ceiling-${i}`);
    const message = utf8(`ceiling ${i}`.padEnd(120, '.'));
    return { publicKey: publicKeyOf(sk), message, signature: sign(sk, message) };
  });
  verifyBatch(items);
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) n += verifyBatch(items).length;
  return (n * 1000) / (performance.now() - start);
}

async function inThreads(threads: number, ms: number): Promise<number> {
  const url = new URL(import.meta.url);
  const workers = Array.from({ length: threads }, () => new Worker(url, { workerData: { ceilingMs: ms } }));
  const rates = await Promise.all(workers.map((w) => new Promise<number>((resolve, reject) => w.once('message', resolve).once('error', reject))));
  await Promise.all(workers.map((w) => w.terminate()));
  return rates.reduce((a, b) => a + b, 0);
}

/** Summed rate of `threads` threads verifying at once / the rate of one thread alone. */
export async function parallelCeiling(threads: number, ms = 600): Promise<number> {
  const one = await inThreads(1, ms);
  return (await inThreads(threads, ms)) / one;
}

if (!isMainThread && (workerData as { ceilingMs?: number } | null)?.ceilingMs !== undefined) {
  parentPort!.postMessage(loop((workerData as { ceilingMs: number }).ceilingMs));
}
