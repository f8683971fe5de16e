/**
 * The JSON-RPC 2.0 server: HTTP POST on node:http, single and batch requests, notifications, and
 * the limits that keep one client from stalling or exhausting the node:
 *
 *   - connections: capped in total and per client at accept, before any HTTP is parsed, and every
 *     wait on a client has a deadline (connections.ts): headers, body, taking an answer, keep-alive;
 *   - body size: a declared Content-Length over maxBodyBytes is refused before reading, and a body
 *     that grows past it stops being read (HTTP 413);
 *   - batch size: more than maxBatch calls is one Invalid Request error;
 *   - concurrency: a request takes a slot once its whole body has arrived, and keeps it until its
 *     handlers have settled, even ones that timed out, so slow work cannot pile up behind answered
 *     clients. Past maxConcurrent slots in total, or maxConcurrentPerIp for one client, the server
 *     answers 503 at once;
 *   - time: each call gets timeoutMs (then error -32006).
 *
 * Every refusal (400, 408, 413, 415, 431, 503) is answered and the connection destroyed without waiting
 * for the client, and counted by reason in `refused`.
 *
 * Protocol errors use the JSON-RPC codes; application errors are in errors.ts RPC_ERRORS and
 * docs/rpc.md. An exception a handler did not mean to throw is logged and answered as -32603
 * with no detail.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DEFAULT_RPC_SERVER_OPTIONS, MAX_RPC_TIMEOUT_MS, type RpcServerConfig } from './config.ts';
import { ClientCounts, RpcConnections, type RpcRefusal } from './connections.ts';
import type { NodeQuery } from './query.ts';
import { RPC_ERRORS, RpcError } from './errors.ts';
import type { RpcContext, RpcLog, RpcMethod } from './method.ts';
import { RPC_METHODS } from './methods.ts';
import { parseParams } from './params.ts';

export { RPC_REFUSALS, type RpcRefusal } from './connections.ts';
export { DEFAULT_RPC_SERVER_OPTIONS, MAX_RPC_TIMEOUT_MS, type RpcServerConfig } from './config.ts';
export { MAX_ISSUES } from './params.ts';

export interface RpcServerOptions extends RpcServerConfig {
  log?: RpcLog;
  /** The method table (default RPC_METHODS); tests and embedders may add their own. */
  methods?: readonly RpcMethod[];
  /** Told of every call of a known method once it is answered, with the seconds it took (metrics). */
  onCall?: (method: string, seconds: number) => void;
}

