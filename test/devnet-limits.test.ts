/**
 * Block limits on a real devnet process (`hallmark init`, then `hallmark start`): a genesis with the
 * smallest max_bytes the schema allows still commits transfers (the proposer's reservation for
 * header, commit and evidence is computed, not guessed), the CLI prices what it sends from
 * `chain_getParams`, and a transfer that declares more gas than a block holds is refused with the
 * reason, never admitted.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { minBlockBytes } from '../chain/block-rules.ts';
import { formatGenesis, parseGenesis } from '../genesis/schema.ts';
import { formatConfig, loadConfig } from '../node/config.ts';
import { rpc, waitForHeight } from './fixtures/node.ts';
import { liveDir } from './fixtures/dirs.ts';
import { BIN, freePort, spawnNode } from './fixtures/processes.ts';

function hallmark(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** Polls until the node's RPC answers (a bounded number of polls); fails early if it exited. */
async function waitUp(url: string, node: { done: boolean }): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (node.done) throw new Error('the node exited; see its node.log');
    try {
      await rpc(url, 'chain_status');
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('the node did not answer');
}

t.test('a devnet with the smallest max_bytes the schema allows commits transfers', async (t) => {
  const home = liveDir(t);
  t.equal((await hallmark(['--home', home, 'init'])).code, 0);
  const genesisPath = join(home, 'genesis.json');
  const genesis = parseGenesis(readFileSync(genesisPath, 'utf8'));
  const least = minBlockBytes(genesis.validators.length);
  genesis.consensusParams.block.maxBytes = least - 1;
  t.throws(() => parseGenesis(formatGenesis(genesis)), /max_bytes: must be at least/, 'one byte less is refused');
  genesis.consensusParams.block.maxBytes = least;
  writeFileSync(genesisPath, formatGenesis(genesis));
  const config = await loadConfig(home);
  config.rpc.port = await freePort();
  config.p2p.port = await freePort();
  config.metrics.enabled = false;
  config.consensus.blockTimeMs = 50;
  writeFileSync(join(home, 'config.toml'), formatConfig(config));

  const node = await spawnNode(home, join(home, 'node.log'));
  t.teardown(async () => {
    node.kill('SIGINT');
    await node.exited;
  });
  const url = `http://127.0.0.1:${config.rpc.port}/`;
  await waitUp(url, node);
  await waitForHeight(url, 1);
  const params = await rpc(url, 'chain_getParams');
  t.equal(params.max_bytes, least, 'the node runs the genesis it was given');
  t.equal(params.max_tx_bytes, config.mempool.maxTxBytes, 'and admits up to its own cap, which such a block has room for');

  const cli = (...args: string[]) => hallmark(['--home', home, '--rpc', url, ...args]);
  t.equal((await cli('keys', 'add', 'alice')).code, 0);
  for (let i = 1; i <= 3; i++) {
    const r = await cli('tx', 'transfer', '--to', 'alice', '--amount', String(i * 100), '--json');
    t.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    t.equal(out.status, 'committed');
    t.equal(out.receipt.status, 'ok', `transfer ${i} committed at height ${out.height}`);
  }
  const alice = JSON.parse((await cli('account', 'alice', '--json')).stdout);
  t.equal(alice.balance, '600');

  // A gas limit past max_gas (the CLI takes any safe integer) is refused with the reason.
  const over = await cli('tx', 'transfer', '--to', 'alice', '--amount', '1', '--gas-limit', String(Number.MAX_SAFE_INTEGER));
  t.equal(over.code, 1);
  t.match(over.stderr, new RegExp(`gas limit ${Number.MAX_SAFE_INTEGER} exceeds the block gas limit of ${params.max_gas}`));
  // A fee under gas limit × price likewise.
  const cheap = await cli('tx', 'transfer', '--to', 'alice', '--amount', '1', '--fee', '1');
  t.equal(cheap.code, 1);
  t.match(cheap.stderr, /fee 1 is below gas limit \d+ × minimum gas price 1/);
});
