/**
 * The connection gater: who may connect.
 *
 *   - Per-IP concurrent cap, on the raw socket (`denyInboundConnection`), before any handshake: the
 *     connection manager limits pending connections in total, so without this one IP holding raw
 *     sockets open could fill every pending slot and lock out honest dials. A socket counts from
 *     accept until it closes, whatever stage it fails at.
 *   - Banned peers are refused once their peer id is known (after Noise), and never dialled.
 *   - Under memory pressure (memory.ts) new inbound connections are refused.
 * Protected peers (persistent and allow-listed) are never refused for a ban.
 */
import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface';
import type { MemoryMonitor } from './memory.ts';
import type { PeerScores } from './peer-score.ts';

export interface HallmarkGater extends ConnectionGater {
  counters: { ipCapRefused: number; bannedRefused: number; memoryRefused: number };
  /** Inbound connections from `ip` open or pending now. */
  connectionsFrom(ip: string): number;
}

export interface GaterOptions {
  scores: PeerScores;
  memory: MemoryMonitor;
  isProtected: (peerId: string) => boolean;
  maxConnectionsPerIp: number;
}

function remoteIp(maConn: MultiaddrConnection): string {
  const c = maConn.remoteAddr.getComponents().find((x) => x.name === 'ip4' || x.name === 'ip6');
  return c?.value ?? maConn.remoteAddr.toString();
}

export function createGater(o: GaterOptions): HallmarkGater {
  if (!Number.isSafeInteger(o.maxConnectionsPerIp) || o.maxConnectionsPerIp < 1) throw new RangeError('maxConnectionsPerIp: expected a positive integer');
  const perIp = new Map<string, number>();
  const counters = { ipCapRefused: 0, bannedRefused: 0, memoryRefused: 0 };
  const banned = (peerId: PeerId) => {
    const id = peerId.toString();
    if (o.isProtected(id) || !o.scores.isBanned(id)) return false;
    counters.bannedRefused++;
    return true;
  };
  return {
    counters,
    connectionsFrom: (ip) => perIp.get(ip) ?? 0,
    denyInboundConnection(maConn) {
      if (o.memory.shedsInbound()) {
        counters.memoryRefused++;
        o.memory.countInboundRefused();
        return true;
      }
      const ip = remoteIp(maConn);
      const open = perIp.get(ip) ?? 0;
      if (open >= o.maxConnectionsPerIp) {
        counters.ipCapRefused++;
        return true;
      }
      perIp.set(ip, open + 1);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        const n = (perIp.get(ip) ?? 1) - 1;
        if (n <= 0) perIp.delete(ip);
        else perIp.set(ip, n);
      };
      // The raw connection's close covers every ending: refused later, failed upgrade, or closed.
      if (maConn.status !== 'open') release();
      else maConn.addEventListener('close', release, { once: true });
      return false;
    },
    denyInboundEncryptedConnection: (peerId) => banned(peerId),
    denyDialPeer: (peerId) => banned(peerId),
    denyOutboundConnection: (peerId) => banned(peerId),
  };
}
