/**
 * The walk of a model fingerprint (format v1): which files under PATH are hashed, under what names.
 *
 * Regular files only, named by their path relative to PATH with '/' separators, sorted by the UTF-8
 * bytes of that path (never locale order). Skipped: directories named `.git`, files named
 * `.gitattributes`, and anything whose name starts with `.hallmark` (where Hallmark keeps its own
 * files). A symlink anywhere, PATH included, is refused unless `followSymlinks` is set; followed,
 * a link that loops (to itself, or to a directory it sits in) or leads to nothing or to something
 * that is neither a file nor a directory is refused. Sockets, fifos and devices are refused. PATH
 * may be a single file (its one entry is named by its basename); a folder with no files is refused.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { FingerprintError } from './errors.ts';

/** One file to hash: its manifest path, where it is on disk, and its size when listed. */
export interface WalkEntry {
  path: string;
  absolute: string;
  size: number;
}

export interface WalkOptions {
  followSymlinks?: boolean;
}

/** Every file under `root` the fingerprint covers, sorted by the UTF-8 bytes of `path`. */
export async function walkFiles(root: string, opts: WalkOptions = {}): Promise<WalkEntry[]> {
  const absolute = resolve(root);
  const st = await entryStats(absolute, opts, new Set());
  if (st.isFile()) return [{ path: basename(absolute), absolute, size: st.size }];
  const out: WalkEntry[] = [];
  await walkDir(absolute, '', opts, new Set([inode(st)]), out);
  if (out.length === 0) throw new FingerprintError('no_files', `no files to fingerprint under ${absolute}`);
  return out.sort((a, b) => comparePaths(a.path, b.path));
}

/** Order of manifest paths: by their UTF-8 bytes. */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Whether the walk passes over an entry with this name and (followed) type. */
export function skipped(name: string, isDirectory: boolean): boolean {
  if (name.startsWith('.hallmark')) return true;
  return isDirectory ? name === '.git' : name === '.gitattributes';
}

async function walkDir(dir: string, prefix: string, opts: WalkOptions, ancestors: Set<string>, out: WalkEntry[]): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw ioError(dir, err, 'cannot list the folder');
  }
  const listed = await Promise.all(names.filter((n) => !n.startsWith('.hallmark')).map(async (name) => {
    const absolute = join(dir, name);
    return { name, absolute, st: await entryStats(absolute, opts, ancestors) };
  }));
  for (const { name, absolute, st } of listed) {
    const isDirectory = st.isDirectory();
    if (skipped(name, isDirectory)) continue;
    const path = prefix + name;
    if (isDirectory) {
      await walkDir(absolute, path + '/', opts, new Set([...ancestors, inode(st)]), out);
    } else {
      out.push({ path, absolute, size: st.size });
    }
  }
}

/**
 * The stats of a file or directory at `absolute`, following a symlink only if allowed; anything
 * else is refused here. `ancestors` are the directories the walk is inside (a link back to one is a loop).
 */
async function entryStats(absolute: string, opts: WalkOptions, ancestors: Set<string>): Promise<Stats> {
  let st: Stats;
  try {
    st = await lstat(absolute);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new FingerprintError('not_found', `${absolute}: no such file or folder`);
    throw ioError(absolute, err, 'cannot stat');
  }
  if (st.isSymbolicLink()) {
    if (!opts.followSymlinks) {
      throw new FingerprintError('symlink', `${absolute}: is a symbolic link (refused unless links are followed)`);
    }
    try {
      st = await stat(absolute);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new FingerprintError('symlink', `${absolute}: symbolic link loop`);
      if (code === 'ENOENT') throw new FingerprintError('symlink', `${absolute}: symbolic link to nothing`);
      throw ioError(absolute, err, 'cannot follow the symbolic link');
    }
    if (st.isDirectory() && ancestors.has(inode(st))) {
      throw new FingerprintError('symlink', `${absolute}: symbolic link loop (links to a folder it is inside)`);
    }
    if (!st.isFile() && !st.isDirectory()) {
      throw new FingerprintError('symlink', `${absolute}: symbolic link to something that is neither a file nor a folder`);
    }
  }
  if (!st.isFile() && !st.isDirectory()) {
    throw new FingerprintError('special_file', `${absolute}: is a ${kind(st)}, not a regular file`);
  }
  return st;
}

function inode(st: Stats): string {
  return `${st.dev}:${st.ino}`;
}

function kind(st: Stats): string {
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'special file';
}

function ioError(path: string, err: unknown, what: string): FingerprintError {
  const e = err as NodeJS.ErrnoException;
  return new FingerprintError('io', `${path}: ${what} (${e.code ?? e.message})`);
}
