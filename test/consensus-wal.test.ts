/**
 * The consensus WAL: entry codec, replay selection, the in-memory store, and the file store's
 * framing, torn-tail recovery, corruption reports and rotation, all on real files.
 */
import t from 'tap';
import { existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CodecError, encodeCanonical } from '../chain/codec.ts';
import { PRECOMMIT, PREVOTE, encodeVote, type Vote } from '../chain/vote.ts';
import type { Proposal } from '../chain/proposal.ts';
import { decodeWalEntry, encodeWalEntry, entriesToReplay, MemoryWal, WalError, type WalEntry } from '../consensus/wal.ts';
import { FileWal, walFileName, WAL_RECORD_HEADER_BYTES } from '../node/wal-file.ts';
import { errorCode } from './fixtures/errors.ts';

const hash = (n: number) => new Uint8Array(32).fill(n);
const sig = (n: number) => new Uint8Array(64).fill(n);

function vote(height: number, round: number, type: 1 | 2 = PREVOTE, blockHash: Uint8Array | null = hash(height)): Vote {
  return { type, height, round, blockHash, validator: new Uint8Array(20).fill(7), signature: sig(height + round) };
}
function proposal(height: number, round: number, validRound = -1): Proposal {
  return { height, round, validRound, blockHash: hash(height), signature: sig(9) };
}

const samples: WalEntry[] = [
  { kind: 'proposal', proposal: proposal(3, 0), block: Uint8Array.from([1, 2, 3, 4, 5]) },
  { kind: 'proposal', proposal: proposal(3, 2, 1), block: new Uint8Array(0) },
  { kind: 'vote', vote: vote(3, 0) },
  { kind: 'vote', vote: vote(3, 1, PRECOMMIT, null) },
  { kind: 'timeout', timeout: 'propose', height: 3, round: 0 },
  { kind: 'timeout', timeout: 'prevote', height: 3, round: 1 },
  { kind: 'timeout', timeout: 'precommit', height: 3, round: 7 },
  { kind: 'end-height', height: 3 },
  { kind: 'start', height: 4 },
];

/** A height's worth of entries, followed by its end marker. */
function heightEntries(h: number): WalEntry[] {
  return [
    { kind: 'start', height: h },
    { kind: 'proposal', proposal: proposal(h, 0), block: new Uint8Array(40).fill(h) },
    { kind: 'vote', vote: vote(h, 0) },
    { kind: 'vote', vote: vote(h, 0, PRECOMMIT) },
  ];
}

t.test('entry codec: every kind round-trips to the same bytes', async (t) => {
  for (const e of samples) {
    const bytes = encodeWalEntry(e);
    const back = decodeWalEntry(bytes);
    t.same(back, e, e.kind);
    t.same(encodeWalEntry(back), bytes, `${e.kind} re-encodes identically`);
  }
});

t.test('entry codec: bad bytes are a CodecError with a code', async (t) => {
  const voteBytes = encodeVote(vote(3, 0));
  const good = encodeWalEntry(samples[0]!);
  const rows: [string, Uint8Array, string][] = [
    ['empty', new Uint8Array(0), 'malformed'],
    ['truncated', good.subarray(0, good.length - 1), 'malformed'],
    ['trailing byte', Uint8Array.from([...good, 0]), 'malformed'],
    ['not a list', encodeCanonical(4), 'schema'],
    ['empty list', encodeCanonical([]), 'schema'],
    ['unknown tag', encodeCanonical([9, 3]), 'schema'],
    ['text tag', encodeCanonical(['vote', voteBytes]), 'schema'],
    ['end-height with extra field', encodeCanonical([4, 3, 0]), 'schema'],
    ['negative-looking height', encodeCanonical([4, 'x']), 'schema'],
    ['timeout step 0', encodeCanonical([3, 0, 3, 0]), 'schema'],
    ['timeout step 4', encodeCanonical([3, 4, 3, 0]), 'schema'],
    ['vote bytes that are not a vote', encodeCanonical([2, Uint8Array.from([1, 2])]), 'malformed'],
    ['vote given as a list', encodeCanonical([2, [1, 3, 0, null, new Uint8Array(20), sig(1)]]), 'schema'],
    ['proposal without block', encodeCanonical([1, [3, 0, null, hash(3), sig(1)]]), 'schema'],
    ['proposal validRound not below round', encodeCanonical([1, [3, 1, 1, hash(3), sig(1)], new Uint8Array(0)]), 'schema'],
    ['non-minimal integer', Uint8Array.from([0x82, 0x18, 0x04, 0x03]), 'malformed'],
  ];
  for (const [name, bytes, code] of rows) {
    t.throws(() => decodeWalEntry(bytes), CodecError, name);
    t.equal(errorCode(() => decodeWalEntry(bytes)), code, `${name}: ${code}`);
  }
});

