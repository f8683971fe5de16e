/**
 * Model fingerprints, format v1 (models/): the walk and its refusals, file digests against
 * sha256sum and against the sharded formula computed here independently, determinism across
 * thread counts, the manifest's canonical form and its strict decoding, manifest diffs, the
 * in-toto statement, and the hash pool. Real files in t.testdir(); no timing thresholds.
 */
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../chain/bytes.ts';
import { encodeCanonical } from '../chain/codec.ts';
import { FingerprintError } from '../models/errors.ts';
import { fingerprintFiles, type FingerprintProgress } from '../models/files-fingerprint.ts';
import { HashPool } from '../models/hash-pool.ts';
import { inTotoStatement } from '../models/in-toto.ts';
import { decodeManifest, diffManifests, encodeManifest, manifestRoot, SHARD_BYTES, type ManifestEntry } from '../models/manifest.ts';

const MiB = 1024 * 1024;
const sha256hex = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/** Writes `files` (relative path → content) under `dir`, making folders as needed. */
function writeTree(dir: string, files: Record<string, string | Uint8Array>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

/** A fresh empty folder `name` in `base` (a test's testdir: calling t.testdir() again empties it). */
function folder(base: string, name: string): string {
  const dir = join(base, name);
  mkdirSync(dir);
  return dir;
}

async function fp(dir: string, opts: { threads?: number; followSymlinks?: boolean } = {}): Promise<string> {
  return toHex((await fingerprintFiles(dir, { threads: 0, ...opts })).fingerprint);
}

/** Expects `promise` to reject with FingerprintError `code` whose message contains `names`. */
async function refuses(t: Test, promise: Promise<unknown>, code: string, names: string): Promise<void> {
  const err = await promise.then(() => null, (e: unknown) => e);
  t.ok(err instanceof FingerprintError, `a FingerprintError (${String(err)})`);
  t.equal((err as FingerprintError).code, code);
  t.match((err as Error).message, names);
}

const BASE = { 'config.json': '{"a":1}', 'weights/part-1.bin': 'one', 'weights/part-2.bin': 'two', 'weights/empty.bin': '', 'deep/er/still/x': 'x' };

t.test('a nested folder: sorted relative paths, sizes, sha256 digests, empty files', async (t) => {
  const dir = t.testdir();
  writeTree(dir, BASE);
  const r = await fingerprintFiles(dir, { threads: 0 });
  t.same(r.manifest.map((e) => [e.path, e.size, e.algorithm]), [
    ['config.json', 7, 'sha256'], ['deep/er/still/x', 1, 'sha256'], ['weights/empty.bin', 0, 'sha256'],
    ['weights/part-1.bin', 3, 'sha256'], ['weights/part-2.bin', 3, 'sha256'],
  ]);
  t.equal(toHex(r.manifest[2]!.digest), sha256hex(''), 'an empty file digests as sha256 of nothing');
  t.equal(r.bytes, 14);
  t.equal(r.root, dir);
  t.same(r.fingerprint, manifestRoot(r.manifest));
  // Pinned so that an accidental change of format v1 (leaf, order, root) fails here.
  t.equal(toHex(r.fingerprint), PINNED_BASE);
});
const PINNED_BASE = '022b679417add730e975344705d9fb50f25a5ed7a9fecfe3beb53152759bc60d';

t.test('paths sort by UTF-8 bytes, not locale', async (t) => {
  const dir = t.testdir();
  writeTree(dir, { 'é': '1', 'a.': '2', 'Z': '3', 'B': '4', 'a-b': '5', 'a/b': '6' });
  const r = await fingerprintFiles(dir, { threads: 0 });
  t.same(r.manifest.map((e) => e.path), ['B', 'Z', 'a-b', 'a.', 'a/b', 'é']);
});

t.test('a rename, a swap, an addition and a deletion each change the fingerprint', async (t) => {
  const dir = t.testdir();
  writeTree(dir, BASE);
  const seen = new Set([await fp(dir)]);
  const step = async (what: string, change: () => void): Promise<void> => {
    change();
    const now = await fp(dir);
    t.notOk(seen.has(now), `${what} gives a new fingerprint`);
    seen.add(now);
  };
  await step('rename', () => renameSync(join(dir, 'config.json'), join(dir, 'config2.json')));
  await step('swap', () => writeTree(dir, { 'weights/part-1.bin': 'two', 'weights/part-2.bin': 'one' }));
  await step('add', () => writeTree(dir, { 'weights/part-3.bin': 'three' }));
  await step('delete', () => rmSync(join(dir, 'weights/empty.bin')));
  await step('one byte', () => writeTree(dir, { 'deep/er/still/x': 'y' }));
});

t.test('identical content under different names: equal digests, names still count', async (t) => {
  const base = t.testdir();
  const dir = folder(base, 'two');
  writeTree(dir, { 'a.bin': 'same', 'b/c.bin': 'same' });
  const r = await fingerprintFiles(dir, { threads: 0 });
  t.same(r.manifest[0]!.digest, r.manifest[1]!.digest);
  const one = folder(base, 'one');
  writeTree(one, { 'a.bin': 'same' });
  t.not(await fp(one), toHex(r.fingerprint));
});

t.test('skip rules: .git folders, .gitattributes files, anything named .hallmark*', async (t) => {
  const dir = t.testdir();
  writeTree(dir, BASE);
  const before = await fp(dir);
  writeTree(dir, {
    '.git/HEAD': 'ref', '.git/objects/ab/cd': 'obj', '.gitattributes': '*.bin filter=lfs', 'weights/.gitattributes': 'x',
    '.hallmark': 'a', '.hallmark-cache/x': 'b', 'weights/.hallmark.json': 'c',
  });
  t.equal(await fp(dir), before, 'skipped entries do not count');
  writeTree(dir, { '.gitignore': '*.tmp', 'sub/.git-keep': '' });
  const r = await fingerprintFiles(dir, { threads: 0 });
  t.ok(r.manifest.some((e) => e.path === '.gitignore') && r.manifest.some((e) => e.path === 'sub/.git-keep'), 'other dot files count');
});

t.test('symlinks: refused by default, followed when asked, loops refused', async (t) => {
  const base = t.testdir();
  const dir = folder(base, 'links');
  writeTree(dir, { 'real/w.bin': 'weights', 'x.txt': 'x' });
  const copy = folder(base, 'copy');
  writeTree(copy, { 'real/w.bin': 'weights', 'x.txt': 'x', 'link.bin': 'weights', 'linkdir/w.bin': 'weights' });
  symlinkSync('real/w.bin', join(dir, 'link.bin'));
  await refuses(t, fingerprintFiles(dir, { threads: 0 }), 'symlink', join(dir, 'link.bin'));
  symlinkSync('real', join(dir, 'linkdir'));
  t.equal(await fp(dir, { followSymlinks: true }), await fp(copy), 'followed links hash as the files they lead to');
  await refuses(t, fingerprintFiles(join(dir, 'linkdir'), { threads: 0 }), 'symlink', 'linkdir');

  const loop = folder(base, 'loop');
  writeTree(loop, { 'a/f': 'f' });
  symlinkSync('..', join(loop, 'a', 'up'));
  await refuses(t, fingerprintFiles(loop, { threads: 0, followSymlinks: true }), 'symlink', join(loop, 'a', 'up'));
  const self = folder(base, 'self');
  writeTree(self, { f: 'f' });
  symlinkSync('me', join(self, 'me'));
  await refuses(t, fingerprintFiles(self, { threads: 0, followSymlinks: true }), 'symlink', join(self, 'me'));
  const dangling = folder(base, 'dangling');
  writeTree(dangling, { f: 'f' });
  symlinkSync('nowhere', join(dangling, 'gone'));
  await refuses(t, fingerprintFiles(dangling, { threads: 0, followSymlinks: true }), 'symlink', join(dangling, 'gone'));
});

t.test('special files are refused, naming them', async (t) => {
  const dir = t.testdir();
  writeTree(dir, { f: 'f' });
  const fifo = join(dir, 'pipe');
  const made = spawnSync('mkfifo', [fifo]);
  if (made.status !== 0) {
    t.comment('mkfifo is not available here');
    return;
  }
  await refuses(t, fingerprintFiles(dir, { threads: 0 }), 'special_file', fifo);
  await refuses(t, fingerprintFiles(dir, { threads: 0, followSymlinks: true }), 'special_file', 'fifo');
});

t.test('nothing to hash, or nothing there', async (t) => {
  const base = t.testdir();
  const empty = folder(base, 'empty');
  mkdirSync(join(empty, 'sub'));
  await refuses(t, fingerprintFiles(empty, { threads: 0 }), 'no_files', `no files to fingerprint under ${empty}`);
  const onlySkipped = folder(base, 'skipped');
  writeTree(onlySkipped, { '.git/HEAD': 'x', '.gitattributes': 'y' });
  await refuses(t, fingerprintFiles(onlySkipped, { threads: 0 }), 'no_files', onlySkipped);
  await refuses(t, fingerprintFiles(join(empty, 'missing'), { threads: 0 }), 'not_found', join(empty, 'missing'));
});

t.test('a single file: one entry named by its basename, digest as sha256sum prints it', async (t) => {
  const dir = t.testdir();
  const content = new Uint8Array(3 * MiB + 17).map((_, i) => (i * 31 + (i >> 9)) & 255);
  writeTree(dir, { 'sub/model.safetensors': content });
  const path = join(dir, 'sub', 'model.safetensors');
  const r = await fingerprintFiles(path, { threads: 1 });
  t.same(r.manifest.map((e) => [e.path, e.size, e.algorithm]), [['model.safetensors', content.length, 'sha256']]);
  const sum = spawnSync('sha256sum', [path], { encoding: 'utf8' });
  if (sum.status === 0) t.equal(toHex(r.manifest[0]!.digest), sum.stdout.split(' ')[0], 'the digest sha256sum prints');
  t.equal(toHex(r.manifest[0]!.digest), sha256hex(content));
  const whole = await fingerprintFiles(join(dir, 'sub'), { threads: 0 });
  t.same(whole.fingerprint, r.fingerprint, 'the file alone and its folder holding only it agree');
});

t.test('a sparse 300 MiB file: the sharded digest, the same on 0, 1 and 2 threads', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'big.bin');
  const size = 300 * MiB;
  writeFileSync(path, '');
  truncateSync(path, size);
  const fd = openSync(path, 'r+');
  for (const [offset, text] of [[0, 'head'], [100 * MiB + 3, 'middle'], [SHARD_BYTES - 2, 'straddles a shard edge'], [size - 4, 'tail']] as const) {
    writeSync(fd, text, offset);
  }
  closeSync(fd);
  writeTree(dir, { 'small.txt': 'small' });

  // The formula of format v1, computed here without models/.
  const data = readFileSync(path);
  const shards: Buffer[] = [];
  for (let o = 0; o < size; o += SHARD_BYTES) shards.push(createHash('sha256').update(data.subarray(o, o + SHARD_BYTES)).digest());
  t.equal(shards.length, 5, '4 full shards and a short one');
  const header = Buffer.alloc(16);
  header.writeBigUInt64BE(BigInt(size), 0);
  header.writeBigUInt64BE(BigInt(SHARD_BYTES), 8);
  const expected = createHash('sha256').update('hallmark/file-shards/v1\n').update(header).update(Buffer.concat(shards)).digest('hex');

  const seen: FingerprintProgress[] = [];
  const results = [];
  for (const threads of [0, 1, 2]) {
    const r = await fingerprintFiles(dir, { threads, onProgress: (p) => seen.push(p) });
    t.same(r.manifest.map((e) => [e.path, e.size, e.algorithm]), [['big.bin', size, 'sha256-shards-64MiB'], ['small.txt', 5, 'sha256']]);
    t.equal(toHex(r.manifest[0]!.digest), expected, `threads ${threads}: the sharded formula`);
    results.push(toHex(r.fingerprint));
  }
  t.same(new Set(results).size, 1, 'one fingerprint whatever the thread count');
  const last = seen.at(-1)!;
  t.same(last, { files: 2, totalFiles: 2, bytes: size + 5, totalBytes: size + 5 }, 'progress ends at the totals');
  t.ok(seen.every((p, i) => i === 0 || p.bytes >= seen[i - 1]!.bytes || p.bytes === 0), 'bytes only grow within a run');

  const fd2 = openSync(path, 'r+');
  writeSync(fd2, 'X', size - 1);
  closeSync(fd2);
  const changed = await fingerprintFiles(dir, { threads: 2 });
  t.not(toHex(changed.manifest[0]!.digest), expected, 'a byte changed in the last shard changes the digest');
  t.not(toHex(changed.fingerprint), results[0]);
});

