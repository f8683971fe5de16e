/**
 * A hostile peer, written here with libp2p, against three validators on loopback: it floods
 * messages past its quota, sends garbage, an oversized message and too many streams, and opens many
 * raw TCP sockets from one IP. The validators keep committing; the peer is throttled, then
 * disconnected, then banned and its reconnects refused; an honest new peer can still connect while
 * the socket flood goes on.
 */
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { PREVOTE } from '../chain/vote.ts';
import { genesisHash } from '../genesis/genesis.ts';
import { createHost, messageStream, type Host } from '../p2p/host.ts';
import { nodeKeyFromSeed } from '../p2p/identity.ts';
import { CONSENSUS_PROTOCOL, encodeConsensusMessage, TXS_PROTOCOL } from '../p2p/wire.ts';
import { rpc } from './fixtures/node.ts';
import { closeAll, networkGenesis, startNetNode, startNetwork, waitAllHeight, type NetNode } from './fixtures/network.ts';

const HOSTILE_IP = '127.0.0.66';

async function hostileHost(seed: number): Promise<Host> {
  const key = await nodeKeyFromSeed(new Uint8Array(32).fill(seed));
  const host = await createHost({ privateKey: key.privateKey, listen: '/ip4/127.0.0.1/tcp/0' });
  // It answers our protocols, so the node takes it for a Hallmark peer.
  await host.libp2p.handle([CONSENSUS_PROTOCOL, TXS_PROTOCOL], () => {});
  return host;
}

function openSocket(port: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: HOSTILE_IP });
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(null));
    s.on('error', () => {});
  });
}

