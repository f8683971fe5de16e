/**
 * The block sync protocol, /hallmark/sync/1.0.0: one request, one response, strict canonical CBOR.
 *
 *   request   [from, count]                              count in 1..MAX_SYNC_BLOCKS
 *   response  [0, [[block, commit], ...]]                consecutive heights from `from`; may be
 *                                                        shorter than asked (the server's head, or
 *                                                        its byte budget), empty if it has none
 *             [1, code, retryAfterMs]                    'rate_limited' | 'busy' | 'unavailable'
 */
import { bytes, CodecError, decodeCanonical, encodeCanonical, list, text, tuple, uint, type CborValue } from '../chain/codec.ts';
import { CodedError } from '../chain/errors.ts';

export const SYNC_PROTOCOL = '/hallmark/sync/1.0.0';
export const MAX_SYNC_BLOCKS = 100;
/** Bytes of CBOR framing around each block and commit pair, at most (array and byte-string headers). */
const PAIR_OVERHEAD = 32;

export type SyncErrorCode = 'rate_limited' | 'busy' | 'unavailable';
const ERROR_CODES: readonly SyncErrorCode[] = ['rate_limited', 'busy', 'unavailable'];

export class SyncError extends CodedError<'sync_malformed'> {}

export interface SyncRequest {
  from: number;
  count: number;
}

export interface SyncBlock {
  block: Uint8Array;
  commit: Uint8Array;
}

export type SyncResponse = { kind: 'blocks'; blocks: SyncBlock[] } | { kind: 'error'; code: SyncErrorCode; retryAfterMs: number };

/** What a node serves from: its head and its stored blocks with their commits. */
export interface SyncSource {
  head(): number;
  block(height: number): Promise<SyncBlock | undefined>;
}

/** A CodecError of a request or response read off the wire, as the SyncError the protocols throw. */
export function malformed(what: string, err: unknown): SyncError {
  const e = new SyncError('sync_malformed', `${what}: ${(err as Error).message}`);
  e.cause = err;
  return e;
}

export function encodeSyncRequest(r: SyncRequest): Uint8Array {
  if (!Number.isSafeInteger(r.from) || r.from < 1) throw new RangeError('sync request: from must be a height >= 1');
  if (!Number.isSafeInteger(r.count) || r.count < 1 || r.count > MAX_SYNC_BLOCKS) throw new RangeError(`sync request: count must be 1..${MAX_SYNC_BLOCKS}`);
  return encodeCanonical([r.from, r.count]);
}

export function decodeSyncRequest(encoded: Uint8Array): SyncRequest {
  try {
    const [from, count] = tuple(decodeCanonical(encoded, 'sync request', 64), 2, 'sync request');
    const r = { from: uint(from, 'sync request.from'), count: uint(count, 'sync request.count', MAX_SYNC_BLOCKS) };
    if (r.from < 1 || r.count < 1) throw new CodecError('schema', 'sync request: from and count must be at least 1');
    return r;
  } catch (err) {
    if (err instanceof CodecError) throw malformed('sync request', err);
    throw err;
  }
}

export function encodeSyncResponse(r: SyncResponse): Uint8Array {
  return r.kind === 'blocks'
    ? encodeCanonical([0, r.blocks.map((b) => [b.block, b.commit])])
    : encodeCanonical([1, r.code, Math.max(0, Math.ceil(r.retryAfterMs))]);
}

export function decodeSyncResponse(encoded: Uint8Array, maxBytes: number): SyncResponse {
  try {
    const value = decodeCanonical(encoded, 'sync response', maxBytes);
    if (!Array.isArray(value) || value.length === 0) throw new CodecError('schema', 'sync response: expected a non-empty array');
    if (value[0] === 0) {
      const [, pairs] = tuple(value, 2, 'sync response');
      return {
        kind: 'blocks',
        blocks: list(pairs, MAX_SYNC_BLOCKS, 'sync response.blocks').map((p, i) => {
          const [block, commit] = tuple(p, 2, `sync response.blocks[${i}]`);
          return { block: bytes(block, `blocks[${i}].block`, { max: maxBytes }), commit: bytes(commit, `blocks[${i}].commit`, { max: maxBytes }) };
        }),
      };
    }
    if (value[0] === 1) return decodeErrorAnswer(value, 'sync error');
    throw new CodecError('schema', `sync response: unknown kind ${String(value[0])}`);
  } catch (err) {
    if (err instanceof CodecError) throw malformed('sync response', err);
    throw err;
  }
}

/** `[kind, code, retryAfterMs]`: the error answer both request/response protocols share. */
export function decodeErrorAnswer(value: CborValue[], what: string): { kind: 'error'; code: SyncErrorCode; retryAfterMs: number } {
  const [, code, retry] = tuple(value, 3, what);
  const c = text(code, `${what}.code`, 32);
  if (!(ERROR_CODES as readonly string[]).includes(c)) throw new CodecError('schema', `${what}.code: unknown code ${JSON.stringify(c)}`);
  return { kind: 'error', code: c as SyncErrorCode, retryAfterMs: uint(retry, `${what}.retryAfterMs`, 3_600_000) };
}

/**
 * The response to `req` from `source`, within `maxResponseBytes`: consecutive blocks from
 * `req.from`, stopping at the head, at `req.count`, or before the budget would be exceeded. A
 * single block larger than the budget is answered 'unavailable' rather than with a message the
 * requester would refuse, and so is a first block it does not have (it joined by snapshot above it).
 */
export async function serveSyncRequest(req: SyncRequest, source: SyncSource, maxResponseBytes: number): Promise<Uint8Array> {
  const last = Math.min(source.head(), req.from + req.count - 1);
  const blocks: SyncBlock[] = [];
  let size = 16;
  for (let h = req.from; h <= last; h++) {
    const b = await source.block(h);
    // A node restored from a snapshot has no blocks below it: that is 'unavailable', not a fault.
    if (b === undefined) {
      if (blocks.length === 0) return encodeSyncResponse({ kind: 'error', code: 'unavailable', retryAfterMs: 1_000 });
      break;
    }
    size += b.block.byteLength + b.commit.byteLength + PAIR_OVERHEAD;
    if (size > maxResponseBytes) {
      if (blocks.length === 0) return encodeSyncResponse({ kind: 'error', code: 'unavailable', retryAfterMs: 0 });
      break;
    }
    blocks.push(b);
  }
  return encodeSyncResponse({ kind: 'blocks', blocks });
}
