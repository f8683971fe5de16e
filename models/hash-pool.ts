/**
 * A pool of worker threads that hash byte ranges of files (models/hash-worker.ts does one range),
 * so a model's files and shards are hashed on every core at once. Built on piscina, which loads the
 * .ts worker under Node 24's type stripping like any other module.
 *
 * `threads` defaults to os.availableParallelism(); `threads: 0` hashes in the calling thread, one
 * range per turn of the event loop, with no workers at all. Idle workers are unref'd by piscina and
 * close() destroys them, so the pool never keeps a process alive once closed; close() may be called
 * any number of times.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { FingerprintError } from './errors.ts';
import { hashRange, READ_BYTES, type HashJob } from './hash-worker.ts';

export type { HashJob } from './hash-worker.ts';

export interface HashPoolOptions {
  /** Worker threads; 0 hashes in the calling thread. Default: os.availableParallelism(). */
  threads?: number;
  /** Bytes per read (the bench measures a few); default READ_BYTES. */
  readBytes?: number;
}

const WORKER = new URL('./hash-worker.ts', import.meta.url).href;

export class HashPool {
  readonly threads: number;
  readonly readBytes: number;
  #piscina: Piscina | null;
  #closing: Promise<void> | null = null;

  constructor(opts: HashPoolOptions = {}) {
    const threads = opts.threads ?? Math.max(1, availableParallelism());
    if (!Number.isSafeInteger(threads) || threads < 0) throw new RangeError(`HashPool: threads must be a whole number >= 0, got ${threads}`);
    const readBytes = opts.readBytes ?? READ_BYTES;
    if (!Number.isSafeInteger(readBytes) || readBytes < 4096) throw new RangeError(`HashPool: readBytes must be a whole number >= 4096, got ${readBytes}`);
    this.threads = threads;
    this.readBytes = readBytes;
    this.#piscina = threads === 0 ? null : new Piscina({
      filename: WORKER,
      minThreads: threads,
      maxThreads: threads,
      workerData: { readBytes },
    });
  }

  /** The sha256 of `length` bytes of `path` from `offset`; FingerprintError 'io' if it cannot be read. */
  async hash(job: HashJob): Promise<Uint8Array> {
    if (this.#closing !== null) throw new Error('HashPool: hash() after close()');
    const { path, offset, length } = job;
    let result: ArrayBuffer | string;
    if (this.#piscina === null) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      result = hashRange({ path, offset, length }, this.readBytes);
    } else {
      result = (await this.#piscina.run({ path, offset, length })) as ArrayBuffer | string;
    }
    if (typeof result === 'string') throw new FingerprintError('io', result);
    return new Uint8Array(result);
  }

  /** Stops the workers (pending hashes are rejected); idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#piscina === null ? Promise.resolve() : this.#piscina.destroy();
    return this.#closing;
  }
}
