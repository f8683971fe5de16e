/**
 * The model name index beside the tree, in LevelDB: `0x79 || lowercased name || 0x00 || fingerprint`
 * -> empty, one entry per record, written in each block's batch from the block's state writes (as
 * contract storage's index is, execution/contracts.ts). It is not proven: model_search answers with
 * the records it finds, and those are. Names never change and records are never deleted, so
 * entries are only ever added.
 */
import type { Level } from 'level';
import { compareBytes, concatBytes, utf8 } from '../chain/bytes.ts';
import { decodeModelRecord, isRecordKey } from '../models/record.ts';
import type { IndexSnapshot } from './contracts.ts';

export const NAME_INDEX = 0x79; // 'y'

/** Names are searched without regard to case: the index holds each name lowercased. */
export function nameIndexKey(name: string, fp: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(NAME_INDEX), utf8(name.toLowerCase()), Uint8Array.of(0), fp);
}

export function nameIndexRange(prefix: string): { gte: Uint8Array; lt: Uint8Array } {
  const p = utf8(prefix.toLowerCase());
  return { gte: concatBytes(Uint8Array.of(NAME_INDEX), p), lt: concatBytes(Uint8Array.of(NAME_INDEX), p, Uint8Array.of(0xff)) };
}

/** The fingerprint at the end of a name index key. */
export const fingerprintOfNameKey = (key: Uint8Array) => key.subarray(key.length - 32);

/** The name index entries for a block's state writes: one per record written (names never change). */
export function nameIndexOps(writes: Iterable<readonly [Uint8Array, Uint8Array | null]>): { type: 'put'; key: Uint8Array; value: Uint8Array }[] {
  const ops: { type: 'put'; key: Uint8Array; value: Uint8Array }[] = [];
  for (const [key, value] of writes) {
    if (value === null || !isRecordKey(key)) continue;
    ops.push({ type: 'put', key: nameIndexKey(decodeModelRecord(value).name, key.subarray(1)), value: new Uint8Array(0) });
  }
  return ops;
}

/** Up to `limit` name index keys for `prefix`, after `after`, read through `snapshot`. */
export async function nameIndexKeys(
  db: Level<Uint8Array, Uint8Array>, snapshot: IndexSnapshot, prefix: string, after: Uint8Array | undefined, limit: number,
): Promise<Uint8Array[]> {
  const range = nameIndexRange(prefix);
  const keys: Uint8Array[] = [];
  const bound = after !== undefined && compareBytes(after, range.gte) >= 0 ? { gt: after } : { gte: range.gte };
  for await (const key of db.keys({ ...bound, lt: range.lt, limit, snapshot })) keys.push(key);
  return keys;
}
