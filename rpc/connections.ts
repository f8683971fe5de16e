/**
 * The RPC server's side of TCP: which connections it accepts, how long it waits on each client, and
 * how it ends a connection. It knows nothing of JSON-RPC; server.ts puts HTTP on top.
 *
 *   - Caps on open connections, in total and per client, checked at accept before a byte of HTTP
 *     is parsed: a connection over a cap is reset at once and costs no request slot.
 *   - A client is its IPv4 address (also when IPv4-mapped) or its IPv6 /64, the block one host
 *     usually holds; 127.0.0.1 and 127.0.0.2 are two clients.
 *   - While no request is in progress the connection has one deadline: `headerTimeoutMs` from
 *     accept to the first request's headers (then 408), `keepAliveTimeoutMs` from the last answer to
 *     the next request's headers (then closed silently, as a keep-alive close is). Node's parser
 *     reads the socket itself, so the first byte of a request cannot be seen: the keep-alive wait
 *     runs to the headers, not to the first byte.
 *   - `end` never waits for the client: the socket is destroyed once what was written is
 *     flushed, or at once if the client is not reading.
 */
import { createServer, isIPv6, type Server, type Socket } from 'node:net';

/** Why the server dropped a connection or refused a request; a limit's reason is its option's name. */
export type RpcRefusal =
  /** Dropped at accept, no answer: too many open connections in total. */
  | 'max_connections'
  /** Dropped at accept, no answer: too many open connections from this client. */
  | 'max_connections_per_ip'
  /** 503: too many requests being handled in total. */
  | 'max_concurrent'
  /** 503: too many requests from this client being handled. */
  | 'max_concurrent_per_ip'
  /** 413: the body is larger than maxBodyBytes. */
  | 'max_body_bytes'
  /** 415: the Content-Type is not application/json. */
  | 'content_type'
  /** 400 or 431: bytes that are not HTTP/1.1, or headers too large. */
  | 'malformed_http'
  /** 408: the headers did not arrive within headerTimeoutMs. */
  | 'header_timeout'
  /** 408: the body did not arrive within bodyTimeoutMs. */
  | 'body_timeout'
  /** Closed: the client did not take an answer within sendTimeoutMs. */
  | 'send_timeout'
  /** Closed: no next request on a kept-alive connection within keepAliveTimeoutMs. */
  | 'keep_alive_timeout';

export const RPC_REFUSALS: readonly RpcRefusal[] = [
  'max_connections', 'max_connections_per_ip', 'max_concurrent', 'max_concurrent_per_ip', 'max_body_bytes', 'content_type',
  'malformed_http', 'header_timeout', 'body_timeout', 'send_timeout', 'keep_alive_timeout',
];

export interface ConnectionLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
  headerTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

const TIMEOUT_408 = 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';

/** The key a client is counted under: an IPv4 address, or an IPv6 /64 written `a:b:c:d::/64`. */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address.split('%')[0]!)) return address;
  const [head, tail] = address.split('%')[0]!.toLowerCase().split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Counts per client, and their total; a client's entry goes when its count reaches zero. */
export class ClientCounts {
  #total = 0;
  readonly #byClient = new Map<string, number>();

  get total(): number {
    return this.#total;
  }

  of(client: string): number {
    return this.#byClient.get(client) ?? 0;
  }

  add(client: string): void {
    this.#byClient.set(client, this.of(client) + 1);
    this.#total++;
  }

  remove(client: string): void {
    const n = this.of(client) - 1;
    if (n > 0) this.#byClient.set(client, n);
    else this.#byClient.delete(client);
    this.#total--;
  }
}

interface Connection {
  readonly client: string;
  /** Requests whose headers arrived and whose answer is not yet done. */
  requests: number;
  /** end() was called: the socket goes on the next turn, and nothing more is done for it. */
  ending: boolean;
  deadline: NodeJS.Timeout | undefined;
}

/** The listening socket, the connections it accepted, and what it refused. */
export class RpcConnections {
  /** Since start, by reason (connections dropped and closed here, requests refused by server.ts). */
  readonly refused: Record<RpcRefusal, number> = Object.fromEntries(RPC_REFUSALS.map((r) => [r, 0])) as Record<RpcRefusal, number>;
  readonly #limits: ConnectionLimits;
  readonly #open = new ClientCounts();
  readonly #connections = new Map<Socket, Connection>();
  readonly #tcp: Server;