t.test('a flooding peer is throttled, disconnected, then banned; the validators keep committing', async (t) => {
  const dir = t.testdir();
  const genesis = networkGenesis(3);
  // The target takes new connections quickly, so that its per-IP cap, not the per-IP rate, meets the socket flood.
  const nodes: NetNode[] = [await startNetNode(dir, 0, genesis, [], { tweak: (c) => { c.p2p.maxConnectionsPerIp = 4; c.p2p.inboundConnectionThreshold = 1_000; } })];
  nodes.push(...await startNetwork(dir, genesis, [1, 2], [nodes[0]!.addr]));
  const target = nodes[0]!;
  const net = target.running.node.network!;
  const port = Number(target.addr.split('/tcp/')[1]!.split('/')[0]);
  const sockets: Socket[] = [];
  let hostile: Host | undefined;
  let honest: NetNode | undefined;
  try {
    await waitAllHeight(nodes, 3);
    hostile = await hostileHost(0x66);
    const hostileId = hostile.peerId;
    const status = encodeConsensusMessage({ kind: 'status', genesisHash: genesisHash(genesis), head: 0 });
    const startHeight = (await rpc(target.url, 'chain_status')).latest_height as number;
    // Votes of a decided height: well formed, worthless, and cheap to send by the thousand.
    const staleVotes = encodeConsensusMessage({ kind: 'votes', votes: [{ type: PREVOTE, height: 1, round: 0, blockHash: null, validator: new Uint8Array(20).fill(1), signature: new Uint8Array(64).fill(2) }] });

    // 1. Garbage and oversized messages, and more streams than allowed: each costs score.
    const stream = await hostile.libp2p.dialProtocol(multiaddr(target.addr), CONSENSUS_PROTOCOL);
    const lp = messageStream(stream, 64 << 20);
    await lp.write(status);
    await lp.write(Uint8Array.of(0xff, 0x00, 0x13));
    const extra = [];
    for (let i = 0; i < 4; i++) extra.push(await hostile.libp2p.dialProtocol(multiaddr(target.addr), CONSENSUS_PROTOCOL).catch(() => null));
    for (let i = 0; i < 100 && net.scores.counters.penalties.invalid_message < 1; i++) await new Promise((r) => setTimeout(r, 10));
    t.ok(net.scores.counters.penalties.invalid_message >= 1, 'garbage bytes were penalised as an invalid message');
    t.ok(net.scores.score(hostileId) < 0, 'the hostile peer\'s score dropped');
    for (let i = 0; i < 100 && net.limiter.drops.consensus.streams < 1 && net.scores.counters.penalties.stream_limit < 1; i++) await new Promise((r) => setTimeout(r, 10));
    t.ok(extra.some((s) => s === null) || net.scores.counters.penalties.stream_limit >= 1, 'streams past the per-protocol cap were refused');
    stream.abort(new Error('done'));
    for (const s of extra) s?.abort(new Error('done'));
    await new Promise((r) => setTimeout(r, 100));

    // An oversized message is refused from its length prefix.
    const big = await hostile.libp2p.dialProtocol(multiaddr(target.addr), CONSENSUS_PROTOCOL);
    const bigLp = messageStream(big, 64 << 20);
    await bigLp.write(status);
    void bigLp.write(new Uint8Array(7 << 20), { signal: AbortSignal.timeout(5_000) }).catch(() => {});
    for (let i = 0; i < 200 && net.scores.counters.penalties.oversized_message < 1; i++) await new Promise((r) => setTimeout(r, 10));
    t.ok(net.scores.counters.penalties.oversized_message >= 1, 'a message past max_message_bytes was refused and penalised');
    big.abort(new Error('done'));

    // 2. Floods of (stale) votes far past the quota, reconnecting after each disconnect: throttled,
    // disconnected, and at last banned.
    const targetId = peerIdFromString(target.addr.split('/p2p/')[1]!);
    const flood = async () => {
      // A connection being closed by the other side is not one to flood on.
      for (let i = 0; i < 200 && hostile!.libp2p.getConnections(targetId).length > 0 && !net.peers().some((p) => p.id === hostileId); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const s = await hostile!.libp2p.dialProtocol(multiaddr(target.addr), CONSENSUS_PROTOCOL);
      const w = messageStream(s, 64 << 20);
      await w.write(status);
      for (let i = 0; i < 5_000; i++) await w.write(staleVotes);
    };
    for (let round = 0; round < 10 && !net.scores.isBanned(hostileId); round++) await flood().catch(() => {});
    t.ok(net.limiter.drops.consensus.messages > 0, `messages past the quota were dropped (${net.limiter.drops.consensus.messages})`);
    t.ok(net.scores.counters.penalties.rate_limited > 0, 'each breach cost score');
    t.ok(net.scores.counters.disconnects >= 1, 'the peer was disconnected');

    // 3. Banned: its next dial is refused by the gater.
    t.ok(net.scores.isBanned(hostileId), 'the peer is banned');
    for (let i = 0; i < 200 && hostile.libp2p.getConnections(targetId).length > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const redial = await hostile.libp2p.dialProtocol(multiaddr(target.addr), CONSENSUS_PROTOCOL).then(async (s) => {
      // A refused connection may be closed by the other side just after the handshake.
      await messageStream(s, 1 << 20).write(status);
      await new Promise((r) => setTimeout(r, 200));
      return s.status === 'open' && net.peers().some((p) => p.id === hostileId);
    }, () => false);
    t.equal(redial, false, 'a banned peer cannot reconnect');
    t.ok(net.gater.counters.bannedRefused >= 1, 'the gater refused it');

    // 4. Raw sockets from one IP fill its cap, not the node's: an honest peer still connects.
    for (let i = 0; i < 40; i++) {
      const s = await openSocket(port);
      if (s !== null) sockets.push(s);
    }
    for (let i = 0; i < 200 && net.gater.counters.ipCapRefused < 1; i++) await new Promise((r) => setTimeout(r, 10));
    t.ok(net.gater.counters.ipCapRefused >= 1, `raw sockets past the per-IP cap were refused (${net.gater.counters.ipCapRefused})`);
    t.ok(net.gater.connectionsFrom(HOSTILE_IP) <= target.running.node.network!.config.maxConnectionsPerIp, 'the flooding IP holds no more than its cap');
    // A new node (not a validator: its key is not in genesis) joins through the flooded validator.
    honest = await startNetNode(dir, 9, genesis, [target.addr]);
    await waitAllHeight([honest], startHeight + 3);
    t.ok(net.peers().some((p) => p.id === honest!.addr.split('/p2p/')[1]), 'the honest peer connected during the flood');

    // The validators kept committing through all of it.
    await waitAllHeight(nodes, startHeight + 10);
    t.pass('the validators kept committing');
  } finally {
    for (const s of sockets) s.destroy();
    await hostile?.close();
    await closeAll([...nodes, honest]);
  }
});