export interface RpcServer {
  /** `http://host:port/` */
  readonly url: string;
  readonly port: number;
  /** Since start: connections dropped or closed and requests refused, by reason (a limit's reason is its option's name). */
  readonly refused: Readonly<Record<RpcRefusal, number>>;
  /** Now: open connections, requests whose body is being read, and requests being handled (holding a slot). */
  load(): { connections: number; reading: number; handling: number };
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

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const HINT = 'Hallmark JSON-RPC 2.0: POST a request with Content-Type: application/json to this URL. ' +
  'Call rpc.discover for the OpenRPC description of every method.\n';

const COUNT_OPTIONS = ['maxBodyBytes', 'maxBatch', 'maxConcurrent', 'maxConcurrentPerIp', 'maxConnections', 'maxConnectionsPerIp'] as const;
const TIMEOUT_OPTIONS = ['timeoutMs', 'headerTimeoutMs', 'bodyTimeoutMs', 'sendTimeoutMs', 'keepAliveTimeoutMs'] as const;

function checkOptions(o: RpcServerOptions): void {
  if (typeof o.host !== 'string' || o.host === '') throw new TypeError('rpc server host: expected a host name or IP address');
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new RangeError(`rpc server port: expected 0-65535, got ${o.port}`);
  for (const k of [...COUNT_OPTIONS, ...TIMEOUT_OPTIONS]) {
    if (!Number.isSafeInteger(o[k]) || o[k] < 1) throw new RangeError(`rpc server ${k}: expected a positive integer, got ${o[k]}`);
  }
  for (const k of TIMEOUT_OPTIONS) {
    if (o[k] > MAX_RPC_TIMEOUT_MS) throw new RangeError(`rpc server ${k}: at most ${MAX_RPC_TIMEOUT_MS} ms, got ${o[k]}`);
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

/** `application/json`, with or without parameters such as charset, in any case. */
function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

export async function startRpcServer(node: NodeQuery, options: Partial<RpcServerOptions> = {}): Promise<RpcServer> {
  const opts: RpcServerOptions = { ...DEFAULT_RPC_SERVER_OPTIONS, ...options };
  checkOptions(opts);
  const { maxBodyBytes, maxBatch, maxConcurrent, maxConcurrentPerIp, timeoutMs, bodyTimeoutMs, sendTimeoutMs, log } = opts;
  const methodList = opts.methods ?? RPC_METHODS;
  const methods = new Map(methodList.map((m) => [m.name, m]));
  const ctx: RpcContext = { timeoutMs, methods: methodList, log };
  const connections = new RpcConnections(opts, (socket) => http.emit('connection', socket));
  /** Requests holding a slot, per client. */
  const handling = new ClientCounts();
  /** Requests whose body is being read (they hold no slot). */
  let reading = 0;
  const keepAliveHint = `timeout=${Math.floor(opts.keepAliveTimeoutMs / 1000)}`;

  /** Runs one call (already known to be a well-formed request object) under the call timeout. */
  async function call(m: RpcMethod, id: Id, rawParams: unknown, settled: Promise<unknown>[]): Promise<Response> {
    const parsed = parseParams(m.params, rawParams);
    if (!parsed.ok) {
      const e = RpcError.invalidParams(parsed.issues);
      return { jsonrpc: '2.0', id, error: { code: e.code, message: e.message, data: e.data } };
    }
    let timer: NodeJS.Timeout | undefined;
    const run = Promise.resolve().then(() => m.handler(node, parsed.params, ctx));
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
      log?.warn('rpc: internal error', { method: m.name, error: err });
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
      return errorResponse(id, 'invalid_request', 'invalid request: params must be an object or an array (or omitted)');
    }
    if (entry.params === null) return errorResponse(id, 'invalid_request', 'invalid request: params must be an object or an array (or omitted), not null');
    const m = methods.get(entry.method);
    const started = performance.now();
    const response = m === undefined
      ? errorResponse(id, 'method_not_found', `method not found: ${excerpt(entry.method)}`, { method: entry.method.slice(0, 64) })
      : await call(m, id, entry.params, settled);
    if (m !== undefined) opts.onCall?.(m.name, (performance.now() - started) / 1000);
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

  /** Writes an answer; a client that does not take it within sendTimeoutMs loses the connection. */
  function send(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}, contentType = JSON_TYPE): void {
    if (res.headersSent || res.destroyed) return;
    const h: Record<string, string | number> = { ...headers };
    if (text !== '') h['content-type'] = contentType;
    if (status !== 204) h['content-length'] = Buffer.byteLength(text);
    // node:http's own keep-alive timer is off (connections.ts keeps the deadline); the hint tells
    // clients when an idle connection will be closed, so they do not send on it just as it is.
    if (h.connection !== 'close') h['keep-alive'] = keepAliveHint;
    const timer = setTimeout(() => {
      connections.refused.send_timeout++;
      res.destroy();
    }, sendTimeoutMs).unref();
    res.once('close', () => clearTimeout(timer));
    res.writeHead(status, h);
    res.end(text);
  }

  /** Answers a refusal and ends the connection, without reading more of the request or waiting for the client. */
  function refuse(req: IncomingMessage, res: ServerResponse, reason: RpcRefusal, status: number, response: Response | null, headers: Record<string, string> = {}): void {
    connections.refused[reason]++;
    req.pause();
    send(res, status, response === null ? '' : JSON.stringify(response), { connection: 'close', ...headers });
    connections.end(req.socket);
  }

  /** The limit that refuses a request from `client` now, if one does. */
  function busy(client: string): Extract<RpcRefusal, 'max_concurrent' | 'max_concurrent_per_ip'> | null {
    if (handling.total >= maxConcurrent) return 'max_concurrent';
    if (handling.of(client) >= maxConcurrentPerIp) return 'max_concurrent_per_ip';
    return null;
  }

  function refuseBusy(req: IncomingMessage, res: ServerResponse, reason: 'max_concurrent' | 'max_concurrent_per_ip', client: string): void {
    const message = reason === 'max_concurrent'
      ? `server busy: ${handling.total} requests in flight (the limit is ${maxConcurrent}); retry later`
      : `server busy: ${handling.of(client)} requests from ${client} in flight (the limit per client is ${maxConcurrentPerIp}); retry later`;
    refuse(req, res, reason, 503, errorResponse(null, 'server_busy', message), { 'retry-after': '1' });
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/') {
      send(res, 404, `not found: ${HINT}`, {}, TEXT_TYPE);
      return;
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      send(res, 200, HINT, {}, TEXT_TYPE);
      return;
    }
    if (req.method !== 'POST') {
      send(res, 405, `method ${req.method} not allowed. ${HINT}`, { allow: 'POST, GET', connection: 'close' }, TEXT_TYPE);
      return;
    }
    const client = connections.clientOf(req.socket);
    const full = busy(client);
    if (full !== null) {
      refuseBusy(req, res, full, client);
      return;
    }
    if (!isJsonContentType(req.headers['content-type'])) {
      refuse(req, res, 'content_type', 415, errorResponse(null, 'invalid_request', `invalid request: Content-Type must be application/json, got ${excerpt(req.headers['content-type'] ?? '(none)')}`));
      return;
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxBodyBytes) {
      refuse(req, res, 'max_body_bytes', 413, errorResponse(null, 'request_too_large', `request body of ${excerpt(declared, 20)} bytes exceeds the limit of ${maxBodyBytes}`, { limit_bytes: maxBodyBytes }));
      return;
    }

    // The body is read without a slot. A client that sends headers and then a byte at a time, the
    // cheapest way to hold a request open, then costs one connection (capped per client) until
    // bodyTimeoutMs, and no client can make the server refuse others by being slow. A slot is
    // taken once the body is complete, for the work the server does itself.
    reading++;
    let read = false;
    const chunks: Buffer[] = [];
    let size = 0;
    const stopReading = () => {
      if (read) return;
      read = true;
      reading--;
      clearTimeout(deadline);
      req.off('data', onData);
    };
    const deadline = setTimeout(() => {
      stopReading();
      refuse(req, res, 'body_timeout', 408, null);
    }, bodyTimeoutMs).unref();
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        stopReading();
        chunks.length = 0;
        refuse(req, res, 'max_body_bytes', 413, errorResponse(null, 'request_too_large', `request body exceeds the limit of ${maxBodyBytes} bytes`, { limit_bytes: maxBodyBytes }));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    // A client that goes away before the end stops being read.
    req.on('close', stopReading);
    req.on('error', stopReading);
    req.on('end', () => {
      if (read) return;
      stopReading();
      const full = busy(client);
      if (full !== null) {
        refuseBusy(req, res, full, client);
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks, size)));
      } catch {
        send(res, 200, JSON.stringify(errorResponse(null, 'parse_error', 'parse error: the body is not valid JSON in UTF-8')));
        return;
      }
      chunks.length = 0;
      handling.add(client);
      const settled: Promise<unknown>[] = [];
      answer(parsed, settled).then(
        ({ status, text }) => send(res, status, text),
        (err: unknown) => {
          log?.warn('rpc: internal error', { error: err });
          send(res, 500, JSON.stringify(errorResponse(null, 'internal_error', 'internal error')));
        },
      ).finally(() => Promise.all(settled).then(() => handling.remove(client)));
    });
  }

  // Node's own header, request and keep-alive timers are off: connections.ts and the body and send
  // deadlines above keep every wait on a client, each counted by reason.
  const http = createServer({ keepAliveTimeout: 0, requestTimeout: 0, headersTimeout: 0 }, (req, res) => {
    if (!connections.requestStarted(req.socket)) return;
    res.once('close', () => connections.requestEnded(req.socket));
    try {
      handle(req, res);
    } catch (err) {
      log?.warn('rpc: internal error', { error: err });
      if (!res.headersSent) send(res, 500, JSON.stringify(errorResponse(null, 'internal_error', 'internal error')));
      else res.destroy();
    }
  });
  http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Bytes that are not HTTP: answer 400 (431 for oversized headers) unless an answer is already
    // being written on this connection, where it would land in the middle of it.
    if (err.code !== 'ECONNRESET' && socket.writable && connections.requestsOn(socket) === 0) {
      connections.refused.malformed_http++;
      socket.write(`HTTP/1.1 ${err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    }
    connections.end(socket);
  });
  const tcp = await connections.listen(opts.port, opts.host);
  const address = tcp.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/`,
    port: address.port,
    refused: connections.refused,
    load: () => ({ connections: connections.open, reading, handling: handling.total }),
    close: () => connections.close(),
  };
}
