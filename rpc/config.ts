/**
 * The RPC server's settings, their defaults and bounds: what config.toml [rpc] holds (declared here,
 * read by node/config.ts) and startRpcServer takes (server.ts). Kept apart from the server so reading
 * a config does not load it.
 */
import { byteCount, field, integer, listenKey, type ConfigTable } from '../chain/config-keys.ts';

export interface RpcServerConfig {
  host: string;
  port: number;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Most calls in one batch. */
  maxBatch: number;
  /** Most requests being handled at once (a request is handled once its body has arrived). */
  maxConcurrent: number;
  /** Most requests from one client being handled at once; at or above maxConcurrent it adds nothing. */
  maxConcurrentPerIp: number;
  /** Most open connections. */
  maxConnections: number;
  /** Most open connections from one client. */
  maxConnectionsPerIp: number;
  /** Longest a call may run. */
  timeoutMs: number;
  /** Longest from accept to the first request's complete headers. */
  headerTimeoutMs: number;
  /** Longest from a request's headers to the end of its body. */
  bodyTimeoutMs: number;
  /** Longest a client may take to take an answer once it is written. */
  sendTimeoutMs: number;
  /** Longest a kept-alive connection waits, after an answer, for the next request's headers. */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_RPC_SERVER_OPTIONS: Readonly<RpcServerConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 26657,
  maxBodyBytes: 1 << 20,
  maxBatch: 100,
  maxConcurrent: 64,
  maxConcurrentPerIp: 16,
  maxConnections: 256,
  maxConnectionsPerIp: 32,
  timeoutMs: 10_000,
  headerTimeoutMs: 5_000,
  bodyTimeoutMs: 10_000,
  sendTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
});

/** The longest timeout setTimeout keeps (2^31-1 ms, about 24.8 days); a longer one would fire at once. */
export const MAX_RPC_TIMEOUT_MS = 2 ** 31 - 1;

const key = field<RpcServerConfig>();
const count = integer(1);
const timeout = integer(1, MAX_RPC_TIMEOUT_MS);

/** config.toml's [rpc] table. */
export const RPC_TABLES: readonly ConfigTable<RpcServerConfig>[] = [{
  name: 'rpc',
  doc: 'JSON-RPC 2.0 over HTTP (docs/rpc.md)',
  of: (c) => c,
  keys: [
    listenKey('where the server listens; keep it on loopback unless a proxy guards it'),
    key('max_body_bytes', 'maxBodyBytes', byteCount(1), 'largest request body'),
    key('max_batch', 'maxBatch', count, 'most calls in one batch request'),
    key('max_concurrent', 'maxConcurrent', count,
      'most requests handled at once; a request is handled from when its whole body has arrived until its calls have settled; more get 503'),
    key('max_concurrent_per_ip', 'maxConcurrentPerIp', count,
      'the same for one client, so no client takes every slot; at or above `max_concurrent` it adds nothing'),
    key('max_connections', 'maxConnections', count, 'most open connections; more are reset at accept, before any HTTP is read'),
    key('max_connections_per_ip', 'maxConnectionsPerIp', count, 'most open connections from one client, idle kept-alive ones included'),
    key('timeout_ms', 'timeoutMs', timeout, 'a call (a `tx_broadcast` waiting for its commit included) gives up after this long'),
    key('header_timeout_ms', 'headerTimeoutMs', timeout,
      'a new connection must have sent its request headers this long after connecting (then 408, closed)'),
    key('body_timeout_ms', 'bodyTimeoutMs', timeout,
      'a request body must be complete this long after its headers, however steadily it trickles in (then 408, closed)'),
    key('send_timeout_ms', 'sendTimeoutMs', timeout, 'a client must have taken an answer this long after it was written, or the connection is closed'),
    key('keep_alive_timeout_ms', 'keepAliveTimeoutMs', timeout,
      "a kept-alive connection is closed (silently) if the next request's headers have not arrived this long after an answer; answers carry `Keep-Alive: timeout=<seconds>`"),
  ],
}];
