/**
 * The persistent peers (`persistent_peers` in the config): parsed before the host starts, dialled
 * once it has, and dialled again with jittered exponential backoff whenever a dial fails or the
 * connection drops, until the network closes.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { P2PConfig, P2PLog } from './config.ts';
import { P2PError, type Host } from './host.ts';

export interface PersistentAddress {
  id: string;
  addr: Multiaddr;
}

/** Each `/.../p2p/<peer id>` address with its peer id; a bad one throws P2PError('host_options_invalid'). */
export function parsePersistentPeers(texts: readonly string[]): PersistentAddress[] {
  return texts.map((text) => {
    let addr: Multiaddr;
    try {
      addr = multiaddr(text);
    } catch (err) {
      throw new P2PError('host_options_invalid', `persistent peer ${JSON.stringify(text)} is not a multiaddr: ${(err as Error).message}`);
    }
    const id = addr.getComponents().findLast((x) => x.name === 'p2p')?.value;
    if (id === undefined) throw new P2PError('host_options_invalid', `persistent peer ${text} must end in /p2p/<peer id>`);
    return { id, addr };
  });
}

interface PersistentPeer extends PersistentAddress {
  delay: number;
  timer: NodeJS.Timeout | null;
}

export class PersistentPeers {
  readonly #host: Host;
  readonly #config: P2PConfig;
  readonly #log: P2PLog;
  readonly #onDialFailure: () => void;
  readonly #peers: PersistentPeer[];
  #closed = false;

  constructor(host: Host, addresses: readonly PersistentAddress[], o: { config: P2PConfig; log: P2PLog; onDialFailure: () => void }) {
    this.#host = host;
    this.#config = o.config;
    this.#log = o.log;
    this.#onDialFailure = o.onDialFailure;
    this.#peers = addresses.map((p) => ({ ...p, delay: o.config.reconnectBaseMs, timer: null }));
  }

  /** Dials each one not connected yet. */
  start(): void {
    for (const p of this.#peers) this.#connect(p);
  }

  /** A peer's connection closed: dialled again later if it is one of these. */
  disconnected(id: string): void {
    const p = this.#peers.find((x) => x.id === id);
    if (p !== undefined) this.#retry(p);
  }

  close(): void {
    this.#closed = true;
    for (const p of this.#peers) if (p.timer !== null) clearTimeout(p.timer);
  }

  /** Dials a persistent peer unless connected; a failure retries with jittered exponential backoff. */
  #connect(p: PersistentPeer): void {
    p.timer = null;
    if (this.#closed || this.#host.libp2p.getConnections(peerIdFromString(p.id)).length > 0) return;
    this.#host.libp2p.dial(p.addr, { signal: AbortSignal.timeout(this.#config.dialTimeoutMs) }).then(() => {
      p.delay = this.#config.reconnectBaseMs;
    }, (err: unknown) => {
      this.#onDialFailure();
      this.#log.debug('dial failed', { peer: p.addr.toString(), error: (err as Error).message, retry_ms: Math.round(p.delay) });
      this.#retry(p);
    });
  }

  #retry(p: PersistentPeer): void {
    if (this.#closed || p.timer !== null) return;
    // Jittered, so restarted nodes do not redial each other in lockstep.
    const wait = p.delay * (0.75 + Math.random() * 0.5);
    p.delay = Math.min(p.delay * 2, this.#config.reconnectMaxMs);
    p.timer = setTimeout(() => this.#connect(p), wait);
    p.timer.unref();
  }
}
