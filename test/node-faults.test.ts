/**
 * Faults inside a real node (LevelDB on disk, the file WAL). A peer message or RPC request whose
 * handling throws is logged with its stack and dropped; the node goes on. A decided block the node
 * cannot write, or a WAL it cannot sync, stops consensus for good — the process keeps answering RPC
 * until it exits — and a restart on the same data directory commits exactly the block it had
 * decided and carries on. `hallmark start` exits 1 with a one-line reason.
 */
import fs, { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { addressOf } from '../chain/address.ts';
import { toHex } from '../chain/bytes.ts';
import { signTransaction } from '../chain/tx.ts';
import { PREVOTE } from '../chain/vote.ts';
import { createLogger } from '../node/log.ts';
import { startNode, type RunningNode } from '../node/node.ts';
import { liveDir } from './fixtures/dirs.ts';
import { signVote } from './fixtures/chain.ts';
import { failLevelBatches } from './fixtures/failing-level.ts';
import { FAUCET, fastGenesis, rpc, testConfig, VALIDATOR, waitForHeight } from './fixtures/node.ts';
import { rpcRequest } from './fixtures/rpc-node.ts';
import { BIN, freePort, spawnNode } from './fixtures/processes.ts';

const FAILING_LEVEL = fileURLToPath(new URL('./fixtures/failing-level.ts', import.meta.url));

/** A node that remembers the block hash of every proposal it sent, by height. */
async function start(home: string, proposed: Map<number, string>): Promise<RunningNode> {
  return startNode({
    home, config: testConfig(), genesis: fastGenesis(), validatorKey: VALIDATOR,
    log: createLogger({ level: 'silent', format: 'text' }),
    outbox: { proposal: (p) => proposed.set(p.height, toHex(p.blockHash)), vote: () => {} },
  });
}

async function blockHashes(url: string, upTo: number): Promise<string[]> {
  const out: string[] = [];
  for (let h = 1; h <= upTo; h++) out.push((await rpc(url, 'chain_getBlock', { height: h })).hash);
  return out;
}

/** The fault, the halt, the restart: shared by the LevelDB and the WAL cases. */
async function haltAndRestart(t: Test, arm: () => () => void, expected: RegExp): Promise<void> {
  const home = liveDir(t);
  const proposed = new Map<number, string>();
  const running = await start(home, proposed);
  await waitForHeight(running.rpcUrl, 3);
  const disarm = arm();
  const err = await running.halted;
  disarm();
  t.match(err.message, expected, `halted: ${err.message}`);
  const head = running.node.executor.head!.height;
  t.equal(running.node.driver.status().halted, true, 'the driver is halted');
  t.equal((await rpc(running.rpcUrl, 'chain_status')).latest_height, head, 'the process still answers RPC');
  const before = await blockHashes(running.rpcUrl, head);
  const decided = proposed.get(head + 1);
  await running.close();

  const again = await start(home, proposed);
  await waitForHeight(again.rpcUrl, head + 3);
  const after = await blockHashes(again.rpcUrl, head + 1);
  t.same(after.slice(0, head), before, 'the blocks stored before the halt are unchanged');
  if (decided !== undefined) t.equal(after[head], decided, `height ${head + 1} is the block it had proposed before halting`);
  await again.close();
}

t.test('a peer message or RPC request whose handling throws is logged with its stack and dropped; the node goes on', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const running = await startNode({
    home: liveDir(t), config: testConfig(), genesis: fastGenesis(), validatorKey: VALIDATOR,
    log: createLogger({ level: 'warn', format: 'json', stream: { write: (l: string) => lines.push(JSON.parse(l)) } }),
  });
  const node = running.node;
  await waitForHeight(running.rpcUrl, 2);
  // Bugs planted in the parts the handlers call.
  node.mempool.add = async () => {
    throw new TypeError('a bug in admission');
  };
  const receiveVotes = node.driver.receiveVotes.bind(node.driver);
  node.driver.receiveVotes = (votes) => {
    if (votes.some((v) => v.round === 50)) throw new TypeError('a bug in vote handling');
    receiveVotes(votes);
  };
  const stx = signTransaction({
    chainId: fastGenesis().chainId, sender: FAUCET.publicKey, nonce: 0, fee: 1n, gasLimit: 2_000_000,
    payload: { kind: 'transfer', to: addressOf(VALIDATOR.publicKey), amount: 5n },
  }, FAUCET.secretKey);
  const handlers = node.service.handlers();
  t.equal(await handlers.onTxs('12D3KooWPeer', [{ hash: stx.hash, bytes: stx.bytes }]), null, "a peer's transaction: dropped, and the peer not penalised");
  // A validly signed vote reaches the driver (signed with the raw key, around the guard).
  const vote = signVote(fastGenesis().chainId, VALIDATOR, { type: PREVOTE, height: node.driver.height, round: 50, blockHash: null });
  t.equal(handlers.onVotes('12D3KooWPeer', [vote]), null, "a peer's vote: dropped, and the peer not penalised");
  t.equal(handlers.onVotes('12D3KooWPeer', [{ ...vote, signature: new Uint8Array(64) }]), 'invalid_message', 'a forged vote is still a penalty');
  const { body } = await rpcRequest(running.rpcUrl, 'tx_broadcast', { tx: toHex(stx.bytes) });
  t.equal(body.error?.code, -32603, 'RPC: an internal error answer');

  t.match(lines.find((l) => l.msg === "internal error admitting a peer's transaction; dropped"), { level: 'error', error: { type: 'TypeError', stack: /a bug in admission\n\s+at / } }, 'logged with its stack');
  t.match(lines.find((l) => l.msg === "internal error handling a peer's votes; message dropped"), { level: 'error', error: { stack: /a bug in vote handling\n\s+at / } }, 'logged with its stack');
  t.match(lines.find((l) => l.msg === 'rpc: internal error'), { error: { stack: /a bug in admission\n\s+at / } }, 'the RPC failure is logged with its stack');
  const height = node.executor.head!.height;
  await waitForHeight(running.rpcUrl, height + 2);
  t.equal(node.driver.status().halted, false, 'consensus never halted');
  await running.close();
});

