/** The JSON-RPC client the commands call the node with. */
import { CliError, DEFAULT_RPC_URL } from './context.ts';

/** The client gives up on a request after this long (a committed-wait broadcast included). */
const RPC_CLIENT_TIMEOUT_MS = 120_000;

export class RpcClient {
  readonly url: string;
  #id = 0;

  constructor(url: string) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new CliError('usage', `--rpc: not a URL: ${JSON.stringify(url)} (expected e.g. ${DEFAULT_RPC_URL})`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CliError('usage', `--rpc: expected an http:// or https:// URL, got ${JSON.stringify(url)}`);
    this.url = url;
  }

  async call<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.#id;
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
        signal: AbortSignal.timeout(RPC_CLIENT_TIMEOUT_MS),
      });
    } catch (err) {
      throw connectionError(this.url, err);
    }
    const text = await res.text().catch(() => '');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CliError('rpc_error', `${this.url} answered HTTP ${res.status} without JSON-RPC (is --rpc a Hallmark node?)`);
    }
    const b = body as { result?: unknown; error?: { code?: unknown; message?: unknown } };
    if (b && typeof b === 'object' && b.error && typeof b.error === 'object') {
      throw new CliError('rpc_error', typeof b.error.message === 'string' ? b.error.message : `RPC error ${String(b.error.code)}`);
    }
    if (!b || typeof b !== 'object' || !('result' in b)) {
      throw new CliError('rpc_error', `${this.url} answered HTTP ${res.status} without a JSON-RPC result (is --rpc a Hallmark node?)`);
    }
    return b.result as T;
  }
}

function connectionError(url: string, err: unknown): CliError {
  const e = err as { name?: string; cause?: { code?: string; errors?: { code?: string }[]; message?: string } };
  if (e.name === 'TimeoutError') return new CliError('rpc_unreachable', `${url} did not answer within ${RPC_CLIENT_TIMEOUT_MS / 1000} s`);
  const code = e.cause?.code ?? e.cause?.errors?.[0]?.code;
  if (code === 'ECONNREFUSED') return new CliError('no_node', `no node at ${url}: is it running? (start one with npm start)`);
  return new CliError('rpc_unreachable', `cannot reach ${url}: ${code ?? e.cause?.message ?? (err as Error).message}`);
}
