/**
 * The JSON-RPC 2.0 server: HTTP POST on node:http, single and batch requests, notifications, and
 * the limits that keep one client from stalling or exhausting the node:
 *
 *   - body size: a declared Content-Length over maxBodyBytes is refused before reading, and a body
 *     that grows past it stops being read (HTTP 413, connection closed);
 *   - batch size: more than maxBatch calls is one Invalid Request error;
 *   - concurrency: past maxConcurrent requests in flight the server answers 503 at once; a request
 *     holds its slot until its handlers have settled, even ones that timed out, so slow work
 *     cannot pile up behind answered clients;
 *   - time: each call gets timeoutMs (then error -32006); a client gets timeoutMs to send its
 *     headers and whole body (Node's headersTimeout/requestTimeout; then HTTP 408).
 *
 * Protocol errors use the JSON-RPC codes; application errors are in methods.ts RPC_ERRORS and
 * docs/rpc.md. An exception a handler did not mean to throw is logged and answered as -32603
 * with no detail.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { RpcNode } from './node-api.ts';
import { RPC_ERRORS, RPC_METHODS, RpcError, type RpcContext, type RpcIssue, type RpcLog, type RpcMethod } from './methods.ts';

export interface RpcServerOptions {
  host: string;
  port: number;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Most calls in one batch. */
  maxBatch: number;
  /** Most HTTP requests being read or handled at once. */
  maxConcurrent: number;
  /** Longest a call may run, and longest a client may take to send a request. */
  timeoutMs: number;
  log?: RpcLog;
  /** The method table (default RPC_METHODS); tests and embedders may add their own. */
  methods?: readonly RpcMethod[];
}

export const DEFAULT_RPC_HOST = '127.0.0.1';
export const DEFAULT_RPC_PORT = 26657;
export const DEFAULT_MAX_BODY_BYTES = 1 << 20;
export const DEFAULT_MAX_BATCH = 100;
export const DEFAULT_MAX_CONCURRENT = 64;
export const DEFAULT_TIMEOUT_MS = 10_000;

export const DEFAULT_RPC_SERVER_OPTIONS: Readonly<Omit<RpcServerOptions, 'log' | 'methods'>> = Object.freeze({
  host: DEFAULT_RPC_HOST,
  port: DEFAULT_RPC_PORT,
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  maxBatch: DEFAULT_MAX_BATCH,
  maxConcurrent: DEFAULT_MAX_CONCURRENT,
  timeoutMs: DEFAULT_TIMEOUT_MS,
});

/** At most this many issues are listed for one invalid params error. */
export const MAX_ISSUES = 20;

export interface RpcServer {
  /** `http://host:port/` */
  readonly url: string;
  readonly port: number;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

type Id = string | number | null;
interface ErrorBody {
  code: number;
  message: string;
  data?: unknown;
}
type Response = { jsonrpc: '2.0'; id: Id; result: unknown } | { jsonrpc: '2.0'; id: Id; error: ErrorBody };

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };
const HINT = 'Hallmark JSON-RPC 2.0: POST a request with Content-Type: application/json to this URL. ' +
  'Call rpc.discover for the OpenRPC description of every method.\n';

function checkOptions(o: RpcServerOptions): void {
  if (typeof o.host !== 'string' || o.host === '') throw new TypeError('rpc server host: expected a host name or IP address');
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new RangeError(`rpc server port: expected 0-65535, got ${o.port}`);
  for (const k of ['maxBodyBytes', 'maxBatch', 'maxConcurrent', 'timeoutMs'] as const) {
    if (!Number.isSafeInteger(o[k]) || o[k] < 1) throw new RangeError(`rpc server ${k}: expected a positive integer, got ${o[k]}`);
  }
  const names = new Set<string>();
  for (const m of o.methods ?? []) {
    if (names.has(m.name)) throw new RangeError(`rpc server methods: ${JSON.stringify(m.name)} is listed twice`);
    names.add(m.name);
  }
}

function errorResponse(id: Id, name: keyof typeof RPC_ERRORS, message: string, data?: unknown): Response {
  return { jsonrpc: '2.0', id, error: { code: RPC_ERRORS[name].code, message, ...(data === undefined ? {} : { data }) } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isValidId(v: unknown): v is Id {
  return v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

/** A printable excerpt of a client-supplied name, so errors cannot be made arbitrarily large. */
function excerpt(s: string, max = 64): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

function issuesOf(error: z.ZodError): RpcIssue[] {
  const out: RpcIssue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.length === 0 ? 'params' : issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: key.length > 64 ? `${key.slice(0, 64)}…` : key, message: 'unknown parameter' });
    } else {
      out.push({ path, message: issue.message });
    }
  }
  if (out.length > MAX_ISSUES) {
    const more = out.length - MAX_ISSUES;
    out.length = MAX_ISSUES;
    out.push({ path: 'params', message: `and ${more} more issues` });
  }
  return out;
}

