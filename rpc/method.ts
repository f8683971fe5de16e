/**
 * The shape of a JSON-RPC method (a name, a summary, a zod schema for its params and one for its
 * result, the errors it may send, and a handler that reads and writes only through NodeQuery), and
 * the param pieces and helpers the method families share.
 */
import { z } from 'zod';
import { parseAddress, type Address } from '../chain/address.ts';
import { fromHex } from '../chain/bytes.ts';
import { StateError } from '../state/tree.ts';
import { RpcError, type RpcErrorName } from './errors.ts';
import { Uint } from './json.ts';
import type { ChainHead, NodeQuery } from './query.ts';

export interface RpcLog {
  warn(msg: string, fields?: object): void;
}

/** What the server gives each call besides its params. */
export interface RpcContext {
  /** The server's per-call timeout: the longest a handler may wait. */
  readonly timeoutMs: number;
  /** The server's method table (rpc.discover describes it). */
  readonly methods: readonly RpcMethod[];
  readonly log: RpcLog | undefined;
}

/**
 * Every params schema is an object schema: its fields, in the order it lists them, are the params
 * by name and by position (params.ts).
 */
export type ParamsSchema = z.ZodObject<z.core.$ZodShape, z.core.$ZodObjectConfig>;

export interface RpcMethod<P extends ParamsSchema = ParamsSchema, R extends z.ZodType = z.ZodType, N extends string = string> {
  readonly name: N;
  readonly summary: string;
  readonly description?: string;
  readonly params: P;
  readonly result: R;
  /** Application errors this method may return, besides the protocol ones every method can. */
  readonly errors: readonly RpcErrorName[];
  handler(node: NodeQuery, params: z.output<P>, ctx: RpcContext): Promise<z.input<R>>;
}

/** Keeps the handler typed against its own schemas, and the method's name and schemas for typed clients (client.ts). */
export function defineRpcMethod<const N extends string, P extends ParamsSchema, R extends z.ZodType>(m: RpcMethod<P, R, N>): RpcMethod<P, R, N> {
  return m;
}

// ---- param pieces ------------------------------------------------------------------------------

const HEX_CHARS = '[0-9a-fA-F]';

/** Hex in params: upper or lower case, `0x` optional. Parsed to bytes. */
export function hexIn(what: string, size: { bytes: number } | { maxBytes: number }) {
  const exact = 'bytes' in size;
  const pattern = exact ? `^(?:0x)?${HEX_CHARS}{${2 * size.bytes}}$` : `^(?:0x)?(?:${HEX_CHARS}{2})*$`;
  const max = exact ? 2 + 2 * size.bytes : 2 + 2 * size.maxBytes;
  const tooLong = exact ? `expected ${size.bytes} bytes as hex (${2 * size.bytes} hex digits)` : `longer than ${size.maxBytes} bytes`;
  return z.string()
    .max(max, tooLong)
    .regex(new RegExp(pattern), exact ? `expected ${size.bytes} bytes as hex (${2 * size.bytes} hex digits)` : 'expected hex: pairs of digits 0-9a-f')
    .transform((s) => fromHex(s))
    .describe(exact ? `${what}: ${size.bytes} bytes as hex` : `${what}: hex, at most ${size.maxBytes} bytes`);
}

export const AddressIn = z.string().max(100, 'too long for an address').transform((s, ctx): Address => {
  try {
    return parseAddress(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
}).describe('address: bech32m, hm1…');

export const HeightIn = Uint.describe('block height (a non-negative safe integer)');
export const NoParams = z.strictObject({});

// ---- helpers -----------------------------------------------------------------------------------

/** The latest committed block; before genesis, the error every method that reads the chain gives. */
export function requireHead(node: NodeQuery): ChainHead {
  const head = node.head();
  if (head === undefined) throw new Error('the node has no chain yet (genesis not applied)');
  return head;
}

export function latestHeight(node: NodeQuery): number {
  return requireHead(node).height;
}

/** A height to read committed data at: the given one (checked against the head) or the latest. */
export function resolveHeight(node: NodeQuery, height: number | undefined, what: string): number {
  const latest = latestHeight(node);
  if (height !== undefined && height > latest) throw RpcError.notFound(`no ${what} at height ${height}: the latest height is ${latest}`, { height, latest_height: latest });
  return height ?? latest;
}

/** State reads of a pruned or unknown version are "not found", not internal errors. */
export async function readState<T>(fn: () => Promise<T>, height: number): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StateError && (err.code === 'version_pruned' || err.code === 'version_unknown')) {
      throw RpcError.notFound(`state at height ${height} is not available: ${err.message}`, { height, reason: err.code });
    }
    if (err instanceof StateError && err.code === 'key_invalid') throw RpcError.invalidParams([{ path: 'key', message: err.message }]);
    throw err;
  }
}
