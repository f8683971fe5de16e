/**
 * Model fingerprints against sha256sum, in the same run over the same files: ~2 GiB in 6 files of
 * varied sizes (four above the 64 MiB shard size) plus a few small ones, written to a temp folder
 * and read once so every timing reads from the page cache. Timed, each REPS times, median kept:
 *   - sha256sum over all the files in one process (it is single-threaded; coreutils 9.1 here
 *     hashes in software, where Node's OpenSSL uses the CPU's SHA extensions, which is most of
 *     the gap), and `openssl dgst -sha256` the same way, as a baseline that uses them too;
 *   - fingerprintFiles with one worker thread (threads: 1; goal >= 0.9x sha256sum's speed), and
 *     with none (threads: 0, hashing in the calling thread);
 *   - fingerprintFiles on the default pool (os.availableParallelism() threads; goal >= 1.6x);
 *   - one worker with reads of 1, 2, 4 and 8 MiB, to pick READ_BYTES.
 * Each fingerprintFiles timing is the whole call: walk, pool start, hashing, pool close.
 * HALLMARK_BENCH_MODEL_MB sets the total size (default 2048) for a quick run.
 * Run: npx node bench/models.bench.ts
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, report } from './harness.ts';
import { fingerprintFiles } from '../models/files-fingerprint.ts';
import { HashPool } from '../models/hash-pool.ts';
import { READ_BYTES } from '../models/hash-worker.ts';

const BENCH = 'models';
const MiB = 1024 * 1024;
const TOTAL_MB = Number(process.env.HALLMARK_BENCH_MODEL_MB ?? 2048);
const REPS = 3;
/** Shares of the total: the big files of a checkpoint and its smaller parts. */
const SHARES = [0.34, 0.24, 0.18, 0.12, 0.08, 0.04];
const BLOCK = 16 * MiB;

/** Writes `bytes` of random-looking data: one random block, its first 8 bytes a counter per copy. */
function writeData(path: string, bytes: number, block: Buffer): void {
  const fd = openSync(path, 'w');
  try {
    for (let written = 0, n = 0; written < bytes; written += BLOCK, n++) {
      block.writeBigUInt64BE(BigInt(n) ^ 0x9e3779b97f4a7c15n, 0);
      writeSync(fd, block, 0, Math.min(BLOCK, bytes - written));
    }
  } finally {
    closeSync(fd);
  }
}

function warm(paths: string[]): void {
  const buf = Buffer.allocUnsafe(BLOCK);
  for (const p of paths) {
    const fd = openSync(p, 'r');
    while (readSync(fd, buf, 0, BLOCK, null) > 0);
    closeSync(fd);
  }
}

async function seconds(op: () => unknown): Promise<number> {
  const start = performance.now();
  await op();
  return (performance.now() - start) / 1000;
}

const dir = await mkdtemp(join(tmpdir(), 'hallmark-bench-models-'));
try {
  const block = randomBytes(BLOCK);
  const paths: string[] = [];
  let total = 0;
  for (const [i, share] of SHARES.entries()) {
    const size = Math.round(TOTAL_MB * MiB * share) + i * 4093;
    const path = join(dir, `model-${String(i + 1).padStart(5, '0')}-of-00006.safetensors`);
    writeData(path, size, block);
    paths.push(path);
    total += size;
  }
  for (const [name, text] of [['config.json', '{"hidden_size":4096}'], ['tokenizer.json', 'x'.repeat(200_000)], ['README.md', '# bench\n']] as const) {
    await writeFile(join(dir, name), text);
    paths.push(join(dir, name));
    total += Buffer.byteLength(text);
  }
  warm(paths);
  const mb = total / 1e6;

  const tool = (command: string, args: string[]) => async (): Promise<number> => seconds(() => {
    const r = spawnSync(command, [...args, ...paths], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`${command} exited with ${r.status ?? r.signal}`);
  });
  const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
  const ours = async (threads: number, readBytes = READ_BYTES): Promise<number> => seconds(async () => {
    const pool = new HashPool({ threads, readBytes });
    await fingerprintFiles(dir, { pool });
    await pool.close();
  });

  // Reads of 1, 2, 4 and 8 MiB on one worker.
  for (const readMiB of [1, 2, 4, 8]) {
    const samples: number[] = [];
    for (let i = 0; i < REPS; i++) samples.push(await ours(1, readMiB * MiB));
    report({ bench: BENCH, name: `fingerprint_one_worker_read_${readMiB}MiB`, value: mb / median(samples), unit: 'MB/s', chosen: readMiB * MiB === READ_BYTES });
  }

  const runs: Record<string, () => Promise<number>> = {
    sha256sum: tool('sha256sum', []),
    ...(hasOpenssl ? { openssl: tool('openssl', ['dgst', '-sha256']) } : {}),
    one_worker: () => ours(1),
    in_thread: () => ours(0),
    pool: () => ours(availableParallelism()),
  };
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  for (let i = 0; i < REPS; i++) {
    for (const [name, run] of Object.entries(runs)) samples[name]!.push(await run());
  }
  const secs = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) as Record<string, number>;
  const extra = { files: paths.length, mb: Math.round(mb), reps: REPS, kept: 'median' };
  report({ bench: BENCH, name: 'sha256sum', value: mb / secs.sha256sum!, unit: 'MB/s', ...extra });
  if (hasOpenssl) report({ bench: BENCH, name: 'openssl_dgst_sha256', value: mb / secs.openssl!, unit: 'MB/s' });
  report({ bench: BENCH, name: 'fingerprint_one_worker', value: mb / secs.one_worker!, unit: 'MB/s', threads: 1 });
  report({ bench: BENCH, name: 'fingerprint_in_thread', value: mb / secs.in_thread!, unit: 'MB/s', threads: 0 });
  report({ bench: BENCH, name: 'fingerprint_pool', value: mb / secs.pool!, unit: 'MB/s', threads: availableParallelism() });
  report({ bench: BENCH, name: 'fingerprint_one_worker_vs_sha256sum', value: secs.sha256sum! / secs.one_worker!, unit: 'ratio', goal: 0.9, goal_op: '>=' });
  report({ bench: BENCH, name: 'fingerprint_in_thread_vs_sha256sum', value: secs.sha256sum! / secs.in_thread!, unit: 'ratio' });
  if (hasOpenssl) report({ bench: BENCH, name: 'fingerprint_one_worker_vs_openssl', value: secs.openssl! / secs.one_worker!, unit: 'ratio' });
  report({ bench: BENCH, name: 'fingerprint_pool_vs_sha256sum', value: secs.sha256sum! / secs.pool!, unit: 'ratio', goal: 1.6, goal_op: '>=', threads: availableParallelism() });
} finally {
  await rm(dir, { recursive: true, force: true });
}
