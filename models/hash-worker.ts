/**
 * Hashes one byte range of one file with sha256: the unit of work of model fingerprints (a whole
 * small file, or one 64 MiB shard of a big one). It runs inside a HashPool worker thread (piscina
 * loads this file as the worker; Node 24 strips its types) and, for a pool of no threads, in the
 * calling thread.
 *
 * Reads are large (READ_BYTES, measured in bench/models.bench.ts) into one buffer each thread
 * reuses, and synchronous: a worker does nothing else, so a read it waits for costs no one. The
 * digest goes back as a 32-byte ArrayBuffer moved, not copied; a failure goes back as the text of
 * its message, which the pool turns into FingerprintError 'io' (an Error's class and code do not
 * survive the trip between threads).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { move, workerData } from 'piscina';

/** One range to hash: `length` bytes of the file at `path` from `offset`. */
export interface HashJob {
  path: string;
  offset: number;
  length: number;
}

/**
 * How much one read asks for. Measured on one worker over 2 GiB in the page cache (two runs):
 * 1, 2, 4 and 8 MiB all ~1,400 MB/s, within 3% of each other, 8 MiB last both times; 4 MiB kept.
 */
export const READ_BYTES = 4 * 1024 * 1024;

let buffer: Buffer | null = null;

function readBuffer(size: number): Buffer {
  if (buffer === null || buffer.length !== size) buffer = Buffer.allocUnsafeSlow(size);
  return buffer;
}

/** The sha256 of the range as 32 fresh bytes, or the message of what went wrong (naming the file). */
export function hashRange(job: HashJob, readBytes = READ_BYTES): ArrayBuffer | string {
  const buf = readBuffer(readBytes);
  const hash = createHash('sha256');
  let fd: number | null = null;
  try {
    fd = openSync(job.path, 'r');
    let position = job.offset;
    let left = job.length;
    while (left > 0) {
      const n = readSync(fd, buf, 0, Math.min(left, buf.length), position);
      if (n === 0) {
        return `${job.path}: the file ended at byte ${position}, before the ${job.offset + job.length} it had when listed (changed while hashing?)`;
      }
      hash.update(buf.subarray(0, n));
      position += n;
      left -= n;
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return `${job.path}: cannot read (${e.code ?? e.message})`;
  } finally {
    if (fd !== null) closeSync(fd);
  }
  const digest = hash.digest();
  const out = new Uint8Array(32);
  out.set(digest);
  return out.buffer;
}

/** The worker's task: the pool passes the read size in workerData. */
export default function hashTask(job: HashJob): unknown {
  const result = hashRange(job, (workerData as { readBytes?: number } | null)?.readBytes ?? READ_BYTES);
  return typeof result === 'string' ? result : move(result);
}
