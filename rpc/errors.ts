/**
 * The errors the JSON-RPC server sends: each code with its stable name, and RpcError, the value a
 * method throws to send one. Anything else a handler throws is an internal error (logged, never
 * shown to the client).
 */
/** Every error code the server sends, with its stable name and what it means. */
export const RPC_ERRORS = {
  parse_error: { code: -32700, message: 'Parse error: the body is not valid JSON (UTF-8)' },
  invalid_request: { code: -32600, message: 'Invalid request: not a JSON-RPC 2.0 request object, an empty batch, a batch over the limit, or a wrong Content-Type' },
  method_not_found: { code: -32601, message: 'Method not found' },
  invalid_params: { code: -32602, message: 'Invalid params: data.issues lists each field and what is wrong with it' },
  internal_error: { code: -32603, message: 'Internal error: the server logged the details' },
  request_too_large: { code: -32001, message: 'Request body larger than the server accepts (HTTP 413)' },
  server_busy: { code: -32003, message: 'Server busy: too many requests in flight, retry later (HTTP 503)' },
  not_found: { code: -32004, message: 'Not found: no such block, commit, transaction or state version' },
  wait_timeout: { code: -32005, message: 'The transaction was admitted but not committed within timeout_ms; data.hash names it' },
  request_timeout: { code: -32006, message: 'The call did not finish within the server timeout' },
  tx_refused: { code: -32010, message: 'The mempool refused the transaction; data.reason is its stable code' },
} as const;
export type RpcErrorName = keyof typeof RPC_ERRORS;

export interface RpcIssue {
  /** Where in params, dotted: `height`, `tx`, `params` for the object itself. */
  path: string;
  message: string;
}

export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;

  constructor(name: RpcErrorName, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.code = RPC_ERRORS[name].code;
    this.data = data;
  }

  static invalidParams(issues: RpcIssue[]): RpcError {
    const first = issues[0];
    const summary = first === undefined ? 'invalid params' : `invalid params: ${first.path}: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`;
    return new RpcError('invalid_params', summary, { issues });
  }

  static notFound(message: string, data?: unknown): RpcError {
    return new RpcError('not_found', message, data);
  }
}
