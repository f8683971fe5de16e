/**
 * The libp2p host: TCP, Noise, Yamux, identify and ping, with bounded connections and stream
 * buffers; and request/response over one length-prefixed message each way.
 *
 * A request opens a fresh stream, writes one message, reads one message, closes. A message longer
 * than `maxMessageBytes` is refused from its length prefix, before its body is buffered: the stream
 * is aborted with the error and the handler never sees it. Nothing a peer sends can throw out of a
 * stream handler, so a bad peer costs a stream, never the process.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify, type Identify } from '@libp2p/identify';
import type { ConnectionGater, Ed25519PrivateKey, Libp2p, PeerId, Stream } from '@libp2p/interface';
import { ping, type Ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { lpStream } from '@libp2p/utils';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { CodedError } from '../chain/errors.ts';

export type P2PErrorCode = 'host_options_invalid' | 'message_too_large' | 'message_malformed' | 'request_failed';

export class P2PError extends CodedError<P2PErrorCode> {}

export type HostServices = { identify: Identify; ping: Ping };
export type Libp2pHost = Libp2p<HostServices>;

export interface HostOptions {
  privateKey: Ed25519PrivateKey;
  /** A multiaddr to listen on, e.g. /ip4/127.0.0.1/tcp/26656 (port 0 picks a free port). */
  listen: string;
  /** Open connections, inbound and outbound together, before new inbound ones are refused. */
  maxConnections?: number;
  /** Yamux streams a peer may have open at once on one connection. */
  maxStreamsPerConnection?: number;
  /**
   * Bytes a stream may buffer on either side (unsent writes, unread reads) before it is reset.
   * A single message must fit, so this is an upper bound on every protocol's `maxMessageBytes`.
   */
  maxStreamBufferBytes?: number;
  /** Decides which peers and addresses may connect; see @libp2p/interface ConnectionGater. */
  connectionGater?: ConnectionGater;
  /** Inbound connections still upgrading (Noise, Yamux) at once. */
  maxIncomingPendingConnections?: number;
  /** New inbound connections accepted per IP per second. */
  inboundConnectionThreshold?: number;
  dialTimeoutMs?: number;
  /** Time an inbound connection has to finish its upgrade. */
  upgradeTimeoutMs?: number;
  /** Time to agree on a protocol for a new stream, either way. */
  negotiationTimeoutMs?: number;
}

export const DEFAULT_MAX_CONNECTIONS = 64;
export const DEFAULT_MAX_STREAMS_PER_CONNECTION = 256;
export const DEFAULT_MAX_STREAM_BUFFER_BYTES = 4 * 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export interface Host {
  libp2p: Libp2pHost;
  peerId: string;
  /** The addresses peers can dial, each ending in /p2p/<peerId>. */
  multiaddrs: Multiaddr[];
  maxStreamBufferBytes: number;
  close(): Promise<void>;
}

/** `value` checked as a positive integer; `undefined` takes `fallback`, or is an error without one. */
function positiveInteger(name: string, value: number | undefined, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (value === undefined || !Number.isSafeInteger(value) || value <= 0) throw new P2PError('host_options_invalid', `${name}: expected a positive integer, got ${value}`);
  return value;
}

/** `{ [name]: value }` for a value given (checked positive), `{}` for one left to libp2p's default. */
function optional(name: string, value: number | undefined): Record<string, number> {
  return value === undefined ? {} : { [name]: positiveInteger(name, value) };
}

/** Creates and starts a host listening on `opts.listen`. */
export async function createHost(opts: HostOptions): Promise<Host> {
  const maxConnections = positiveInteger('maxConnections', opts.maxConnections, DEFAULT_MAX_CONNECTIONS);
  const maxStreams = positiveInteger('maxStreamsPerConnection', opts.maxStreamsPerConnection, DEFAULT_MAX_STREAMS_PER_CONNECTION);
  const maxBuffer = positiveInteger('maxStreamBufferBytes', opts.maxStreamBufferBytes, DEFAULT_MAX_STREAM_BUFFER_BYTES);
  let listen: Multiaddr;
  try {
    listen = multiaddr(opts.listen);
  } catch (err) {
    throw new P2PError('host_options_invalid', `listen: ${JSON.stringify(opts.listen)} is not a multiaddr: ${(err as Error).message}`);
  }
  const libp2p = await createLibp2p({
    privateKey: opts.privateKey,
    addresses: { listen: [listen.toString()] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({
      maxInboundStreams: maxStreams,
      maxOutboundStreams: maxStreams,
      // Default is Infinity: a peer that never reads would make us buffer without bound.
      streamOptions: { maxReadBufferLength: maxBuffer, maxWriteBufferLength: maxBuffer },
    })],
    connectionManager: {
      maxConnections,
      ...optional('maxIncomingPendingConnections', opts.maxIncomingPendingConnections),
      ...optional('inboundConnectionThreshold', opts.inboundConnectionThreshold),
      ...optional('dialTimeout', opts.dialTimeoutMs),
      ...optional('inboundUpgradeTimeout', opts.upgradeTimeoutMs),
      ...optional('inboundStreamProtocolNegotiationTimeout', opts.negotiationTimeoutMs),
      ...optional('outboundStreamProtocolNegotiationTimeout', opts.negotiationTimeoutMs),
    },
    ...(opts.connectionGater === undefined ? {} : { connectionGater: opts.connectionGater }),
    services: { identify: identify(), ping: ping() },
  });
  return {
    libp2p,
    peerId: libp2p.peerId.toString(),
    multiaddrs: libp2p.getMultiaddrs(),
    maxStreamBufferBytes: maxBuffer,
    close: async () => { await libp2p.stop(); },
  };
}