/** `application/json`, with or without parameters such as charset, in any case. */
function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

export async function startRpcServer(node: RpcNode, options: Partial<RpcServerOptions> = {}): Promise<RpcServer> {
  const opts: RpcServerOptions = { ...DEFAULT_RPC_SERVER_OPTIONS, ...options };
  checkOptions(opts);
  const { maxBodyBytes, maxBatch, maxConcurrent, timeoutMs, log } = opts;
  const methodList = opts.methods ?? RPC_METHODS;
  const methods = new Map(methodList.map((m) => [m.name, m]));
  const ctx: RpcContext = { timeoutMs, methods: methodList, log };
  let inFlight = 0;

  /** Runs one call (already known to be a well-formed request object) under the call timeout. */
  async function call(m: RpcMethod, id: Id, rawParams: unknown, settled: Promise<unknown>[]): Promise<Response> {
    if (Array.isArray(rawParams)) {
      const e = RpcError.invalidParams([{ path: 'params', message: 'expected an object of named parameters, not an array' }]);
      return { jsonrpc: '2.0', id, error: { code: e.code, message: e.message, data: e.data } };
    }
    const parsed = m.params.safeParse(rawParams ?? {});
    if (!parsed.success) {
      const e = RpcError.invalidParams(issuesOf(parsed.error));
      return { jsonrpc: '2.0', id, error: { code: e.code, message: e.message, data: e.data } };
    }
    let timer: NodeJS.Timeout | undefined;
    const run = Promise.resolve().then(() => m.handler(node, parsed.data, ctx));
    settled.push(run.catch(() => {}));
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RpcError('request_timeout', `${m.name} did not finish within ${timeoutMs} ms`, { timeout_ms: timeoutMs })), timeoutMs);
    });
    try {
      const result = await Promise.race([run, timeout]);
      // Serialised here so a result JSON cannot express (a bigint, a cycle) is this call's error.
      JSON.stringify(result);
      return { jsonrpc: '2.0', id, result };
    } catch (err) {
      if (err instanceof RpcError) return { jsonrpc: '2.0', id, error: { code: err.code, message: err.message, ...(err.data === undefined ? {} : { data: err.data }) } };
      log?.warn('rpc: internal error', { method: m.name, error: (err as Error)?.message ?? String(err), stack: (err as Error)?.stack });
      return errorResponse(id, 'internal_error', 'internal error');
    } finally {
      clearTimeout(timer);
    }
  }

  /** One entry of a request: a response, or null for a notification. */
  async function dispatch(entry: unknown, settled: Promise<unknown>[]): Promise<Response | null> {
    if (!isObject(entry)) return errorResponse(null, 'invalid_request', 'invalid request: expected a JSON-RPC request object');
    const hasId = Object.hasOwn(entry, 'id');
    const id = hasId && isValidId(entry.id) ? entry.id : null;
    if (hasId && !isValidId(entry.id)) return errorResponse(null, 'invalid_request', 'invalid request: id must be a string, a number or null');
    if (entry.jsonrpc !== '2.0') return errorResponse(id, 'invalid_request', 'invalid request: jsonrpc must be exactly "2.0"');
    if (typeof entry.method !== 'string') return errorResponse(id, 'invalid_request', 'invalid request: method must be a string');
    if (entry.params !== undefined && typeof entry.params !== 'object') {
      return errorResponse(id, 'invalid_request', 'invalid request: params must be an object (or omitted)');
    }
    if (entry.params === null) return errorResponse(id, 'invalid_request', 'invalid request: params must be an object (or omitted), not null');
    const m = methods.get(entry.method);
    const response = m === undefined
      ? errorResponse(id, 'method_not_found', `method not found: ${excerpt(entry.method)}`, { method: entry.method.slice(0, 64) })
      : await call(m, id, entry.params, settled);
    return hasId ? response : null;
  }

  /** The answer to a parsed body: status and JSON text, or 204 with no body. */
  async function answer(body: unknown, settled: Promise<unknown>[]): Promise<{ status: number; text: string }> {
    if (Array.isArray(body)) {
      if (body.length === 0) return { status: 200, text: JSON.stringify(errorResponse(null, 'invalid_request', 'invalid request: empty batch')) };
      if (body.length > maxBatch) {
        return { status: 200, text: JSON.stringify(errorResponse(null, 'invalid_request', `invalid request: batch of ${body.length} calls; the limit is ${maxBatch}`, { limit: maxBatch })) };
      }
      const responses = (await Promise.all(body.map((entry) => dispatch(entry, settled)))).filter((r): r is Response => r !== null);
      return responses.length === 0 ? { status: 204, text: '' } : { status: 200, text: JSON.stringify(responses) };
    }
    const response = await dispatch(body, settled);
    return response === null ? { status: 204, text: '' } : { status: 200, text: JSON.stringify(response) };
  }

  function send(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
    if (res.headersSent || res.destroyed) return;
    const h: Record<string, string | number> = { ...headers };
    if (text !== '') {
      Object.assign(h, JSON_HEADERS);
      h['content-length'] = Buffer.byteLength(text);
    }
    res.writeHead(status, h);
    res.end(text);
  }

  /** Refuses the request without reading (more of) its body, and closes the connection after. */
  function refuse(req: IncomingMessage, res: ServerResponse, status: number, response: Response, headers: Record<string, string> = {}): void {
    req.pause();
    res.on('finish', () => req.socket.end());
    send(res, status, JSON.stringify(response), { connection: 'close', ...headers });
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`not found: ${HINT}`);
      return;
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(HINT) });
      res.end(req.method === 'HEAD' ? undefined : HINT);
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST, GET', 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(`method ${req.method} not allowed. ${HINT}`);
      return;
    }
    if (inFlight >= maxConcurrent) {
      refuse(req, res, 503, errorResponse(null, 'server_busy', `server busy: ${inFlight} requests in flight (the limit is ${maxConcurrent}); retry later`), { 'retry-after': '1' });
      return;
    }
    if (!isJsonContentType(req.headers['content-type'])) {
      refuse(req, res, 415, errorResponse(null, 'invalid_request', `invalid request: Content-Type must be application/json, got ${excerpt(req.headers['content-type'] ?? '(none)')}`));
      return;
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxBodyBytes) {
      refuse(req, res, 413, errorResponse(null, 'request_too_large', `request body of ${excerpt(declared, 20)} bytes exceeds the limit of ${maxBodyBytes}`, { limit_bytes: maxBodyBytes }));
      return;
    }

    inFlight++;
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        inFlight--;
      }
    };
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        tooLarge = true;
        chunks.length = 0;
        req.off('data', onData);
        release();
        refuse(req, res, 413, errorResponse(null, 'request_too_large', `request body exceeds the limit of ${maxBodyBytes} bytes`, { limit_bytes: maxBodyBytes }));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    // A client that goes away (or is timed out by Node) before the end frees its slot.
    req.on('close', () => {
      if (!req.complete) release();
    });
    req.on('error', release);
    req.on('end', () => {
      if (tooLarge) return;
      const settled: Promise<unknown>[] = [];
      let parsed: unknown;
      try {
        parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks, size)));
      } catch {
        release();
        send(res, 200, JSON.stringify(errorResponse(null, 'parse_error', 'parse error: the body is not valid JSON in UTF-8')));
        return;
      }
      chunks.length = 0;
      answer(parsed, settled).then(
        ({ status, text }) => send(res, status, text),
        (err: unknown) => {
          log?.warn('rpc: internal error', { error: (err as Error)?.message ?? String(err), stack: (err as Error)?.stack });
          send(res, 500, JSON.stringify(errorResponse(null, 'internal_error', 'internal error')));
        },
      ).finally(() => Promise.all(settled).then(release));
    });
  }

  const server = createServer({
    requestTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    // Node checks the two timeouts above on this interval (default 30 s): keep it well below them.
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(timeoutMs / 4))),
  }, (req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      log?.warn('rpc: internal error', { error: (err as Error)?.message ?? String(err), stack: (err as Error)?.stack });
      if (!res.headersSent) send(res, 500, JSON.stringify(errorResponse(null, 'internal_error', 'internal error')));
      else res.destroy();
    }
  });
  server.on('clientError', (err, socket) => {
    // Malformed HTTP (or a timed-out client): answer 400 if the socket can still take it.
    if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = (err as NodeJS.ErrnoException).code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/`,
    port: address.port,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    }),
  };
}