t.test('entry codec: invalid entries are refused before encoding', async (t) => {
  t.throws(() => encodeWalEntry({ kind: 'timeout', timeout: 'commit' as 'propose', height: 1, round: 0 }), RangeError);
  t.throws(() => encodeWalEntry({ kind: 'end-height', height: -1 }), RangeError);
  t.throws(() => encodeWalEntry({ kind: 'start', height: 1.5 }), RangeError);
  t.throws(() => encodeWalEntry({ kind: 'nope' } as unknown as WalEntry), TypeError);
  t.throws(() => encodeWalEntry({ kind: 'vote', vote: { ...vote(1, 0), signature: sig(1).subarray(1) } }), /would not read back: vote.signature/,
    'an entry that would not decode is refused');
  t.throws(() => encodeWalEntry({ kind: 'proposal', proposal: proposal(3, 0), block: 'abc' as unknown as Uint8Array }), TypeError);
});

t.test('entriesToReplay picks what a node restarting at a height feeds back', async (t) => {
  const h4 = heightEntries(4);
  const h5 = heightEntries(5);
  const end = (height: number): WalEntry => ({ kind: 'end-height', height });
  const log = [...heightEntries(3), end(3), ...h4, end(4), ...h5];
  t.same(entriesToReplay(log, 5), h5, 'the suffix after end-height(4)');
  t.same(entriesToReplay([...log.slice(0, -h5.length)], 5), [], 'nothing yet at the new height');
  t.same(entriesToReplay(h4, 4), h4, 'a fresh log without markers replays its height');
  t.same(entriesToReplay([...h4, end(4), ...heightEntries(5), ...heightEntries(6)], 6), heightEntries(6),
    'heights left by block sync without a marker are dropped');
  const future: WalEntry = { kind: 'vote', vote: vote(6, 0) };
  t.same(entriesToReplay([...log, future], 5), h5, 'entries buffered for a later height are left out');
  t.same(entriesToReplay([], 1), []);
  t.throws(() => entriesToReplay(log, 4), WalError, 'end-height(4) while at height 4');
  t.equal(errorCode(() => entriesToReplay(log, 3)), 'ahead', 'the log is ahead of the node');
  t.match(String((() => { try { entriesToReplay(log, 4); } catch (e) { return (e as Error).message; } })()), /height 4 was committed but the node is at height 4/);
  t.throws(() => entriesToReplay(log, -1), RangeError);
});

t.test('MemoryWal: appends, keeps the last two heights, loses only unsynced entries on a crash', async (t) => {
  const wal = new MemoryWal();
  for (const e of heightEntries(1)) wal.append(e, { sync: false });
  wal.endHeight(1);
  for (const e of heightEntries(2)) wal.append(e, { sync: true });
  wal.endHeight(2);
  t.same(wal.readAll(), [{ kind: 'end-height', height: 1 }, ...heightEntries(2), { kind: 'end-height', height: 2 }], 'trimmed to the previous marker');
  const [a, b] = heightEntries(3);
  wal.append(a!, { sync: true });
  wal.append(b!, { sync: false });
  wal.simulateCrash();
  t.same(entriesToReplay(wal.readAll(), 3), [a], 'the unsynced entry is gone');
  t.throws(() => wal.append({ kind: 'timeout', timeout: 'bad' as 'propose', height: 3, round: 0 }, { sync: true }), RangeError);
  wal.close();
  t.equal(errorCode(() => wal.readAll()), 'closed');
  t.equal(errorCode(() => wal.append(a!, { sync: true })), 'closed');
});

