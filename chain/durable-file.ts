/**
 * Writing a file whose loss or tearing matters: genesis, config, keys, the node key, the
 * double-sign guard state. The bytes go to a temporary file beside it and are fsynced; only then
 * does the file take its name, and the directory is fsynced so the name survives a power cut. A
 * reader, at any moment or after any crash, finds the old file whole or the new one whole.
 *
 * Here in chain/ because every folder that writes such a file may import chain/ (p2p/ may import
 * nothing else). One writer per file at a time: the node holds its data directory's lock, and init
 * and testnet are single commands; `exclusive` is for creators that may race (two starts).
 */
import { closeSync, fchmodSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { toHex } from './bytes.ts';

export interface DurableWriteOptions {
  /**
   * Create only: if the file exists, throw an Error with code 'EEXIST' and leave it alone. The
   * temporary file is linked to the name, so of two racing creators exactly one wins.
   */
  exclusive?: boolean;
  /** The file's mode, set exactly (the umask does not apply): 0o600 for a secret. */
  mode?: number;
}

/**
 * Writes `data` to `path` durably (see above). A failure removes the temporary file; a crash may
 * leave one, `<path>.tmp` (replaced by the next write) or `<path>.<random>.tmp` when exclusive,
 * which no reader opens.
 */
export function writeFileDurably(path: string, data: string | Uint8Array, opts: DurableWriteOptions = {}): void {
  const tmp = opts.exclusive ? `${path}.${toHex(crypto.getRandomValues(new Uint8Array(6)))}.tmp` : `${path}.tmp`;
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let renamed = false;
  try {
    const fd = openSync(tmp, opts.exclusive ? 'wx' : 'w', opts.mode ?? 0o666);
    try {
      if (opts.mode !== undefined) fchmodSync(fd, opts.mode);
      for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (opts.exclusive) linkSync(tmp, path);
    else renameSync(tmp, path);
    renamed = !opts.exclusive;
  } finally {
    // After a link the temporary name goes too; after a rename it is gone already.
    if (!renamed) rmSync(tmp, { force: true });
  }
  syncDirectory(dirname(path));
}

/** Makes the directory's entries (a file created, renamed or removed in it) survive a power cut. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
