/**
 * `hallmark testnet add-node`: a home for one more node of a written testnet, a full node that
 * validates nothing and follows the validators, the way an operator joins a running network:
 *
 *   DIR/node<k>/   k = the first free index after the validators; ports base+10k, +1, +2 like theirs;
 *                  the testnet's genesis.json; every validator as a persistent peer; the faucet key
 *                  (so the CLI can send from it); no validator key
 *
 * It is not added to testnet.json, so `testnet start` does not run it: it is started on its own,
 * typically with `hallmark --home DIR/node<k> start --sync snapshot` (docs/operator.md).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from '../chain/durable-file.ts';
import { CONFIG_FILE, defaultConfig, formatConfig, loadConfig } from '../node/config.ts';
import { loadOrCreateNodeKey } from '../p2p/identity.ts';
import { DATA_DIR, GENESIS_FILE } from './home.ts';
import { ensureKeysDir, FAUCET_KEY, keyPath, readKeyFile, writeKeyFile } from './keystore.ts';
import { nodeKeyPath, PORT_STRIDE, readTestnet, TestnetError } from './testnet.ts';

export interface AddedNode {
  name: string;
  home: string;
  peerId: string;
  p2pPort: number;
  rpcUrl: string;
  metricsPort: number;
  /** The validators it dials. */
  peers: number;
}

/** Writes DIR/node<k>, a non-validator home of DIR's testnet. */
export async function addTestnetNode(dirText: string): Promise<AddedNode> {
  const layout = await readTestnet(dirText);
  const first = layout.nodes[0]!;
  const base = first.p2pPort;
  let k = layout.nodes.length;
  while (existsSync(join(layout.dir, `node${k}`))) k++;
  const p2pPort = base + PORT_STRIDE * k;
  if (p2pPort + 2 > 65535) throw new TestnetError('testnet_invalid', `node${k} would need ports up to ${p2pPort + 2}; the highest port is 65535`);
  const name = `node${k}`;
  const home = join(layout.dir, name);
  await mkdir(home, { recursive: true });
  const nodeKey = await loadOrCreateNodeKey(nodeKeyPath(home));
  // The validators' settings (block time, snapshot interval) with this node's ports and peers.
  const config = await loadConfig(first.home).catch(() => defaultConfig());
  config.p2p = { ...config.p2p, port: p2pPort, persistentPeers: layout.nodes.map((n) => n.p2pMultiaddr) };
  config.rpc = { ...config.rpc, port: p2pPort + 1 };
  config.metrics = { ...config.metrics, port: p2pPort + 2 };
  await ensureKeysDir(home);
  const faucet = await readKeyFile(keyPath(first.home, FAUCET_KEY), FAUCET_KEY);
  await writeKeyFile(keyPath(home, FAUCET_KEY), { publicKey: faucet.publicKey, secretKey: faucet.secretKey }, FAUCET_KEY);
  faucet.secretKey.fill(0);
  await mkdir(join(home, DATA_DIR), { recursive: true, mode: 0o700 });
  writeFileDurably(join(home, CONFIG_FILE), formatConfig(config));
  // Last: its presence marks the home as initialized.
  writeFileDurably(join(home, GENESIS_FILE), await readFile(join(first.home, GENESIS_FILE), 'utf8'));
  return { name, home, peerId: nodeKey.peerId, p2pPort, rpcUrl: `http://${config.rpc.host}:${p2pPort + 1}`, metricsPort: p2pPort + 2, peers: layout.nodes.length };
}
