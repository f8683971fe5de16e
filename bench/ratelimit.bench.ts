/**
 * The per-message cost of the p2p rate limiter (PeerRateLimiter.admit: two GCRA buckets, 1,000
 * peers, three protocols), against decoding one small vote message, which every consensus message
 * costs anyway, measured in the same run.
 */
import { PREVOTE } from '../chain/vote.ts';
import { DEFAULT_P2P_CONFIG } from '../p2p/config.ts';
import { PeerRateLimiter } from '../p2p/rate-limit.ts';
import { decodeConsensusMessage, encodeConsensusMessage } from '../p2p/wire.ts';
import { rate, report } from './harness.ts';

const PEERS = Array.from({ length: 1000 }, (_, i) => `12D3KooWpeer${i}`);
const PROTOCOLS = ['consensus', 'txs', 'sync'] as const;
const BATCH = 10_000;

const vote = encodeConsensusMessage({ kind: 'votes', votes: [{ type: PREVOTE, height: 1, round: 0, blockHash: new Uint8Array(32), validator: new Uint8Array(20), signature: new Uint8Array(64) }] });
const decodeRate = await rate(() => {
  for (let i = 0; i < BATCH; i++) decodeConsensusMessage(vote, 1 << 20);
  return BATCH;
});
report({ bench: 'ratelimit', name: 'decode one vote message (baseline)', value: 1e9 / decodeRate, unit: 'ns/message' });

// Generous quotas: every message is admitted, so the full path (both buckets updated) is measured.
const limits = structuredClone(DEFAULT_P2P_CONFIG.limits);
for (const p of PROTOCOLS) limits[p].messages = { perSecond: 1e9, burst: 1e9 };
const limiter = new PeerRateLimiter(limits, {});
let k = 0;
const admitRate = await rate(() => {
  for (let i = 0; i < BATCH; i++, k++) limiter.admit(PEERS[k % PEERS.length]!, PROTOCOLS[k % 3]!, 200);
  return BATCH;
});
report({ bench: 'ratelimit', name: 'PeerRateLimiter.admit', value: 1e9 / admitRate, unit: 'ns/message', ratio_to_decode: Number((decodeRate / admitRate).toPrecision(3)) });
