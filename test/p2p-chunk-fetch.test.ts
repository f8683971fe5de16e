/**
 * Fetching snapshot chunks from several peers (p2p/chunk-fetch.ts), served through the real wire
 * codec (p2p/snapshot-wire.ts) by in-process peers: honest ones, and ones that corrupt, truncate,
 * stall, answer garbage, say busy, or lack what they offered. `accept` stands for the node's
 * verification: a chunk is good when it is exactly the bytes the honest source has.
 */
import t from 'tap';
import { equalBytes } from '../chain/bytes.ts';
import { ChunkFetcher, ChunkFetchError, ChunkRejected, type ChunkPenalty } from '../p2p/chunk-fetch.ts';
import {
  decodeSnapshotRequest, decodeSnapshotResponse, encodeSnapshotRequest, encodeSnapshotResponse, serveSnapshotRequest, type SnapshotSource,
} from '../p2p/snapshot-wire.ts';
import { SyncError } from '../p2p/sync-wire.ts';

const CHUNKS = 12;
const chunkOf = (i: number) => Uint8Array.from({ length: 64 + i }, (_, k) => (i * 31 + k) & 0xff);
const honest: SnapshotSource = {
  list: () => [{ format: 1, height: 40, protocolVersion: 3, root: new Uint8Array(32).fill(7), chunks: CHUNKS }],
  chunk: async (h, i) => (h === 40 && i < CHUNKS ? chunkOf(i) : undefined),
};

type Behaviour = 'honest' | 'corrupt' | 'truncate' | 'stall' | 'garbage' | 'busy' | 'lacks';

function peer(b: Behaviour): (index: number, signal: AbortSignal) => Promise<Uint8Array> {
  return async (index, signal) => {
    const req = decodeSnapshotRequest(encodeSnapshotRequest({ kind: 'chunk', height: 40, index }));
    if (b === 'stall') return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
    if (b === 'garbage') return Uint8Array.of(0xff, 0x00);
    if (b === 'busy') return encodeSnapshotResponse({ kind: 'error', code: 'busy', retryAfterMs: 50 });
    if (b === 'lacks') return encodeSnapshotResponse({ kind: 'error', code: 'unavailable', retryAfterMs: 0 });
    const raw = await serveSnapshotRequest(req, honest);
    if (b === 'honest') return raw;
    const r = decodeSnapshotResponse(raw, 1 << 20);
    if (r.kind !== 'chunk') return raw;
    const c = r.chunk.slice();
    if (b === 'corrupt') c[5] = c[5]! ^ 1;
    return encodeSnapshotResponse({ kind: 'chunk', chunk: b === 'truncate' ? c.subarray(0, 10) : c });
  };
}

function run(peers: Record<string, Behaviour>, opts: { done?: number[]; fetchers?: number } = {}) {
  const written = new Map<number, Uint8Array>();
  const penalties: [string, ChunkPenalty][] = [];
  const asked = new Map<string, number>();
  const fetcher = new ChunkFetcher({
    chunks: CHUNKS, done: new Set(opts.done ?? []), fetchers: opts.fetchers ?? 4, timeoutMs: 200, maxResponseBytes: 1 << 20,
    peers: () => Object.keys(peers),
    request: (p, index, signal) => {
      asked.set(p, (asked.get(p) ?? 0) + 1);
      return peer(peers[p]!)(index, signal);
    },
    accept: async (index, chunk) => {
      if (!equalBytes(chunk, chunkOf(index))) throw new ChunkRejected(`chunk ${index} is not the one proven`);
      if (written.has(index)) throw new Error(`chunk ${index} accepted twice`);
      written.set(index, chunk);
    },
    penalize: (p, reason) => penalties.push([p, reason]),
  });
  return { fetcher, written, penalties, asked };
}

t.test('every chunk arrives once from honest peers, spread over them', async (t) => {
  const r = run({ a: 'honest', b: 'honest', c: 'honest' });
  await r.fetcher.run();
  t.equal(r.written.size, CHUNKS);
  t.same(r.penalties, []);
  t.ok([...r.asked.values()].every((n) => n >= 2), 'each peer served a share');
});