export interface MessageOptions {
  /** The longest message accepted, in bytes; longer ones abort the stream. */
  maxMessageBytes: number;
  /** How long one exchange may take, start to finish. */
  timeoutMs?: number;
  /** Ends the exchange early (a requester that gave up). */
  signal?: AbortSignal;
}

export interface HandlerOptions extends MessageOptions {
  /** Told of every exchange that ended in an error (a bad message, a timeout, a handler that threw): where peer scoring hooks in. */
  onError?: (peerId: string, err: Error) => void;
}

/** Bytes of the unsigned varint (LEB128) that encodes `n`. */
function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/**
 * The length-prefix decoder for lpStream. lpStream's own check of the prefix length runs only once a
 * varint has decoded, so a peer sending endless continuation bytes (0x80-0xff) would be read, and
 * buffered, until the timeout; this decoder refuses a prefix longer than `maxMessageBytes` needs.
 * lpStream treats RangeError as "need more bytes".
 */
function lengthDecoder(maxMessageBytes: number): (data: { byteLength: number; get(index: number): number }) => number {
  const maxPrefix = varintLength(maxMessageBytes);
  return (data) => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < data.byteLength; i++) {
      if (i >= maxPrefix) break;
      const byte = data.get(i);
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    if (data.byteLength >= maxPrefix) {
      throw new P2PError('message_malformed', `length prefix longer than the ${maxPrefix} bytes a ${maxMessageBytes}-byte message needs`);
    }
    throw new RangeError('incomplete varint');
  };
}

/** Length-prefixed messages on a stream, each at most `maxMessageBytes` (refused from its prefix). */
export function messageStream(stream: Stream, maxMessageBytes: number) {
  // The byte stream under lpStream buffers 4 MiB by default: a whole message (and the start of the
  // next) must fit, and the length check must see the prefix before the buffer limit trips.
  return lpStream(stream, { maxDataLength: maxMessageBytes, lengthDecoder: lengthDecoder(maxMessageBytes), maxBufferSize: Math.max(4 << 20, 2 * maxMessageBytes) });
}

/** Answers a request; `undefined` closes the stream without a response (the requester sees an error). */
export type MessageHandler = (peerId: string, message: Uint8Array) => Uint8Array | undefined | Promise<Uint8Array | undefined>;

function checkMessageOptions(host: Host, opts: MessageOptions): { maxMessageBytes: number; timeoutMs: number } {
  const maxMessageBytes = positiveInteger('maxMessageBytes', opts.maxMessageBytes);
  if (maxMessageBytes > host.maxStreamBufferBytes) {
    throw new P2PError('host_options_invalid', `maxMessageBytes ${maxMessageBytes} exceeds the host's stream buffer of ${host.maxStreamBufferBytes} bytes`);
  }
  return { maxMessageBytes, timeoutMs: positiveInteger('timeoutMs', opts.timeoutMs, DEFAULT_REQUEST_TIMEOUT_MS) };
}

function abortStream(stream: Stream, err: unknown): void {
  stream.abort(err instanceof Error ? err : new Error(String(err)));
}

/** Registers `onMessage` as the responder for `protocol`: one request in, at most one response out. */
export async function handleMessages(host: Host, protocol: string, opts: HandlerOptions, onMessage: MessageHandler): Promise<void> {
  const { maxMessageBytes, timeoutMs } = checkMessageOptions(host, opts);
  await host.libp2p.handle(protocol, async (stream, connection) => {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const lp = messageStream(stream, maxMessageBytes);
      const request = await lp.read({ signal });
      const response = await onMessage(connection.remotePeer.toString(), request.subarray());
      if (response !== undefined) {
        if (response.byteLength > maxMessageBytes) {
          throw new P2PError('message_too_large', `${protocol}: response of ${response.byteLength} bytes exceeds ${maxMessageBytes}`);
        }
        await lp.write(response, { signal });
      }
      await stream.close({ signal });
    } catch (err) {
      // Oversized or malformed input, a timeout, a handler that threw: this stream ends, the host lives.
      const error = err instanceof Error ? err : new Error(String(err));
      stream.abort(error);
      try {
        opts.onError?.(connection.remotePeer.toString(), error);
      } catch {
        // A failing observer must not turn a bad stream into a crash.
      }
    }
  });
}

/** Sends `message` to `peer` (a connected peer's id, or a multiaddr ending in /p2p/<id>) and returns its response. */
export async function request(host: Host, peer: PeerId | Multiaddr | string, protocol: string, message: Uint8Array, opts: MessageOptions): Promise<Uint8Array> {
  const { maxMessageBytes, timeoutMs } = checkMessageOptions(host, opts);
  if (message.byteLength > maxMessageBytes) {
    throw new P2PError('message_too_large', `${protocol}: request of ${message.byteLength} bytes exceeds ${maxMessageBytes}`);
  }
  const signal = opts.signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([AbortSignal.timeout(timeoutMs), opts.signal]);
  let stream: Stream | undefined;
  try {
    stream = await host.libp2p.dialProtocol(typeof peer === 'string' ? multiaddr(peer) : peer, protocol, { signal });
    const lp = messageStream(stream, maxMessageBytes);
    await lp.write(message, { signal });
    const response = await lp.read({ signal });
    await stream.close({ signal });
    return response.subarray();
  } catch (err) {
    if (stream !== undefined) abortStream(stream, err);
    const failed = new P2PError('request_failed', `${protocol} request to ${peer.toString()} failed: ${(err as Error).message}`);
    failed.cause = err;
    throw failed;
  }
}