  /** `admit` gets each accepted socket (server.ts hands it to the HTTP server). */
  constructor(limits: ConnectionLimits, admit: (socket: Socket) => void) {
    this.#limits = limits;
    // As node:http's own listener: a client that half-closes after its request still gets the answer.
    this.#tcp = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      if (this.#accept(socket)) admit(socket);
    });
  }

  /** Open connections now. */
  get open(): number {
    return this.#open.total;
  }

  listen(port: number, host: string): Promise<Server> {
    return new Promise<Server>((resolve, reject) => {
      this.#tcp.once('error', reject);
      this.#tcp.listen(port, host, () => {
        this.#tcp.off('error', reject);
        resolve(this.#tcp);
      });
    });
  }

  /** Stops listening and destroys every connection. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve, reject) => this.#tcp.close((err) => (err ? reject(err) : resolve())));
    for (const socket of this.#connections.keys()) socket.destroy();
    return closed;
  }

  /** The client `socket` is counted under. */
  clientOf(socket: Socket): string {
    return this.#connections.get(socket)?.client ?? clientKey(socket.remoteAddress ?? '');
  }

  /** Requests on `socket` whose headers arrived and whose answer is not done. */
  requestsOn(socket: Socket): number {
    return this.#connections.get(socket)?.requests ?? 0;
  }

  /**
   * Ends `socket` without waiting for its client. Bytes just written reach the kernel within this
   * turn of the event loop unless the client has stopped reading and its window is full; by the next
   * turn they are flushed, or never will be without the client's help, and either way the socket goes.
   */
  end(socket: Socket): void {
    const c = this.#connections.get(socket);
    if (c !== undefined) c.ending = true;
    setImmediate(() => socket.destroy());
  }

  /**
   * A request's headers arrived: the connection waits on the request now, not for one. False when
   * the connection is ending (a request pipelined behind a refused one): leave that request alone.
   */
  requestStarted(socket: Socket): boolean {
    const c = this.#connections.get(socket);
    if (c === undefined || c.ending) return false;
    c.requests++;
    clearTimeout(c.deadline);
    c.deadline = undefined;
    return true;
  }

  /** A request was answered (or abandoned): when none is left, the keep-alive wait starts. */
  requestEnded(socket: Socket): void {
    const c = this.#connections.get(socket);
    if (c === undefined) return;
    c.requests--;
    if (c.requests === 0 && !c.ending && !socket.destroyed) this.#wait(socket, c, 'keep_alive_timeout', this.#limits.keepAliveTimeoutMs);
  }

  #accept(socket: Socket): boolean {
    socket.on('error', () => {}); // a reset from the client; node:http reports its own
    if (socket.remoteAddress === undefined) {
      socket.destroy(); // gone before it was accepted
      return false;
    }
    const client = clientKey(socket.remoteAddress);
    const over: RpcRefusal | null = this.#open.total >= this.#limits.maxConnections ? 'max_connections'
      : this.#open.of(client) >= this.#limits.maxConnectionsPerIp ? 'max_connections_per_ip' : null;
    if (over !== null) {
      this.refused[over]++;
      socket.resetAndDestroy();
      return false;
    }
    const c: Connection = { client, requests: 0, ending: false, deadline: undefined };
    this.#open.add(client);
    this.#connections.set(socket, c);
    socket.once('close', () => {
      clearTimeout(c.deadline);
      this.#connections.delete(socket);
      this.#open.remove(client);
    });
    this.#wait(socket, c, 'header_timeout', this.#limits.headerTimeoutMs);
    return true;
  }

  #wait(socket: Socket, c: Connection, reason: 'header_timeout' | 'keep_alive_timeout', ms: number): void {
    clearTimeout(c.deadline);
    c.deadline = setTimeout(() => {
      this.refused[reason]++;
      if (reason === 'header_timeout' && socket.writable) socket.write(TIMEOUT_408);
      this.end(socket);
    }, ms);
  }
}