t.test('FileWal: appends and reads back across reopening', async (t) => {
  const dir = join(t.testdir(), 'wal');
  const wal = new FileWal(dir);
  t.equal(wal.recovered, null);
  samples.forEach((e, i) => wal.append(e, { sync: i % 2 === 0 }));
  t.same(wal.readAll(), samples);
  wal.close();
  t.equal(errorCode(() => wal.readAll()), 'closed');
  t.equal(errorCode(() => wal.append(samples[0]!, { sync: true })), 'closed');
  const again = new FileWal({ dir });
  t.same(again.readAll(), samples, 'the same entries after reopening');
  again.append({ kind: 'start', height: 9 }, { sync: true });
  t.same(again.readAll(), [...samples, { kind: 'start', height: 9 }]);
  const size = statSync(again.currentFile).size;
  t.throws(() => again.append({ kind: 'vote', vote: { ...vote(1, 0), signature: sig(1).subarray(1) } }, { sync: true }), 'a bad entry is refused');
  t.equal(statSync(again.currentFile).size, size, 'and nothing was written');
  again.close();
  t.throws(() => new FileWal(''), TypeError);
  t.throws(() => new FileWal({ dir, rotateBytes: -1 }), RangeError);
});

/** Writes `entries` to a fresh WAL in `dir` and returns the file and each record's start offset. */
function writeWal(dir: string, entries: WalEntry[]): { file: string; offsets: number[]; size: number } {
  const wal = new FileWal(dir);
  const offsets: number[] = [];
  for (const e of entries) {
    offsets.push(statSync(wal.currentFile).size);
    wal.append(e, { sync: true });
  }
  const file = wal.currentFile;
  wal.close();
  return { file, offsets, size: statSync(file).size };
}

t.test('FileWal: a torn last record is cut at every byte offset, and appends then follow it', async (t) => {
  const root = t.testdir();
  const entries = heightEntries(1);
  const last = entries.length - 1;
  const model = writeWal(join(root, 'model'), entries);
  const bytes = readFileSync(model.file);
  const lastStart = model.offsets[last]!;
  t.ok(model.size - lastStart > WAL_RECORD_HEADER_BYTES + 50, 'the last record is long enough to tear in header and payload');
  for (let cut = lastStart; cut < model.size; cut++) {
    const dir = join(root, `cut-${cut}`);
    const file = join(dir, walFileName(0));
    new FileWal(dir).close();
    writeFileSync(file, bytes.subarray(0, cut));
    const wal = new FileWal(dir);
    const expectCut = cut > lastStart ? { file, from: cut, to: lastStart } : null;
    if (!t.same(wal.recovered, expectCut, `cut at ${cut}: recovery reported`)) break;
    t.equal(statSync(file).size, lastStart, `cut at ${cut}: truncated to the last good record`);
    t.same(wal.readAll(), entries.slice(0, last), `cut at ${cut}: earlier records survive`);
    const next: WalEntry = { kind: 'timeout', timeout: 'prevote', height: 1, round: cut };
    wal.append(next, { sync: true });
    wal.close();
    t.same(new FileWal(dir).readAll(), [...entries.slice(0, last), next], `cut at ${cut}: a reopened log appends after the good records`);
  }
});

t.test('FileWal: a damaged last record (zeros, flipped byte, huge length) is cut too', async (t) => {
  const root = t.testdir();
  const entries = heightEntries(1);
  const model = writeWal(join(root, 'model'), entries);
  const bytes = readFileSync(model.file);
  const lastStart = model.offsets[entries.length - 1]!;
  const variants: [string, (b: Buffer) => void][] = [
    ['payload zero-filled', (b) => b.fill(0, lastStart + WAL_RECORD_HEADER_BYTES)],
    ['whole record zero-filled', (b) => b.fill(0, lastStart)],
    ['flipped payload byte', (b) => { b[b.length - 3]! ^= 0x10; }],
    ['flipped checksum byte', (b) => { b[lastStart + 5]! ^= 0x01; }],
    ['length above the cap', (b) => b.writeUInt32BE(0xffff_fff0, lastStart)],
    ['zero length', (b) => b.writeUInt32BE(0, lastStart)],
  ];
  for (const [name, damage] of variants) {
    const dir = join(root, name.replaceAll(' ', '-'));
    new FileWal(dir).close();
    const b = Buffer.from(bytes);
    damage(b);
    writeFileSync(join(dir, walFileName(0)), b);
    const wal = new FileWal(dir);
    t.equal(wal.recovered?.to, lastStart, `${name}: cut`);
    t.same(wal.readAll(), entries.slice(0, -1), `${name}: earlier records survive`);
    wal.close();
  }
});

