/**
 * The p2p layer's bookkeeping with an injected clock: GCRA quotas, per-peer stream caps, peer
 * scores with decay and their thresholds, and memory-pressure levels with hysteresis.
 */
import t from 'tap';
import { DEFAULT_P2P_CONFIG, type ProtocolLimits, type ProtocolName, type ScoreConfig } from '../p2p/config.ts';
import { MemoryMonitor } from '../p2p/memory.ts';
import { PeerScores } from '../p2p/peer-score.ts';
import { Gcra, PeerRateLimiter } from '../p2p/rate-limit.ts';

t.test('GCRA: a burst at once, then the sustained rate, and how long to wait', async (t) => {
  const g = new Gcra({ perSecond: 10, burst: 5 });
  let now = 1_000;
  for (let i = 0; i < 5; i++) t.equal(g.take(1, now), 0, `burst ${i + 1} admitted`);
  const wait = g.take(1, now);
  t.ok(wait > 0, 'the sixth at the same instant is refused');
  t.equal(Math.round(wait), 100, 'with the time one unit takes at 10/s');
  t.equal(g.take(1, now + wait - 1), wait > 1 ? 1 : 0, 'a moment too early is still refused');
  now += 100;
  t.equal(g.take(1, now), 0, 'admitted once that time has passed');
  t.ok(g.take(1, now) > 0, 'and only one');
  // A second of silence refills the whole burst, not more.
  now += 10_000;
  let admitted = 0;
  while (g.take(1, now) === 0) admitted++;
  t.equal(admitted, 5, 'an idle bucket holds exactly its burst');
  t.equal(g.take(6, now + 60_000), Infinity, 'a cost above the burst is never admitted');
  t.throws(() => new Gcra({ perSecond: 0, burst: 1 }), RangeError);
  t.throws(() => new Gcra({ perSecond: 1, burst: Number.NaN }), RangeError);
});

function limits(l: Partial<ProtocolLimits>): Record<ProtocolName, ProtocolLimits> {
  const base = structuredClone(DEFAULT_P2P_CONFIG.limits);
  return { consensus: { ...base.consensus, ...l }, txs: base.txs, sync: base.sync, snapshot: base.snapshot };
}

t.test('PeerRateLimiter: messages and bytes per peer and protocol; a refusal takes nothing', async (t) => {
  let now = 0;
  const rl = new PeerRateLimiter(limits({ messages: { perSecond: 2, burst: 2 }, bytes: { perSecond: 100, burst: 100 }, maxStreams: 1 }), { now: () => now });
  t.same(rl.admit('a', 'consensus', 10), { ok: true });
  t.same(rl.admit('a', 'consensus', 10), { ok: true });
  const r = rl.admit('a', 'consensus', 10);
  t.equal(r.ok, false);
  t.equal(r.ok === false && r.reason, 'messages');
  t.same(rl.admit('b', 'consensus', 10), { ok: true }, 'another peer has its own quota');
  t.same(rl.admit('a', 'txs', 10), { ok: true }, 'and another protocol too');

  now = 10_000;
  const big = rl.admit('a', 'consensus', 101);
  t.equal(big.ok === false && big.reason, 'bytes', 'a message over the byte burst is refused');
  // The refusal on bytes did not spend a message token: two small messages still pass.
  t.same(rl.admit('a', 'consensus', 40), { ok: true });
  t.same(rl.admit('a', 'consensus', 40), { ok: true });
  const bytes = rl.admit('c', 'consensus', 100);
  t.same(bytes, { ok: true });
  const after = rl.admit('c', 'consensus', 50);
  t.equal(after.ok === false && after.reason, 'bytes');
  t.ok(after.ok === false && Math.abs(after.retryAfterMs - 500) < 1, 'retry after the bytes are paid off at 100/s');
  t.same(rl.drops.consensus, { messages: 1, bytes: 2, streams: 0 });

  t.equal(rl.openStream('a', 'consensus'), true);
  t.equal(rl.openStream('a', 'consensus'), false, 'one stream is the cap');
  t.equal(rl.drops.consensus.streams, 1);
  rl.closeStream('a', 'consensus');
  t.equal(rl.openStream('a', 'consensus'), true, 'closing frees the slot');
});

