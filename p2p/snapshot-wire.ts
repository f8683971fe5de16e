/**
 * The state snapshot protocol, /hallmark/snapshot/1.0.0: one request, one response per stream,
 * strict canonical CBOR. What a snapshot is (chunks of the state tree with range proofs) is
 * state/snapshot.ts's business; this module moves its bytes.
 *
 *   request   [0]                                  the snapshots the peer offers
 *             [1, height, index]                   one chunk of the snapshot at `height`
 *   response  [0, [[format, height, protocol, root, chunks], ...]]   newest first, at most MAX_OFFERS
 *             [1, chunk]                            the chunk's bytes, unchecked here
 *             [2, code, retryAfterMs]               'rate_limited' | 'busy' | 'unavailable'
 *
 * An offer's `root` is the state root the peer says the snapshot has; nothing trusts it until the
 * syncing node has found the same root in a header signed by +2/3 of the validators.
 */
import { bytes, CodecError, decodeCanonical, encodeCanonical, list, tuple, uint } from '../chain/codec.ts';
import { decodeErrorAnswer, malformed, type SyncErrorCode } from './sync-wire.ts';

export const SNAPSHOT_PROTOCOL = '/hallmark/snapshot/1.0.0';
/** Snapshots listed in one answer. */
export const MAX_OFFERS = 16;
/** Chunks in one snapshot, at most (a chunk is ~1 MiB: a 4 TiB state). */
export const MAX_CHUNKS = 1 << 22;

/** A snapshot as its server describes it. */
export interface SnapshotOffer {
  format: number;
  height: number;
  protocolVersion: number;
  /** The state root after block `height` (claimed). */
  root: Uint8Array;
  chunks: number;
}

export type SnapshotRequest = { kind: 'list' } | { kind: 'chunk'; height: number; index: number };

export type SnapshotResponse =
  | { kind: 'offers'; offers: SnapshotOffer[] }
  | { kind: 'chunk'; chunk: Uint8Array }
  | { kind: 'error'; code: SyncErrorCode; retryAfterMs: number };

/** What a node serves snapshots from (node/snapshots.ts). */
export interface SnapshotSource {
  /** Complete snapshots, newest first. */
  list(): SnapshotOffer[];
  /** The chunk's bytes, or undefined if that snapshot or chunk is not (or no longer) here. */
  chunk(height: number, index: number): Promise<Uint8Array | undefined>;
}

/** Two offers describe the same snapshot. */
export function sameSnapshot(a: SnapshotOffer, b: SnapshotOffer): boolean {
  return a.format === b.format && a.height === b.height && a.protocolVersion === b.protocolVersion && a.chunks === b.chunks &&
    a.root.length === b.root.length && a.root.every((x, i) => x === b.root[i]);
}

export function encodeSnapshotRequest(r: SnapshotRequest): Uint8Array {
  return encodeCanonical(r.kind === 'list' ? [0] : [1, r.height, r.index]);
}

export function decodeSnapshotRequest(encoded: Uint8Array): SnapshotRequest {
  try {
    const v = decodeCanonical(encoded, 'snapshot request', 64);
    if (Array.isArray(v) && v.length === 1 && v[0] === 0) return { kind: 'list' };
    const [kind, height, index] = tuple(v, 3, 'snapshot request');
    if (kind !== 1) throw new CodecError('schema', `snapshot request: unknown kind ${String(kind)}`);
    return { kind: 'chunk', height: uint(height, 'snapshot request.height'), index: uint(index, 'snapshot request.index', MAX_CHUNKS - 1) };
  } catch (err) {
    if (err instanceof CodecError) throw malformed('snapshot request', err);
    throw err;
  }
}

export function encodeSnapshotResponse(r: SnapshotResponse): Uint8Array {
  if (r.kind === 'offers') return encodeCanonical([0, r.offers.slice(0, MAX_OFFERS).map((o) => [o.format, o.height, o.protocolVersion, o.root, o.chunks])]);
  if (r.kind === 'chunk') return encodeCanonical([1, r.chunk]);
  return encodeCanonical([2, r.code, Math.max(0, Math.ceil(r.retryAfterMs))]);
}

export function decodeSnapshotResponse(encoded: Uint8Array, maxBytes: number): SnapshotResponse {
  try {
    const v = decodeCanonical(encoded, 'snapshot response', maxBytes);
    if (!Array.isArray(v) || v.length === 0) throw new CodecError('schema', 'snapshot response: expected a non-empty array');
    if (v[0] === 0) {
      const [, offers] = tuple(v, 2, 'snapshot response');
      return {
        kind: 'offers',
        offers: list(offers, MAX_OFFERS, 'snapshot offers').map((o, i) => {
          const [format, height, protocol, root, chunks] = tuple(o, 5, `snapshot offers[${i}]`);
          const offer = {
            format: uint(format, `offers[${i}].format`, 0xffff), height: uint(height, `offers[${i}].height`),
            protocolVersion: uint(protocol, `offers[${i}].protocol`, 0xffff), root: bytes(root, `offers[${i}].root`, 32),
            chunks: uint(chunks, `offers[${i}].chunks`, MAX_CHUNKS),
          };
          if (offer.height < 1 || offer.chunks < 1) throw new CodecError('schema', `snapshot offers[${i}]: height and chunks must be at least 1`);
          return offer;
        }),
      };
    }
    if (v[0] === 1) {
      const [, chunk] = tuple(v, 2, 'snapshot response');
      return { kind: 'chunk', chunk: bytes(chunk, 'snapshot chunk', { max: maxBytes }) };
    }
    if (v[0] === 2) return decodeErrorAnswer(v, 'snapshot error');
    throw new CodecError('schema', `snapshot response: unknown kind ${String(v[0])}`);
  } catch (err) {
    if (err instanceof CodecError) throw malformed('snapshot response', err);
    throw err;
  }
}

/** The answer to `req` from `source`. A chunk it does not have is 'unavailable', never an empty answer. */
export async function serveSnapshotRequest(req: SnapshotRequest, source: SnapshotSource): Promise<Uint8Array> {
  if (req.kind === 'list') return encodeSnapshotResponse({ kind: 'offers', offers: source.list() });
  const chunk = await source.chunk(req.height, req.index);
  return encodeSnapshotResponse(chunk === undefined ? { kind: 'error', code: 'unavailable', retryAfterMs: 0 } : { kind: 'chunk', chunk });
}