const entry = (path: string, fill: number, size = 1): ManifestEntry => ({ path, size, digest: new Uint8Array(32).fill(fill), algorithm: 'sha256' });

t.test('the manifest: canonical CBOR round trip, and what decoding refuses', async (t) => {
  const m = [entry('a', 1, 0), entry('b/c', 2, 5), { path: 'big', size: SHARD_BYTES + 1, digest: new Uint8Array(32).fill(3), algorithm: 'sha256-shards-64MiB' as const }]
    .sort((x, y) => Buffer.compare(Buffer.from(x.path), Buffer.from(y.path)));
  const bytes = encodeManifest(m);
  t.same(decodeManifest(bytes), m, 'round trip, algorithm derived from size');
  t.same(encodeManifest(decodeManifest(bytes)), bytes);

  const bad = (what: string, value: Parameters<typeof encodeCanonical>[0]) =>
    t.throws(() => decodeManifest(encodeCanonical(value)), { name: 'FingerprintError', code: 'malformed' }, what);
  const d = new Uint8Array(32);
  bad('not a list', 'x');
  bad('not sorted', [['b', 1, d], ['a', 1, d]]);
  bad('a duplicate', [['a', 1, d], ['a', 1, d]]);
  bad('a field too few', [['a', 1]]);
  bad('a negative size', [['a', -1, d]]);
  bad('a size that is not a number', [['a', '1', d]]);
  bad('a short digest', [['a', 1, new Uint8Array(31)]]);
  for (const path of ['', '/a', 'a/../b', '..', 'a\\b', 'a//b', 'a/', './a']) bad(`path ${JSON.stringify(path)}`, [[path, 1, d]]);
  t.throws(() => decodeManifest(Uint8Array.of(...bytes, 0)), { code: 'malformed' }, 'trailing bytes');
  t.throws(() => decodeManifest(Uint8Array.of(0x98, 0x00)), { code: 'malformed' }, 'a non-minimal length');
  t.throws(() => manifestRoot([entry('b', 1), entry('a', 1)]), { code: 'malformed' }, 'manifestRoot checks the order');
  t.throws(() => encodeManifest([entry('a', 1), entry('a', 2)]), { code: 'malformed' }, 'and encodeManifest too');
});

