/**
 * The consensus WAL on disk (the `WalStore` port of consensus/wal.ts).
 *
 * Layout: a directory of files named by the first height they may hold, zero-padded so names sort
 * by height (`00000000000000000000.wal` for a fresh log, then `<h+1>.wal` after end-height h).
 * Each file is a run of records: u32be length || u32be crc32(payload) || payload, where the
 * payload is one encoded WalEntry (1 byte to MAX_WAL_ENTRY_BYTES).
 *
 * Rotation: `endHeight(h)` appends end-height(h) and syncs; if the current file has reached
 * `rotateBytes` it then starts `<h+1>.wal` and deletes every file but the new one and the one just
 * finished. The finished file keeps end-height(h) (the marker a restart at h+1 looks for) and
 * the last heights for debugging, so the log stays around two files whatever the chain's length.
 *
 * I/O is synchronous on purpose: the consensus driver is synchronous, and "written before acted
 * on" is simplest to keep when `append(..., {sync: true})` returns only after fdatasync.
 *
 * Recovery on open: a crash mid-append leaves a torn last record (short header, short payload, or
 * a bad checksum on the file's final record); it is cut off and the file truncated to the last good
 * record, so later appends follow valid data. A bad record with valid records after it is not a
 * torn write but damage, and opening or reading fails with WalError 'corrupt' naming the file and
 * byte offset. A length field that points past the end of the file cannot be told from a torn
 * write and is cut. A length above the cap is damage, never an allocation.
 *
 * One process owns a WAL directory at a time; nothing here locks it.
 */
import { closeSync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CodecError } from '../chain/codec.ts';
import { syncDirectory } from '../chain/durable-file.ts';
import { decodeWalEntry, encodeWalEntry, MAX_WAL_ENTRY_BYTES, WalError, type WalEntry, type WalStore } from '../consensus/wal.ts';

export const WAL_RECORD_HEADER_BYTES = 8;
/** Start a new file once the current one is this large (checked at end of height). */
export const DEFAULT_ROTATE_BYTES = 8 << 20;
/** How many bytes of checksums a damaged file may cost to decide whether valid records follow. */
const SEARCH_BUDGET_BYTES = 256 << 20;

const FILE_NAME = /^(\d{20})\.wal$/;

export interface FileWalOptions {
  dir: string;
  rotateBytes?: number;
}

/** A torn tail cut off while opening, for the operator's log. */
export interface WalRecovery {
  file: string;
  /** The file's length before and after the cut. */
  from: number;
  to: number;
}

export function walFileName(startHeight: number): string {
  return `${String(startHeight).padStart(20, '0')}.wal`;
}

export class FileWal implements WalStore {
  readonly dir: string;
  readonly rotateBytes: number;
  readonly recovered: WalRecovery | null;
  #fd: number | null;
  #file: string;
  #start: number;
  #size: number;
  #failed: Error | null = null;