t.test('PeerRateLimiter keeps a bounded number of peers', async (t) => {
  const now = 0;
  const rl = new PeerRateLimiter(limits({}), { now: () => now, maxPeers: 10 });
  for (let i = 0; i < 100; i++) rl.admit(`p${i}`, 'consensus', 1);
  t.ok(rl.trackedPeers <= 10, `${rl.trackedPeers} peers tracked`);
});

const SCORE: ScoreConfig = { ...structuredClone(DEFAULT_P2P_CONFIG.score), decayHalfLifeMs: 1_000, disconnectThreshold: -50, banThreshold: -100, banDurationMs: 5_000 };

t.test('PeerScores: penalties, decay by half-life, disconnect then ban, ban expiry, protected peers', async (t) => {
  let now = 0;
  const scores = new PeerScores(SCORE, { now: () => now, isProtected: (id) => id === 'validator' });
  t.equal(scores.penalize('p', 'invalid_message'), 'none');
  t.equal(scores.score('p'), -20);
  now += 1_000;
  t.equal(scores.score('p'), -10, 'halved after one half-life');
  t.equal(scores.penalize('p', 'invalid_message'), 'none', '-30');
  t.equal(scores.penalize('p', 'invalid_message'), 'disconnect', '-50 disconnects');
  t.equal(scores.counters.disconnects, 1);
  t.equal(scores.penalize('p', 'oversized_message'), 'disconnect', '-75');
  t.equal(scores.penalize('p', 'oversized_message'), 'ban', '-100 bans');
  t.ok(scores.isBanned('p'));
  t.same(scores.banned().map((b) => b.peerId), ['p']);
  now += 5_001;
  t.notOk(scores.isBanned('p'), 'the ban expires');
  t.ok(scores.score('p') > -5, 'and the score has decayed meanwhile');

  for (let i = 0; i < 10; i++) t.equal(scores.penalize('validator', 'wrong_chain'), 'none', 'a protected peer is never disconnected or banned');
  t.ok(scores.score('validator') < -1_000, 'though its score is still reported');
  t.notOk(scores.isBanned('validator'));
  t.equal(scores.counters.penalties.wrong_chain, 10);
  t.throws(() => new PeerScores({ ...SCORE, banThreshold: -10 }), RangeError, 'ban above disconnect is refused');
});

t.test('MemoryMonitor: levels by heap use, left only below threshold minus hysteresis', async (t) => {
  let used = 10;
  const m = new MemoryMonitor({ shedSyncPercent: 70, shedInboundPercent: 85, hysteresisPercent: 5, checkIntervalMs: 1_000 }, { heapUsedPercent: () => used });
  t.equal(m.check(), 'normal');
  used = 70;
  t.equal(m.check(), 'shed_sync');
  t.ok(m.shedsSync());
  t.notOk(m.shedsInbound());
  used = 67;
  t.equal(m.check(), 'shed_sync', 'within the hysteresis band it stays');
  used = 90;
  t.equal(m.check(), 'shed_inbound');
  t.ok(m.shedsInbound() && m.shedsSync(), 'the higher level sheds both');
  used = 82;
  t.equal(m.check(), 'shed_inbound');
  used = 79;
  t.equal(m.check(), 'shed_sync', 'below 85-5 it steps down one level');
  used = 65;
  t.equal(m.check(), 'normal');
  t.equal(m.counters.transitions, 4);
  t.throws(() => new MemoryMonitor({ shedSyncPercent: 90, shedInboundPercent: 80, hysteresisPercent: 5, checkIntervalMs: 1 }), RangeError);
});
