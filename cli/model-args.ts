/**
 * What the `model` commands read from the command line and the disk: fingerprints, parents,
 * datasets, training code, eval files, the local fingerprint of a PATH (with the progress bar), and
 * PATH/.hallmark.json, the note `model register` leaves in a registered folder (the walk skips it).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fromHex } from '../chain/bytes.ts';
import { sha256 } from '../chain/hash.ts';
import { MODEL_RELATIONS, type ModelCode, type ModelDataset, type ModelParent, type ModelRelation } from '../chain/model-op.ts';
import { writeFileDurably } from '../chain/durable-file.ts';
import { FingerprintError } from '../models/errors.ts';
import { fingerprintModel, type ModelFingerprint } from '../models/fingerprint.ts';
import { parseSafeInt } from './args.ts';
import { CliError, type CliIo } from './context.ts';
import { progressBar } from './progress.ts';

export const NOTE_FILE = '.hallmark.json';

const HEX32 = /^(?:0x)?([0-9a-fA-F]{64})$/;

/** 32 bytes given as 64 hex digits (an optional 0x). */
export function parseHash(text: string, what: string): Uint8Array {
  const m = HEX32.exec(text);
  if (m === null) throw new CliError('usage', `${what}: expected 64 hex characters, got ${JSON.stringify(text)}`);
  return fromHex(m[1]!.toLowerCase());
}

export const isHash = (text: string) => HEX32.test(text);

/** `FP:RELATION`. */
export function parseParent(text: string): ModelParent {
  const at = text.lastIndexOf(':');
  if (at < 0) throw new CliError('usage', `--parent: expected FINGERPRINT:RELATION, got ${JSON.stringify(text)}`);
  const relation = text.slice(at + 1);
  if (!(MODEL_RELATIONS as readonly string[]).includes(relation)) {
    throw new CliError('usage', `--parent: unknown relation ${JSON.stringify(relation)} (one of ${MODEL_RELATIONS.join(', ')})`);
  }
  return { fingerprint: parseHash(text.slice(0, at), '--parent'), relation: relation as ModelRelation };
}

/** `DIGEST=URI`. */
export function parseDataset(text: string): ModelDataset {
  const at = text.indexOf('=');
  if (at < 0 || at === text.length - 1) throw new CliError('usage', `--dataset: expected DIGEST=URI, got ${JSON.stringify(text)}`);
  return { digest: parseHash(text.slice(0, at), '--dataset'), uri: text.slice(at + 1) };
}

/** `REPO@COMMIT` (the last @ splits, so git@host:repo@commit works). */
export function parseCode(text: string): ModelCode {
  const at = text.lastIndexOf('@');
  const commit = text.slice(at + 1);
  if (at <= 0 || !/^[0-9a-f]{7,64}$/.test(commit)) {
    throw new CliError('usage', `--code: expected REPOSITORY@COMMIT with a lowercase hex commit id (7 to 64 digits), got ${JSON.stringify(text)}`);
  }
  return { repository: text.slice(0, at), commit };
}

/** The sha256 of an eval results file (--eval). */
export async function evalDigest(file: string): Promise<Uint8Array> {
  try {
    return sha256(new Uint8Array(await readFile(file)));
  } catch (err) {
    throw new CliError('usage', `--eval: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Collects a repeatable option's values. */
export const collect = (value: string, previous: string[]) => [...previous, value];

export interface FingerprintCliOptions {
  threads?: string;
  followSymlinks?: boolean;
}

/** Fingerprints PATH with the progress bar on a TTY; a walk or read failure is a usage error naming the file. */
export async function fingerprintPath(io: CliIo, path: string, opts: FingerprintCliOptions = {}): Promise<ModelFingerprint> {
  const threads = opts.threads === undefined ? undefined : parseSafeInt(opts.threads, '--threads');
  const bar = progressBar(io);
  try {
    return await fingerprintModel(path, {
      ...(threads === undefined ? {} : { threads }), followSymlinks: opts.followSymlinks === true,
      ...(bar.onProgress === undefined ? {} : { onProgress: bar.onProgress }),
    });
  } catch (err) {
    if (err instanceof FingerprintError) throw new CliError('usage', err.message);
    throw err;
  } finally {
    bar.stop();
  }
}

/** What `model register` writes into a registered folder. */
export interface ModelNote {
  chain_id: string;
  fingerprint: string;
  tensor_fingerprint: string | null;
  name: string;
  version: string;
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export function writeNote(dir: string, note: ModelNote): string {
  const file = join(dir, NOTE_FILE);
  writeFileDurably(file, `${JSON.stringify(note, null, 2)}\n`);
  return file;
}

/** PATH/.hallmark.json, or undefined when PATH is not a folder or has none; a malformed one is a usage error. */
export async function readNote(dir: string): Promise<ModelNote | undefined> {
  if (!(await isDirectory(dir))) return undefined;
  const file = join(dir, NOTE_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let note: unknown;
  try {
    note = JSON.parse(text);
  } catch (err) {
    throw new CliError('usage', `${file}: not valid JSON: ${(err as Error).message}`);
  }
  const n = note as Partial<ModelNote> | null;
  if (n === null || typeof n !== 'object' || typeof n.fingerprint !== 'string' || !HEX32.test(n.fingerprint)) {
    throw new CliError('usage', `${file}: fingerprint: expected 64 hex characters`);
  }
  return n as ModelNote;
}