t.test('bad peers are penalised and dropped; their chunks come from the honest one', async (t) => {
  const r = run({ corrupt: 'corrupt', truncate: 'truncate', garbage: 'garbage', lacks: 'lacks', stall: 'stall', good: 'honest' }, { fetchers: 6 });
  await r.fetcher.run();
  t.equal(r.written.size, CHUNKS, 'the sync still completes');
  for (const bad of ['corrupt', 'truncate', 'garbage']) {
    t.ok(r.penalties.some(([p, why]) => p === bad && why === 'bad_chunk'), `${bad} is penalised for a bad chunk`);
    t.ok(r.fetcher.bad.has(bad), `${bad} is not asked again`);
    t.ok(r.asked.get(bad)! <= 2, `${bad} was asked at most twice (its share before the first verdict)`);
  }
  t.ok(r.penalties.some(([p, why]) => p === 'stall' && why === 'timeout'), 'the staller is penalised for its timeout');
  t.ok(r.fetcher.bad.has('lacks') && !r.penalties.some(([p]) => p === 'lacks'), 'a peer lacking an offered chunk is dropped, not penalised');
  t.notOk(r.penalties.some(([p]) => p === 'good'), 'the honest peer is never penalised');
  t.ok(r.fetcher.stats.rejected >= 3 && r.fetcher.stats.timeouts >= 1);
});

t.test('a busy peer is rested, not penalised, and asked again', async (t) => {
  let busyFirst = 2;
  const written = new Set<number>();
  const penalties: string[] = [];
  const fetcher = new ChunkFetcher({
    chunks: 3, done: new Set(), fetchers: 2, timeoutMs: 1000, maxResponseBytes: 1 << 20,
    peers: () => ['only'],
    request: async (_p, index, signal) => (busyFirst-- > 0 ? peer('busy') : peer('honest'))(index, signal),
    accept: async (index) => void written.add(index),
    penalize: (p) => penalties.push(p),
  });
  await fetcher.run();
  t.same([...written].sort(), [0, 1, 2]);
  t.same(penalties, []);
});

t.test('chunks already written are not fetched again (a resumed restore)', async (t) => {
  const r = run({ a: 'honest' }, { done: [0, 1, 2, 3, 4, 5, 6] });
  await r.fetcher.run();
  t.same([...r.written.keys()].sort((a, b) => a - b), [7, 8, 9, 10, 11]);
  t.equal(r.asked.get('a'), 5);
});

t.test('with every peer bad the run fails with no_peers and says why', async (t) => {
  const r = run({ x: 'corrupt', y: 'stall' });
  const err = await r.fetcher.run().then(() => null, (e: unknown) => e);
  t.ok(err instanceof ChunkFetchError, 'a ChunkFetchError');
  t.equal((err as ChunkFetchError).code, 'no_peers');
  t.match((err as Error).message, /no peer left to serve \d+ snapshot chunk/);
});

t.test('a local failure in accept ends the run with that error', async (t) => {
  const fetcher = new ChunkFetcher({
    chunks: 2, done: new Set(), fetchers: 1, timeoutMs: 1000, maxResponseBytes: 1 << 20, peers: () => ['a'],
    request: (_p, i, s) => peer('honest')(i, s),
    accept: async () => {
      throw new Error('disk full');
    },
    penalize: () => t.fail('a local fault is not the peer\'s'),
  });
  await t.rejects(fetcher.run(), /disk full/);
});

t.test('the snapshot wire refuses malformed requests and responses', async (t) => {
  t.throws(() => decodeSnapshotRequest(Uint8Array.of(0x82, 0x01, 0x01)), SyncError);
  t.throws(() => decodeSnapshotRequest(encodeSnapshotRequest({ kind: 'chunk', height: 1, index: 1 << 22 })), SyncError, 'an index past the chunk cap');
  t.throws(() => decodeSnapshotResponse(encodeSnapshotResponse({ kind: 'error', code: 'busy', retryAfterMs: 1 }).slice(0, 2), 1 << 20), SyncError);
  const offers = decodeSnapshotResponse(await serveSnapshotRequest({ kind: 'list' }, honest), 1 << 20);
  t.same(offers, { kind: 'offers', offers: honest.list() }, 'offers round-trip');
  const big = encodeSnapshotResponse({ kind: 'chunk', chunk: new Uint8Array(2048) });
  t.throws(() => decodeSnapshotResponse(big, 1024), SyncError, 'a chunk past the size cap');
  t.same(decodeSnapshotResponse(await serveSnapshotRequest({ kind: 'chunk', height: 41, index: 0 }, honest), 1 << 20), { kind: 'error', code: 'unavailable', retryAfterMs: 0 });
});