t.test('a block LevelDB cannot write halts the node; restarted, it commits the block it had decided', async (t) => {
  await haltAndRestart(t, () => failLevelBatches({ after: 0 }), /^could not apply the decided block at height \d+: IO error: .*No space left on device/);
});

t.test('a WAL that cannot be synced halts the node; restarted, it carries on', async (t) => {
  const real = fs.fdatasyncSync;
  const arm = () => {
    fs.fdatasyncSync = () => {
      throw Object.assign(new Error('ENOSPC: no space left on device, fdatasync'), { code: 'ENOSPC' });
    };
    syncBuiltinESMExports();
    return () => {
      fs.fdatasyncSync = real;
      syncBuiltinESMExports();
    };
  };
  await haltAndRestart(t, arm, /the WAL in .* failed \(ENOSPC: no space left on device, fdatasync\)/);
});

t.test('hallmark start exits 1 with a one-line reason when a decided block cannot be written', async (t) => {
  const home = liveDir(t);
  execFileSync(process.execPath, [BIN, '--home', home, 'init']);
  const rpcPort = await freePort();
  writeFileSync(join(home, 'config.toml'),
    `[rpc]\nlisten = "127.0.0.1:${rpcPort}"\n[p2p]\nlisten = "127.0.0.1:0"\n[metrics]\nenabled = false\n[consensus]\nblock_time_ms = 20\n[log]\nformat = "json"\n`);
  const logPath = join(home, 'node.log');
  // The third synced batch (height 3's block) fails.
  const env = { ...process.env, NODE_OPTIONS: `--import=${FAILING_LEVEL}`, HALLMARK_TEST_FAIL_SYNCED_BATCHES_AFTER: '2' };
  const proc = await spawnNode(home, logPath, env);
  t.teardown(() => proc.kill('SIGKILL'));
  t.equal(await proc.exited, 1, 'exit status 1');
  const lines = readFileSync(logPath, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  const exit = lines.filter((l) => l.msg === 'exiting with status 1: consensus halted');
  t.equal(exit.length, 1, 'one line says why it exits');
  t.match(exit[0], { level: 'error', reason: /^could not apply the decided block at height 3: IO error: .*No space left on device/ });
  const halted = lines.find((l) => l.msg === 'consensus halted');
  t.match(halted, {
    level: 'error', module: 'consensus', height: 3,
    error: { message: /^could not apply the decided block at height 3: /, stack: /^Error: could not apply[^]*\n\s+at /, cause: { stack: /No space left on device[^]*\n\s+at / } },
  }, 'the driver logged the error with its stack, and its cause with its own');
  t.ok(lines.some((l) => l.msg === 'node stopped'), 'the node closed before exiting');

  // The disk is fine again: the same home starts and goes on from height 3.
  const again = await spawnNode(home, logPath);
  t.teardown(() => again.kill('SIGKILL'));
  const url = `http://127.0.0.1:${rpcPort}`;
  let height = 0;
  for (let i = 0; i < 500 && height < 5 && !again.done; i++) {
    height = await rpc(url, 'chain_status').then((s) => s.latest_height as number, () => 0);
    if (height < 5) await new Promise((r) => setTimeout(r, 20));
  }
  t.ok(height >= 5, `restarted, it reached height ${height}`);
  again.kill('SIGTERM');
  t.equal(await again.exited, 0, 'and stops cleanly');
});
