/** net_*: listen addresses and peers. */
import { z } from 'zod';
import { Uint } from '../json.ts';
import { defineRpcMethod, NoParams } from '../method.ts';

export const netInfo = defineRpcMethod({
  name: 'net_info',
  summary: 'Listen addresses and connected peers.',
  params: NoParams,
  result: z.object({
    listening: z.boolean(),
    listen_addresses: z.object({ rpc: z.string(), p2p: z.string().nullable() }),
    peers: z.array(z.object({
      id: z.string().describe('libp2p peer id'),
      address: z.string().describe('multiaddr of the connection'),
      direction: z.enum(['inbound', 'outbound']),
      head: Uint.nullable().describe('last committed height the peer reported; null before its status arrived'),
      score: z.number().describe('peer score: penalties lower it, it decays back toward 0'),
      protected: z.boolean().describe('a persistent or allow-listed peer: never pruned or banned'),
    })),
    n_peers: Uint,
  }),
  errors: [],
  async handler(node) {
    const peers = node.peers().map((p) => ({
      id: p.id, address: p.address, direction: p.direction, head: p.head, score: Math.round(p.score * 100) / 100, protected: p.protected,
    }));
    const addrs = node.listenAddresses();
    return { listening: true, listen_addresses: { rpc: addrs.rpc, p2p: addrs.p2p }, peers, n_peers: peers.length };
  },
});