  /** `dir` alone, or options; the directory is created if missing. */
  constructor(dirOrOpts: string | FileWalOptions) {
    const opts = typeof dirOrOpts === 'string' ? { dir: dirOrOpts } : dirOrOpts;
    if (!opts || typeof opts.dir !== 'string' || opts.dir === '') throw new TypeError('FileWal: expected a directory path or { dir }');
    const rotateBytes = opts.rotateBytes ?? DEFAULT_ROTATE_BYTES;
    if (!Number.isSafeInteger(rotateBytes) || rotateBytes < 0) throw new RangeError('FileWal: rotateBytes must be a non-negative integer');
    this.dir = opts.dir;
    this.rotateBytes = rotateBytes;
    if (mkdirSync(this.dir, { recursive: true }) !== undefined) syncDirectory(dirname(this.dir));
    const files = this.files();
    if (files.length === 0) {
      this.#start = 0;
      this.#file = join(this.dir, walFileName(0));
      this.#fd = openSync(this.#file, 'wx');
      syncDirectory(this.dir);
      this.#size = 0;
      this.recovered = null;
      return;
    }
    const name = files[files.length - 1]!;
    this.#start = Number(FILE_NAME.exec(name)![1]);
    this.#file = join(this.dir, name);
    const buf = readFileSync(this.#file);
    const { end } = scanRecords(buf, this.#file, true);
    this.#fd = openSync(this.#file, 'r+');
    if (end < buf.length) {
      ftruncateSync(this.#fd, end);
      fdatasyncSync(this.#fd);
      this.recovered = { file: this.#file, from: buf.length, to: end };
    } else {
      this.recovered = null;
    }
    this.#size = end;
  }

  /** The log's file names, oldest first. */
  files(): string[] {
    return readdirSync(this.dir).filter((n) => FILE_NAME.test(n)).sort();
  }

  /** The file being appended to. */
  get currentFile(): string {
    return this.#file;
  }

  append(entry: WalEntry, opts: { sync: boolean }): void {
    const fd = this.#writable();
    const payload = encodeWalEntry(entry);
    if (payload.length > MAX_WAL_ENTRY_BYTES) throw new RangeError(`WAL entry of ${payload.length} bytes exceeds ${MAX_WAL_ENTRY_BYTES}`);
    const record = Buffer.allocUnsafe(WAL_RECORD_HEADER_BYTES + payload.length);
    record.writeUInt32BE(payload.length, 0);
    record.writeUInt32BE(crc32(payload), 4);
    record.set(payload, WAL_RECORD_HEADER_BYTES);
    try {
      let done = 0;
      while (done < record.length) done += writeSync(fd, record, done, record.length - done, this.#size + done);
    } catch (err) {
      // Take the partial record back, or later records would sit behind damage.
      try {
        ftruncateSync(fd, this.#size);
      } catch {
        throw this.#fail(err);
      }
      throw err;
    }
    this.#size += record.length;
    if (opts.sync) this.#sync(fd);
  }

  endHeight(height: number): void {
    this.append({ kind: 'end-height', height }, { sync: true });
    if (this.#size < this.rotateBytes || height + 1 <= this.#start) return;
    const fd = this.#fd!;
    this.#fd = null;
    closeSync(fd);
    this.#start = height + 1;
    this.#file = join(this.dir, walFileName(this.#start));
    try {
      this.#fd = openSync(this.#file, 'wx');
      syncDirectory(this.dir);
    } catch (err) {
      throw this.#fail(err);
    }
    this.#size = 0;
    const files = this.files();
    for (const name of files.slice(0, -2)) unlinkSync(join(this.dir, name));
  }

  readAll(): WalEntry[] {
    if (this.#fd === null && this.#failed === null) throw new WalError('closed', `the WAL in ${this.dir} is closed`);
    const files = this.files();
    const entries: WalEntry[] = [];
    files.forEach((name, i) => {
      const path = join(this.dir, name);
      for (const { offset, payload } of scanRecords(readFileSync(path), path, i === files.length - 1).records) {
        try {
          entries.push(decodeWalEntry(payload));
        } catch (err) {
          if (!(err instanceof CodecError)) throw err;
          throw new WalError('corrupt', `WAL file ${path}: the record at byte ${offset} has a valid checksum but is not a WAL entry (${err.message}); `
            + 'it was written by another version or the file is not a Hallmark WAL');
        }
      }
    });
    return entries;
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  #writable(): number {
    if (this.#failed) throw new WalError('failed', `the WAL in ${this.dir} failed earlier (${this.#failed.message}) and cannot be trusted; restart the node`);
    if (this.#fd === null) throw new WalError('closed', `the WAL in ${this.dir} is closed`);
    return this.#fd;
  }

  #sync(fd: number): void {
    try {
      fdatasyncSync(fd);
    } catch (err) {
      // After a failed fsync the kernel may have dropped the dirty pages: nothing written since the
      // last good sync can be trusted to be on disk, so stop rather than carry on.
      throw this.#fail(err);
    }
  }

  #fail(err: unknown): WalError {
    this.#failed = err instanceof Error ? err : new Error(String(err));
    if (this.#fd !== null) {
      try {
        closeSync(this.#fd);
      } catch { /* already failing */ }
      this.#fd = null;
    }
    const e = new WalError('failed', `the WAL in ${this.dir} failed (${this.#failed.message}); restart the node once the disk is healthy`);
    e.cause = err;
    return e;
  }
}

export interface WalRecord {
  offset: number;
  payload: Uint8Array;
}

/**
 * The records of one file and where the good ones end. With `allowTornTail` a bad record that
 * nothing valid follows is the torn tail (left out, `end` before it); otherwise, or when valid
 * records follow, it is WalError 'corrupt'.
 */
export function scanRecords(buf: Uint8Array, file: string, allowTornTail: boolean): { records: WalRecord[]; end: number } {
  const records: WalRecord[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = 0;
  while (o < buf.length) {
    const remaining = buf.length - o;
    let reason: string;
    let torn: boolean;
    if (remaining < WAL_RECORD_HEADER_BYTES) {
      reason = `a ${remaining}-byte record header`;
      torn = true;
    } else {
      const len = view.getUint32(o);
      const end = o + WAL_RECORD_HEADER_BYTES + len;
      if (len === 0 || len > MAX_WAL_ENTRY_BYTES) {
        reason = `record length ${len} outside 1..${MAX_WAL_ENTRY_BYTES}`;
        torn = !validRecordFrom(buf, view, o + 1);
      } else if (end > buf.length) {
        reason = `a ${len}-byte record with ${remaining - WAL_RECORD_HEADER_BYTES} bytes present`;
        torn = true;
      } else {
        const payload = buf.subarray(o + WAL_RECORD_HEADER_BYTES, end);
        if (crc32(payload) === view.getUint32(o + 4)) {
          records.push({ offset: o, payload });
          o = end;
          continue;
        }
        reason = 'a checksum mismatch';
        torn = end === buf.length || !validRecordFrom(buf, view, end);
      }
    }
    if (allowTornTail && torn) return { records, end: o };
    throw new WalError('corrupt', `WAL file ${file} is damaged at byte ${o} (${reason})`
      + (torn ? ' in a file that is not the newest, so it is not a torn write from a crash. ' : ', and valid records follow it, so it is not a torn write from a crash. ')
      + 'The WAL holds what this validator saw and signed in its current height. Restore the file from a backup; or, accepting the loss of '
      + `everything from byte ${o} on, truncate it to ${o} bytes and remove any newer WAL files (the double-sign guard still refuses conflicting signatures).`);
  }
  return { records, end: o };
}

/** Whether a record with a valid checksum starts anywhere at or after `from` (within a budget). */
function validRecordFrom(buf: Uint8Array, view: DataView, from: number): boolean {
  let budget = SEARCH_BUDGET_BYTES;
  for (let p = from; p + WAL_RECORD_HEADER_BYTES < buf.length; p++) {
    const len = view.getUint32(p);
    if (len === 0 || len > MAX_WAL_ENTRY_BYTES || p + WAL_RECORD_HEADER_BYTES + len > buf.length) continue;
    budget -= len;
    // Out of budget we cannot show that nothing valid follows, so we do not cut.
    if (budget < 0) return true;
    if (crc32(buf.subarray(p + WAL_RECORD_HEADER_BYTES, p + WAL_RECORD_HEADER_BYTES + len)) === view.getUint32(p + 4)) return true;
  }
  return false;
}