t.test('FileWal: damage followed by valid records is an error naming the file and offset', async (t) => {
  const root = t.testdir();
  const entries = heightEntries(1);
  const model = writeWal(join(root, 'model'), entries);
  const bytes = readFileSync(model.file);
  const second = model.offsets[1]!;
  const variants: [string, number, (b: Buffer) => void][] = [
    ['flipped payload byte in the first record', 0, (b) => { b[WAL_RECORD_HEADER_BYTES + 2]! ^= 0x40; }],
    ['flipped checksum in the second record', second, (b) => { b[second + 4]! ^= 0x80; }],
    ['length above the cap in the second record', second, (b) => b.writeUInt32BE(0x7fff_ffff, second)],
    ['zeroed header of the second record', second, (b) => b.fill(0, second, second + WAL_RECORD_HEADER_BYTES)],
    ['a shorter length in the second record', second, (b) => b.writeUInt32BE(b.readUInt32BE(second) - 1, second)],
  ];
  for (const [name, offset, damage] of variants) {
    const dir = join(root, name.replaceAll(' ', '-'));
    new FileWal(dir).close();
    const file = join(dir, walFileName(0));
    const b = Buffer.from(bytes);
    damage(b);
    writeFileSync(file, b);
    let err: unknown;
    try {
      new FileWal(dir);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof WalError, `${name}: WalError`);
    t.equal((err as WalError).code, 'corrupt', `${name}: corrupt`);
    t.match((err as Error).message, `${file} is damaged at byte ${offset}`, `${name}: names file and offset`);
    t.match((err as Error).message, /valid records follow.*truncate it to \d+ bytes/s, `${name}: says what to do`);
    t.equal(statSync(file).size, b.length, `${name}: the file is left as it was`);
  }
});

t.test('FileWal: rotation at end of height keeps the previous file and deletes older ones', async (t) => {
  const dir = join(t.testdir(), 'wal');
  const wal = new FileWal({ dir, rotateBytes: 0 });
  for (const e of heightEntries(1)) wal.append(e, { sync: false });
  wal.endHeight(1);
  t.same(wal.files(), [walFileName(0), walFileName(2)], 'a new file for height 2');
  for (const e of heightEntries(2)) wal.append(e, { sync: false });
  wal.endHeight(2);
  t.same(wal.files(), [walFileName(2), walFileName(3)], 'the file of height 1 is gone');
  t.notOk(existsSync(join(dir, walFileName(0))));
  const three = heightEntries(3).slice(0, 2);
  for (const e of three) wal.append(e, { sync: true });
  wal.close();

  const reopened = new FileWal({ dir, rotateBytes: 0 });
  t.equal(reopened.currentFile, join(dir, walFileName(3)), 'reopening appends to the newest file');
  const all = reopened.readAll();
  t.same(all, [...heightEntries(2), { kind: 'end-height', height: 2 }, ...three], 'the retained files, in order');
  t.same(entriesToReplay(all, 3), three, 'replay at height 3 finds end-height(2) in the previous file');
  reopened.close();

  // Without reaching rotateBytes, heights share a file.
  const big = new FileWal({ dir: join(t.testdir(), 'big'), rotateBytes: 1 << 20 });
  for (let h = 1; h <= 5; h++) {
    for (const e of heightEntries(h)) big.append(e, { sync: false });
    big.endHeight(h);
  }
  t.same(big.files(), [walFileName(0)]);
  t.equal(big.readAll().length, 5 * 5);
  big.close();
});

t.test('FileWal: damage in an older file is an error even at its end', async (t) => {
  const dir = join(t.testdir(), 'wal');
  const wal = new FileWal({ dir, rotateBytes: 0 });
  for (const e of heightEntries(1)) wal.append(e, { sync: false });
  wal.endHeight(1);
  wal.append({ kind: 'start', height: 2 }, { sync: true });
  const older = join(dir, walFileName(0));
  const size = statSync(older).size;
  truncateSync(older, size - 1);
  t.equal(errorCode(() => wal.readAll()), 'corrupt');
  t.match((() => { try { wal.readAll(); } catch (e) { return (e as Error).message; } })(), `${older} is damaged at byte`);
  wal.close();
});

t.test('FileWal: a record with a valid checksum that is not an entry is reported', async (t) => {
  const dir = join(t.testdir(), 'wal');
  new FileWal(dir).close();
  const payload = encodeCanonical([9, 1]);
  const record = Buffer.alloc(WAL_RECORD_HEADER_BYTES + payload.length);
  record.writeUInt32BE(payload.length, 0);
  const { crc32 } = await import('node:zlib');
  record.writeUInt32BE(crc32(payload), 4);
  record.set(payload, WAL_RECORD_HEADER_BYTES);
  writeFileSync(join(dir, walFileName(0)), record);
  const wal = new FileWal(dir);
  t.equal(errorCode(() => wal.readAll()), 'corrupt');
  wal.close();
});
