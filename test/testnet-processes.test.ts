/**
 * Four validators as four processes (`hallmark testnet` homes, `bin/hallmark.js start`), joined
 * over loopback TCP: they commit 50+ heights with transfers flowing; one is SIGKILLed and the
 * other three keep committing; restarted, it block-syncs and rejoins; with two killed the chain
 * halts without forking; brought back, it resumes. No two nodes ever hold different blocks at a
 * height, checked from each node's RPC.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../chain/bytes.ts';
import { signTransaction } from '../chain/tx.ts';
import { FAUCET_KEY, keyPath, readKeyFile } from '../cli/keystore.ts';
import { writeTestnet } from '../cli/testnet.ts';
import { parseAddress } from '../chain/address.ts';
import { rpc } from './fixtures/node.ts';
import { freeBasePort, spawnNode, type NodeProcess } from './fixtures/processes.ts';
import { liveDir } from './fixtures/dirs.ts';
import { height, speedUp, waitHeight } from './fixtures/testnet.ts';

t.test('4 validator processes: commit, survive a SIGKILL, block-sync back, halt without forking at 2 down, resume', async (t) => {
  const dir = liveDir(t);
  const layout = await writeTestnet({ dir: join(dir, 'tn'), validators: 4, basePort: await freeBasePort(4) });
  for (const n of layout.nodes) await speedUp(n.home);
  const procs: (NodeProcess | null)[] = [null, null, null, null];
  const start = async (i: number) => {
    procs[i] = await spawnNode(layout.nodes[i]!.home, layout.nodes[i]!.logPath);
  };
  const kill = async (i: number) => {
    procs[i]!.kill('SIGKILL');
    await procs[i]!.exited;
  };

  // Transfers flow the whole time: each sent to a live node, its nonce read from that node.
  const faucet = await readKeyFile(keyPath(layout.nodes[0]!.home, FAUCET_KEY), FAUCET_KEY);
  const genesis = JSON.parse(readFileSync(join(layout.nodes[0]!.home, 'genesis.json'), 'utf8')) as { chain_id: string };
  const to = parseAddress(layout.nodes[1]!.validatorAddress);
  let sending = true;
  let committed = 0;
  const load = (async () => {
    for (let k = 0; sending; k++) {
      const live = [0, 1, 2, 3].filter((i) => procs[i] !== null && !procs[i]!.done);
      const url = layout.nodes[live[k % Math.max(live.length, 1)] ?? 0]!.rpcUrl;
      try {
        const acct = await rpc(url, 'state_getAccount', { address: faucet.address });
        const tx = signTransaction({
          chainId: genesis.chain_id, sender: faucet.publicKey, nonce: acct.nonce, fee: 2_000_000n, gasLimit: 2_000_000,
          payload: { kind: 'transfer', to, amount: 1n },
        }, faucet.secretKey);
        const r = await rpc(url, 'tx_broadcast', { tx: toHex(tx.bytes), wait: 'committed' });
        if (r.receipt.status === 'ok') committed++;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  })();

  try {
    for (const i of [0, 1, 2, 3]) await start(i);
    await waitHeight(layout, [0, 1, 2, 3], 50, procs);
    t.ok(committed > 0, `transfers committed while the network ran (${committed})`);

    // One down: the other three hold 30 of 40 power, more than 2/3.
    await kill(3);
    const h1 = Math.max(...(await Promise.all([0, 1, 2].map((i) => height(layout.nodes[i]!.rpcUrl)))).map((x) => x ?? 0));
    await waitHeight(layout, [0, 1, 2], h1 + 10, procs);
    t.pass(`three validators kept committing past ${h1 + 10} with the fourth killed`);

    await start(3);
    const h2 = Math.max(...(await Promise.all([0, 1, 2].map((i) => height(layout.nodes[i]!.rpcUrl)))).map((x) => x ?? 0));
    await waitHeight(layout, [0, 1, 2, 3], h2 + 5, procs);
    const metrics = await (await fetch(layout.nodes[3]!.metricsUrl)).text();
    const synced = Number(/^hallmark_blocksync_blocks_total (\d+)/m.exec(metrics)?.[1] ?? 0);
    t.ok(synced > 0, `the restarted validator caught up by block sync (${synced} blocks)`);
    let inConsensus = false;
    for (let i = 0; i < 200 && !inConsensus; i++) {
      inConsensus = (await rpc(layout.nodes[3]!.rpcUrl, 'chain_status')).catching_up === false;
      if (!inConsensus) await new Promise((r) => setTimeout(r, 20));
    }
    t.ok(inConsensus, 'and is back in consensus');

    // Two down: 20 of 40 is not a quorum; the chain must stop, not fork.
    await kill(2);
    await kill(3);
    const halted = Math.max(...(await Promise.all([0, 1].map((i) => height(layout.nodes[i]!.rpcUrl)))).map((x) => x ?? 0));
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 100));
    const after = Math.max(...(await Promise.all([0, 1].map((i) => height(layout.nodes[i]!.rpcUrl)))).map((x) => x ?? 0));
    t.ok(after <= halted + 1, `with two of four validators down the chain halted (height ${halted} -> ${after})`);

    await start(2);
    await start(3);
    await waitHeight(layout, [0, 1, 2, 3], after + 5, procs);
    t.pass('with all four back the chain resumed');

    sending = false;
    await load;
    const heads = await Promise.all(layout.nodes.map((n) => height(n.rpcUrl)));
    const top = Math.min(...heads.map((x) => x ?? 0));
    const hashes = await Promise.all(layout.nodes.map(async (n) => {
      const out: string[] = [];
      for (let h = 1; h <= top; h++) out.push((await rpc(n.rpcUrl, 'chain_getBlock', { height: h })).hash);
      return out;
    }));
    for (let i = 1; i < 4; i++) t.same(hashes[i], hashes[0], `node ${i} holds the same block as node 0 at every height 1..${top}`);
  } finally {
    sending = false;
    await load.catch(() => {});
    for (const p of procs) p?.kill('SIGINT');
    await Promise.all(procs.map((p) => p?.exited));
  }
});