t.test('diffManifests: missing, extra and changed files, by path', async (t) => {
  const expected = [entry('a', 1), entry('b', 2), entry('c', 3), entry('d', 4)];
  const actual = [entry('b', 2), entry('c', 9), { ...entry('d', 4), size: 2 }, entry('e', 5)];
  const diff = diffManifests(expected, actual);
  t.same(diff.missing, ['a']);
  t.same(diff.extra, ['e']);
  t.same(diff.changed.map((c) => [c.path, c.expected.size, c.actual.size, c.actual.digest[0]]), [['c', 1, 1, 9], ['d', 1, 2, 4]]);
  t.same(diffManifests(expected, expected), { missing: [], extra: [], changed: [] });
});

t.test('the in-toto Statement v1', async (t) => {
  const dir = t.testdir();
  writeTree(dir, BASE);
  const r = await fingerprintFiles(dir, { threads: 0 });
  const tensors = new Uint8Array(32).fill(7);
  const s = inTotoStatement('org/model', r.fingerprint, r.manifest, tensors);
  t.same(Object.keys(s), ['_type', 'subject', 'predicateType', 'predicate']);
  t.equal(s._type, 'https://in-toto.io/Statement/v1');
  t.same(s.subject, [{ name: 'org/model', digest: { sha256: toHex(r.fingerprint) } }]);
  t.equal(s.predicateType, 'https://hallmark.dev/model-manifest/v1');
  t.equal(s.predicate.fingerprint, toHex(r.fingerprint));
  t.equal(s.predicate.tensorFingerprint, toHex(tensors));
  t.equal(s.predicate.formatVersion, 1);
  t.equal(s.predicate.shardBytes, SHARD_BYTES);
  t.same(s.predicate.resources[0], { name: 'config.json', size: 7, algorithm: 'sha256', digest: sha256hex('{"a":1}') });
  t.equal(inTotoStatement('m', r.fingerprint, r.manifest).predicate.tensorFingerprint, null);
  t.same(JSON.parse(JSON.stringify(s)), s, 'plain JSON');
});

t.test('the hash pool: ranges, a missing file, close', async (t) => {
  const dir = t.testdir();
  writeTree(dir, { f: 'hello world' });
  for (const threads of [0, 2]) {
    const pool = new HashPool({ threads });
    t.equal(pool.threads, threads);
    t.equal(toHex(await pool.hash({ path: join(dir, 'f'), offset: 6, length: 5 })), sha256hex('world'), `threads ${threads}: a range`);
    await refuses(t, pool.hash({ path: join(dir, 'missing'), offset: 0, length: 1 }), 'io', join(dir, 'missing'));
    await refuses(t, pool.hash({ path: join(dir, 'f'), offset: 0, length: 100 }), 'io', join(dir, 'f'));
    await pool.close();
    await pool.close();
    await t.rejects(pool.hash({ path: join(dir, 'f'), offset: 0, length: 1 }), /after close/);
  }
  const byDefault = new HashPool();
  t.ok(byDefault.threads >= 1, 'the default is at least one thread');
  await byDefault.close();
  t.throws(() => new HashPool({ threads: -1 }), RangeError);
});
