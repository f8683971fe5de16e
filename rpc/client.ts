/**
 * A JSON-RPC client of a Hallmark node, typed by the server's own method table (methods.ts):
 * `call('chain_getBlock', { height: 2 })` takes what that method's params schema takes and
 * returns what its result schema describes. Params are checked against the schema before they are
 * sent (a mistake is the error the node would give, without the round trip); a result is checked
 * against its schema before it is returned, so a caller never holds a shape the types do not say.
 */
import { CodedError } from '../chain/errors.ts';
import { RpcError } from './errors.ts';
import { RPC_METHODS, type RpcMethodName, type RpcParams, type RpcResult } from './methods.ts';
import { parseParams } from './params.ts';

export type RpcClientErrorCode =
  /** The URL is not an http(s) URL. */
  | 'bad_url'
  /** Nothing listens at the URL. */
  | 'no_node'
  /** Another network failure, or no answer within the timeout. */
  | 'unreachable'
  /** An answer that is not a JSON-RPC response. */
  | 'not_json_rpc'
  /** A result that does not match the method's result schema. */
  | 'bad_result'
  /** Params that do not match the method's params schema (checked before sending). */
  | 'invalid_params'
  /** The node answered with an error; `rpc` holds its code and data. */
  | 'rpc_error';

export class RpcClientError extends CodedError<RpcClientErrorCode> {
  /** The JSON-RPC error object, for `rpc_error` and `invalid_params`. */
  readonly rpc: { code: number; data?: unknown } | undefined;

  constructor(code: RpcClientErrorCode, message: string, rpc?: { code: number; data?: unknown }) {
    super(code, message);
    this.rpc = rpc;
  }
}

/** How long a call waits for its answer unless the client is told otherwise. */
export const DEFAULT_CLIENT_TIMEOUT_MS = 30_000;

/** Everything the client may call; parameter lists are optional where every param is. */
type ParamsArg<N extends RpcMethodName> = {} extends RpcParams<N> ? [params?: RpcParams<N>] : [params: RpcParams<N>];

const BY_NAME = new Map(RPC_METHODS.map((m) => [m.name, m]));

export class RpcClient {
  readonly url: string;
  readonly #timeoutMs: number;
  #id = 0;

  constructor(url: string, opts: { timeoutMs?: number } = {}) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new RpcClientError('bad_url', `not a URL: ${JSON.stringify(url)} (expected e.g. http://127.0.0.1:26657)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RpcClientError('bad_url', `expected an http:// or https:// URL, got ${JSON.stringify(url)}`);
    this.url = url;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
  }

  async call<N extends RpcMethodName>(name: N, ...[params]: ParamsArg<N>): Promise<RpcResult<N>> {
    const method = BY_NAME.get(name)!;
    const checked = parseParams(method.params, params);
    if (!checked.ok) {
      const e = RpcError.invalidParams(checked.issues);
      throw new RpcClientError('invalid_params', e.message, { code: e.code, data: e.data });
    }
    const result = await this.#post(name, params ?? {});
    const parsed = method.result.safeParse(result);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const at = issue.path.length === 0 ? 'result' : issue.path.join('.');
      throw new RpcClientError('bad_result', `${this.url} answered ${name} with a result that does not match its schema: ${at}: ${issue.message}`);
    }
    // The method named N: its result schema's output is RpcResult<N>.
    return parsed.data as RpcResult<N>;
  }

  async #post(method: string, params: unknown): Promise<unknown> {
    const id = ++this.#id;
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw this.#unreachable(err);
    }
    const text = await res.text().catch(() => '');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new RpcClientError('not_json_rpc', `${this.url} answered HTTP ${res.status} without JSON-RPC`);
    }
    const b = body as { result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } };
    if (b && typeof b === 'object' && b.error && typeof b.error === 'object') {
      const { code, message, data } = b.error;
      throw new RpcClientError('rpc_error', typeof message === 'string' ? message : `RPC error ${String(code)}`, { code: Number(code), data });
    }
    if (!b || typeof b !== 'object' || !('result' in b)) {
      throw new RpcClientError('not_json_rpc', `${this.url} answered HTTP ${res.status} without a JSON-RPC result`);
    }
    return b.result;
  }

  #unreachable(err: unknown): RpcClientError {
    const e = err as { name?: string; cause?: { code?: string; errors?: { code?: string }[]; message?: string } };
    if (e.name === 'TimeoutError') return new RpcClientError('unreachable', `${this.url} did not answer within ${this.#timeoutMs / 1000} s`);
    const code = e.cause?.code ?? e.cause?.errors?.[0]?.code;
    if (code === 'ECONNREFUSED') return new RpcClientError('no_node', `no node at ${this.url}: is it running?`);
    return new RpcClientError('unreachable', `cannot reach ${this.url}: ${code ?? e.cause?.message ?? (err as Error).message}`);
  }
}
