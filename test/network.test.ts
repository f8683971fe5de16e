/**
 * Validators joined by libp2p over loopback TCP, in one process: consensus over the network,
 * transactions gossiped from the node they were sent to, and a late joiner catching up 200 heights
 * by block sync. Every node must hold the same block at every height.
 */
import t from 'tap';
import { addressOf, formatAddress } from '../chain/address.ts';
import { toHex } from '../chain/bytes.ts';
import { generateKeyPair } from '../chain/keys.ts';
import { signTransaction } from '../chain/tx.ts';
import { rpc } from './fixtures/node.ts';
import { blockHashes, closeAll, FAUCET, networkGenesis, startNetNode, startNetwork, waitAllHeight, type NetNode } from './fixtures/network.ts';

t.test('4 validators reach consensus over libp2p; a transaction sent to one is committed by all', async (t) => {
  const dir = t.testdir();
  const genesis = networkGenesis(4);
  const nodes = await startNetwork(dir, genesis, [0, 1, 2, 3]);
  try {
    await waitAllHeight(nodes, 5);
    for (const n of nodes) {
      const info = await rpc(n.url, 'net_info');
      t.equal(info.n_peers, 3, `node ${n.index} is connected to the other three`);
      const dialled = new Set(nodes.filter((m) => m.index < n.index).map((m) => m.addr.split('/p2p/')[1]));
      t.ok(info.peers.every((p: { id: string; protected: boolean; head: number | null }) => p.head !== null && p.protected === dialled.has(p.id)),
        'every peer reported its head; those in persistent_peers are protected');
      t.equal(info.listen_addresses.p2p, n.addr);
      t.equal((await rpc(n.url, 'chain_status')).node_id, n.addr.split('/p2p/')[1], 'node_id is the libp2p peer id');
    }

    // Transfers sent to different nodes, each committed through whoever proposes.
    const to = addressOf(generateKeyPair().publicKey);
    const sent = [];
    for (let nonce = 0; nonce < 8; nonce++) {
      const tx = signTransaction({
        chainId: genesis.chainId, sender: FAUCET.publicKey, nonce, fee: 2_000_000n, gasLimit: 2_000_000,
        payload: { kind: 'transfer', to, amount: 10n },
      }, FAUCET.secretKey);
      sent.push(rpc(nodes[nonce % 4]!.url, 'tx_broadcast', { tx: toHex(tx.bytes), wait: 'checked' }));
    }
    await Promise.all(sent);
    const last = signTransaction({
      chainId: genesis.chainId, sender: FAUCET.publicKey, nonce: 8, fee: 2_000_000n, gasLimit: 2_000_000, payload: { kind: 'transfer', to, amount: 10n },
    }, FAUCET.secretKey);
    const done = await rpc(nodes[3]!.url, 'tx_broadcast', { tx: toHex(last.bytes), wait: 'committed' });
    t.equal(done.receipt.status, 'ok');
    await waitAllHeight(nodes, done.height);
    for (const n of nodes) {
      const acct = await rpc(n.url, 'state_getAccount', { address: formatAddress(to) });
      t.equal(acct.balance, '90', `node ${n.index} has all nine transfers applied`);
    }

    const top = Math.min(...await Promise.all(nodes.map(async (n) => (await rpc(n.url, 'chain_status')).latest_height as number)));
    const reference = await blockHashes(nodes[0]!.url, 1, top);
    for (const n of nodes.slice(1)) t.same(await blockHashes(n.url, 1, top), reference, `node ${n.index} has the same blocks at heights 1..${top}`);
  } finally {
    await closeAll(nodes);
  }
});

t.test('a validator that starts 200 heights behind catches up by block sync and rejoins consensus', async (t) => {
  const dir = t.testdir();
  const genesis = networkGenesis(4);
  const fast = (c: import('../node/config.ts').NodeConfig) => { c.consensus.timeouts.proposeMs = 60; };
  const early: NetNode[] = [];
  let late: NetNode | undefined;
  try {
    for (const i of [0, 1, 2]) early.push(await startNetNode(dir, i, genesis, early.map((n) => n.addr), { tweak: fast }));
    await waitAllHeight(early, 200);
    late = await startNetNode(dir, 3, genesis, early.map((n) => n.addr), { tweak: fast });
    const head = (await rpc(early[0]!.url, 'chain_status')).latest_height as number;
    await waitAllHeight([late], head + 3);
    const sync = late.running.node.service.syncCounters;
    t.ok(sync.runs >= 1, 'it ran block sync');
    t.ok(sync.blocksApplied >= 200, `block sync applied ${sync.blocksApplied} blocks (>= 200)`);
    let inConsensus = false;
    for (let i = 0; i < 200 && !inConsensus; i++) {
      inConsensus = (await rpc(late.url, 'chain_status')).catching_up === false;
      if (!inConsensus) await new Promise((r) => setTimeout(r, 20));
    }
    t.ok(inConsensus, 'and is back in consensus');

    // It votes again: with one of the others stopped, the remaining three (itself included) still commit.
    const stopped = early.pop()!;
    await stopped.running.close();
    const now = (await rpc(late.url, 'chain_status')).latest_height as number;
    await waitAllHeight([...early, late], now + 5);
    const top = now + 5;
    const reference = await blockHashes(early[0]!.url, 1, top);
    t.same(await blockHashes(late.url, 1, top), reference, 'the late joiner holds the same blocks');
  } finally {
    await closeAll([...early, late]);
  }
});
