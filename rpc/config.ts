/**
 * The RPC server's settings, their defaults and bounds: what config.toml [rpc] holds (node/config.ts)
 * and startRpcServer takes (server.ts). Kept apart from the server so reading a config does not load it.
 */

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
