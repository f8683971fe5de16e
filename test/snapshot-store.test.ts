/**
 * The snapshots a node takes and serves (node/snapshots.ts) on a real tree in LevelDB: taken every
 * `interval` heights while later versions are committed, each chunk verifiable against the root of
 * its height, the newest `keep` kept, and what a crash left half-written removed at open.
 */
import t from 'tap';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../chain/bytes.ts';
import { createLogger } from '../node/log.ts';
import { SnapshotStore } from '../node/snapshots.ts';
import { verifyChunk } from '../state/snapshot.ts';
import { StateTree } from '../state/tree.ts';
import { openDb } from './fixtures/state-reference.ts';

const log = createLogger({ level: 'silent', format: 'text' });

async function treeWithVersions(dir: string, versions: number) {
  const db = openDb(join(dir, 'db'));
  await db.open();
  const tree = await StateTree.open(db);
  for (let v = 0; v < versions; v++) {
    const writes: [Uint8Array, Uint8Array][] = [];
    for (let i = 0; i < 300; i++) writes.push([new TextEncoder().encode(`k/${v}/${i}`), new TextEncoder().encode(`value ${v} ${i} `.repeat(1 + (i % 5)))]);
    await tree.commit(v, writes);
  }
  return { db, tree };
}

t.test('every interval heights a snapshot is taken, its chunks prove against that height\'s root, the newest keep are kept', async (t) => {
  const dir = t.testdir();
  const { db, tree } = await treeWithVersions(dir, 31);
  t.teardown(() => db.close());
  const snaps = join(dir, 'snapshots');
  const store = await SnapshotStore.open(snaps, { tree, protocolVersion: 3, settings: { interval: 10, keep: 2 }, log, chunkBytes: 4096 });
  t.same(store.list(), [], 'none at first');
  store.committed(5);
  store.committed(10);
  store.committed(10); // one at a time: a second call while it runs does nothing
  for (let i = 0; i < 500 && store.list().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const [first] = store.list();
  t.equal(first?.height, 10, 'taken at the multiple of the interval only');
  t.equal(toHex(first!.root), toHex(await tree.root(10)), 'of that version, though 30 is the latest');
  t.ok(first!.chunks > 3, `${first!.chunks} chunks`);
  for (let i = 0; i < first!.chunks; i++) {
    const bytes = await store.chunk(10, i);
    const c = verifyChunk(bytes!, { root: first!.root, version: 10, index: i });
    t.equal(c.last, i === first!.chunks - 1);
  }
  t.equal(await store.chunk(10, first!.chunks), undefined, 'no chunk past the last');
  t.equal(await store.chunk(11, 0), undefined, 'no snapshot of another height');

  await store.take(20);
  await store.take(30);
  t.same(store.list().map((o) => o.height), [30, 20], 'the newest two, newest first');
  t.notOk(existsSync(join(snaps, '10')), 'the oldest was deleted');
  t.equal(store.stats.taken, 3);
  t.equal(store.stats.latest, 30);
  await store.close();

  // A crash mid-write leaves a .tmp directory and maybe a directory without a readable manifest.
  mkdirSync(join(snaps, '40.tmp'));
  writeFileSync(join(snaps, '40.tmp', '0.chunk'), 'partial');
  mkdirSync(join(snaps, '50'));
  writeFileSync(join(snaps, '50', 'manifest.json'), '{"format": 1, "height": 50');
  const reopened = await SnapshotStore.open(snaps, { tree, protocolVersion: 3, settings: { interval: 10, keep: 2 }, log, chunkBytes: 4096 });
  t.same(reopened.list().map((o) => o.height), [30, 20], 'the complete ones are served again');
  t.same(readdirSync(snaps).sort(), ['20', '30'], 'the half-written ones are gone');
  await reopened.close();
});

t.test('interval 0 takes none; a snapshot of another protocol version is not served', async (t) => {
  const dir = t.testdir();
  const { db, tree } = await treeWithVersions(dir, 3);
  t.teardown(() => db.close());
  const snaps = join(dir, 'snapshots');
  const off = await SnapshotStore.open(snaps, { tree, protocolVersion: 3, settings: { interval: 0, keep: 2 }, log });
  off.committed(0);
  off.committed(2);
  await new Promise((r) => setTimeout(r, 50));
  t.same(off.list(), []);
  await off.take(2);
  await off.close();
  const other = await SnapshotStore.open(snaps, { tree, protocolVersion: 4, settings: { interval: 0, keep: 2 }, log });
  t.same(other.list(), [], 'written under protocol 3, dropped under 4');
  await other.close();
});
