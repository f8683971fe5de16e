/**
 * The validator process end to end: a single-validator node on disk produces blocks, commits a
 * transfer sent over JSON-RPC, restarts where it stopped, refuses a genesis for another chain, and
 * its blocks replayed into a fresh executor give the same state root at every height.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { addressOf, formatAddress } from '../chain/address.ts';
import { equalBytes, toHex } from '../chain/bytes.ts';
import { blockHash, encodeBlock } from '../chain/block.ts';
import { generateKeyPair, keyPairFromSecret, secretKeyFromSeed, sign } from '../chain/keys.ts';
import { proposalSignBytes } from '../chain/proposal.ts';
import { PREVOTE, voteSignBytes, type Vote } from '../chain/vote.ts';
import { signTransaction } from '../chain/tx.ts';
import { ValidatorSet } from '../consensus/validators.ts';
import { toGenesisState } from '../genesis/genesis.ts';
import { Executor } from '../execution/executor.ts';
import { createLogger } from '../node/log.ts';
import { DATA_FORMAT_VERSION } from '../node/data-dir.ts';
import { startNode } from '../node/node.ts';
import { decodeCanonical, encodeCanonical } from '../chain/codec.ts';
import { minBlockBytes } from '../chain/block-rules.ts';
import { openChain } from './fixtures/chain.ts';
import { FAUCET, fastGenesis, rpc, startTestNode, testConfig, VALIDATOR, waitForHeight } from './fixtures/node.ts';
import { liveDir } from './fixtures/dirs.ts';

t.test('a single validator produces blocks, commits a transfer and restarts where it stopped', async (t) => {
  const home = liveDir(t);
  const genesis = fastGenesis();
  let running = await startTestNode(home, { genesis });
  const url = running.rpcUrl;
  await waitForHeight(url, 3);

  const to = addressOf(generateKeyPair().publicKey);
  const tx = signTransaction({
    chainId: genesis.chainId, sender: FAUCET.publicKey, nonce: 0, fee: 2_000_005n, gasLimit: 2_000_000,
    payload: { kind: 'transfer', to, amount: 1234n },
  }, FAUCET.secretKey);
  const sent = await rpc(url, 'tx_broadcast', { tx: toHex(tx.bytes), wait: 'committed' });
  t.equal(sent.status, 'committed');
  t.equal(sent.receipt.status, 'ok');
  const got = await rpc(url, 'tx_get', { hash: sent.hash });
  t.equal(got.height, sent.height);
  t.equal(got.tx.payload.amount, '1234');
  const account = await rpc(url, 'state_getAccount', { address: formatAddress(to) });
  t.equal(account.balance, '1234');
  const faucet = await rpc(url, 'state_getAccount', { address: formatAddress(addressOf(FAUCET.publicKey)) });
  t.equal(faucet.nonce, 1);

  // The block carries a commit signed by the validator (checked by the executor on the next block).
  const commit = await rpc(url, 'chain_getCommit', { height: sent.height });
  t.equal(commit.signatures.length, 1);

  const before = (await rpc(url, 'chain_status')).latest_height as number;
  const blockBefore = await rpc(url, 'chain_getBlock', { height: before });
  await running.close();

  running = await startTestNode(home, { genesis });
  const after = await waitForHeight(running.rpcUrl, before + 2);
  t.ok(after >= before + 2, 'the restarted node continues past the stored height');
  const blockAgain = await rpc(running.rpcUrl, 'chain_getBlock', { height: before });
  t.equal(blockAgain.hash, blockBefore.hash, 'stored blocks are unchanged by the restart');
  const account2 = await rpc(running.rpcUrl, 'state_getAccount', { address: formatAddress(to) });
  t.equal(account2.balance, '1234');
  await running.close();
});

t.test('two nodes fed the same blocks reach the same state root at every height', async (t) => {
  const root = liveDir(t);
  const home = join(root, 'node');
  const genesis = fastGenesis();
  const running = await startTestNode(home, { genesis });
  const url = running.rpcUrl;
  for (let nonce = 0; nonce < 5; nonce++) {
    const tx = signTransaction({
      chainId: genesis.chainId, sender: FAUCET.publicKey, nonce, fee: 2_000_000n, gasLimit: 2_000_000,
      payload: { kind: 'transfer', to: addressOf(generateKeyPair().publicKey), amount: BigInt(100 + nonce) },
    }, FAUCET.secretKey);
    await rpc(url, 'tx_broadcast', { tx: toHex(tx.bytes), wait: nonce === 4 ? 'committed' : 'checked' });
  }
  await waitForHeight(url, 8);
  const node = running.node;
  const head = node.executor.head!;

  const replica = await openChain(join(root, 'replica'));
  const validators = new ValidatorSet(genesis.validators);
  const executor = await Executor.open(replica.db, replica.tree, { validators });
  await executor.initGenesis(toGenesisState(genesis));
  let txs = 0;
  for (let h = 1; h <= head.height; h++) {
    const block = (await node.executor.blocks.getBlock(h))!;
    const commit = (await node.executor.blocks.getCommit(h))!;
    txs += block.txs.length;
    const applied = await executor.applyBlock(block, commit);
    const root = (await node.tree.root(h))!;
    t.ok(equalBytes(applied.stateRoot, root), `same state root at height ${h}`);
  }
  t.equal(txs, 5, 'all five transfers were in the replayed blocks');
  await replica.db.close();
  await running.close();
});

t.test('a genesis for another chain, or an edited one, is refused and the data directory is untouched', async (t) => {
  const home = liveDir(t);
  const running = await startTestNode(home);
  await waitForHeight(running.rpcUrl, 2);
  await running.close();
  await t.rejects(startTestNode(home, { genesis: fastGenesis({ chainId: 'other-chain' }) }), /holds chain hallmark-nodetest, but genesis.json is for other-chain/);
  const edited = fastGenesis();
  edited.consensusParams.timeouts.proposeMs += 1;
  await t.rejects(startTestNode(home, { genesis: edited }), /genesis.json has changed since .* was created from it/);
  const again = await startTestNode(home);
  await waitForHeight(again.rpcUrl, 4);
  await again.close();

  // A data directory written under another protocol version, or in another data format, is
  // refused with what to do; then one without the format marker (as an older Hallmark wrote them).
  const chain = await openChain(join(home, 'data', 'chain'));
  const META = Uint8Array.of(0x76);
  const marker = decodeCanonical((await chain.db.get(META))!, 'marker') as [number, Uint8Array, number];
  t.equal(marker[0], DATA_FORMAT_VERSION);
  t.equal(marker[2], fastGenesis().protocolVersion, 'the marker records the protocol version');
  await chain.db.put(META, encodeCanonical([marker[0], marker[1], marker[2] + 1]));
  await chain.db.close();
  const v = marker[2];
  await t.rejects(startTestNode(home), new RegExp(`was written under protocol version ${v + 1}, but genesis.json and this Hallmark run protocol ${v}: its state was computed by other rules`));
  const again2 = await openChain(join(home, 'data', 'chain'));
  await again2.db.put(META, encodeCanonical([2, marker[1]]));
  await again2.db.close();
  await t.rejects(startTestNode(home), /is in data format 2, this Hallmark reads format 3/);
  const last = await openChain(join(home, 'data', 'chain'));
  await last.db.del(META);
  await last.db.close();
  await t.rejects(startTestNode(home), /has no format marker: it was written by an older Hallmark/);
});

t.test('a second node on the same home is refused with a clear error', async (t) => {
  const home = liveDir(t);
  const running = await startTestNode(home);
  await t.rejects(startTestNode(home), /cannot open the chain database .*another node running/);
  await running.close();
});

t.test('Prometheus metrics are served on their own port, follow the chain and are all documented', async (t) => {
  const config = testConfig();
  const running = await startTestNode(liveDir(t), { config: { ...config, metrics: { enabled: true, host: '127.0.0.1', port: 0 } } });
  const height = await waitForHeight(running.rpcUrl, 3);
  for (const h of [1, 2]) await rpc(running.rpcUrl, 'chain_getBlock', { height: h });
  await fetch(running.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"no_such_method"}' });
  const url = running.node.metricsUrl!;
  const res = await fetch(url);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain; version=0.0.4/);
  const text = await res.text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
  t.ok(value('hallmark_height') >= height, 'the height gauge has reached the height RPC reported');
  t.ok(value('hallmark_blocks_committed_total') >= height);
  t.match(text, /^# TYPE hallmark_mempool_refused_total counter$/m);
  t.match(text, /^hallmark_mempool_refused_total\{reason="invalid_signature"\} 0$/m);
  t.match(text, /^hallmark_rpc_connections \d+$/m, "the RPC server's connections are served");
  t.match(text, /^hallmark_rpc_refused_total\{reason="max_connections_per_ip"\} 0$/m, "and its refusals, by reason");
  t.match(text, /^hallmark_evidence_pool_items 0$/m);
  t.match(text, /^hallmark_evidence_pool_bytes 0$/m);
  t.match(text, /^hallmark_evidence_dropped_total\{reason="full"\} 0$/m);

  // The histograms, read in one scrape: every block this process committed was timed; a lone
  // validator decides each by consensus; block 1 has no interval (its parent is genesis).
  const blocks = value('hallmark_blocks_committed_total');
  t.equal(value('hallmark_block_execution_seconds_count'), blocks, 'one execution time per committed block');
  t.equal(value('hallmark_proposal_to_commit_seconds_count'), blocks, 'one proposal-to-commit time per block decided here');
  t.equal(value('hallmark_block_interval_seconds_count'), blocks - 1, 'one interval per block after the first');
  t.ok(Number(/^hallmark_block_interval_seconds_sum (\S+)$/m.exec(text)?.[1]) > 0, 'block times increase');
  t.match(text, /^hallmark_block_execution_seconds_bucket\{le="\+Inf"\} \d+$/m);
  t.match(text, /^hallmark_rpc_request_duration_seconds_count\{method="chain_getBlock"\} 2$/m, 'RPC latency by method');
  t.notMatch(text, /method="no_such_method"/, 'an unknown method name is not a label');
  for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
    t.match(text, new RegExp(`^${name} \\S+$`, 'm'), `process metric ${name} is served`);
  }

  // docs/operator.md names every hallmark_* metric served, and serves every one it names.
  const doc = readFileSync(new URL('../docs/operator.md', import.meta.url), 'utf8');
  const documented = new Set([...doc.matchAll(/`((?:hallmark|nodejs|process)_[a-z0-9_]*[a-z0-9])/g)].map((m) => m[1]!));
  const served = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
  for (const name of served.filter((n) => n.startsWith('hallmark_'))) t.ok(documented.has(name), `${name} is documented`);
  for (const name of documented) t.ok(served.includes(name), `documented ${name} is served`);
  t.equal((await fetch(url.replace('/metrics', '/other'))).status, 404);
  await running.close();
});

t.test('equivocation seen by the node is reported, included in a block and listed over RPC', async (t) => {
  const genesis = fastGenesis();
  const running = await startTestNode(liveDir(t), { genesis });
  const url = running.rpcUrl;
  await waitForHeight(url, 2);
  // Two different prevotes of the validator for one height and round, signed with its raw key
  // (around the guard, as a faulty validator would); delivered for the next height, which the
  // driver buffers until it gets there.
  const height = running.node.driver.height + 1;
  const vote = (fill: number): Vote => {
    const v = { type: PREVOTE, height, round: 7, blockHash: new Uint8Array(32).fill(fill) } as const;
    return { ...v, validator: addressOf(VALIDATOR.publicKey), signature: sign(VALIDATOR.secretKey, voteSignBytes(genesis.chainId, v)) };
  };
  running.node.driver.receiveVotes([vote(1), vote(2)]);
  let committed: any[] = [];
  for (let i = 0; i < 500 && committed.length === 0; i++) {
    committed = (await rpc(url, 'consensus_evidence')).committed;
    if (committed.length === 0) await new Promise((r) => setTimeout(r, 10));
  }
  t.equal(committed.length, 1, 'the evidence was committed once');
  const included = await rpc(url, 'chain_getBlock', { height: committed[0].height });
  t.equal(included.evidence.length, 1, 'the block that includes it carries it');
  t.equal(committed[0].evidence.round, 7);
  t.equal(committed[0].evidence.validator, formatAddress(addressOf(VALIDATOR.publicKey)));
  const later = await waitForHeight(url, committed[0].height + 2);
  t.ok(later > committed[0].height + 1, 'the chain goes on');
  t.equal((await rpc(url, 'consensus_evidence')).committed.length, 1, 'it is not included twice');
  const sample = async (name: string) => (await running.node.metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value;
  t.equal(await sample('hallmark_evidence_pool_items'), 0, 'the pool emptied once the evidence was committed');
  t.equal(await sample('hallmark_evidence_pool_bytes'), 0);
  await running.close();
});

t.test('a fresh proposal must name its round\'s proposer in the block header', async (t) => {
  const other = keyPairFromSecret(secretKeyFromSeed('node-other-validator'));
  const genesis = fastGenesis();
  genesis.validators.push({ name: 'other', publicKey: other.publicKey, address: addressOf(other.publicKey), power: genesis.validators[0]!.power });
  const set = new ValidatorSet(genesis.validators);
  const round = [0, 1, 2].find((r) => equalBytes(set.proposer(1, r).address, addressOf(other.publicKey)))!;
  const prevoteFor = async (headerProposer: Uint8Array, time = Date.now()): Promise<string> => {
    const votes: Vote[] = [];
    const running = await startNode({
      home: liveDir(t), config: testConfig(), genesis, validatorKey: VALIDATOR,
      log: createLogger({ level: 'silent', format: 'text' }), outbox: { proposal() {}, vote: (v) => votes.push(v) },
    });
    const node = running.node;
    const header = node.executor.nextHeader({ txs: [], time, proposer: headerProposer, lastCommit: null });
    const block = encodeBlock({ header, txs: [], lastCommit: null, evidence: [] });
    const unsigned = { height: 1, round, validRound: -1, blockHash: blockHash(header) };
    node.driver.receiveProposal({ ...unsigned, signature: sign(other.secretKey, proposalSignBytes(genesis.chainId, unsigned)) }, block);
    let vote: Vote | undefined;
    for (let i = 0; i < 500 && vote === undefined; i++) {
      vote = votes.find((v) => v.type === PREVOTE && v.round === round);
      if (vote === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    await running.close();
    if (vote === undefined) throw new Error(`no prevote in round ${round}`);
    return vote.blockHash === null ? 'nil' : toHex(vote.blockHash) === toHex(blockHash(header)) ? 'block' : 'other';
  };
  t.equal(await prevoteFor(addressOf(other.publicKey)), 'block', 'the round\'s proposer named: prevote for the block');
  t.equal(await prevoteFor(addressOf(VALIDATOR.publicKey)), 'nil', 'another validator named: prevote nil');
  // Proposer-based timestamps: a fresh proposal's time must be timely on our clock.
  const { precisionMs, messageDelayMs } = genesis.consensusParams.synchrony;
  t.equal(await prevoteFor(addressOf(other.publicKey), Date.now() + precisionMs + 5_000), 'nil', 'a time in the future: prevote nil');
  t.equal(await prevoteFor(addressOf(other.publicKey), Date.now() - precisionMs - messageDelayMs - 5_000), 'nil', 'a time further back than precision + message delay: prevote nil');
});

t.test('at the smallest max_bytes the proposer takes as many large transactions as fit beside the header, commit and evidence it carries, and never more', async (t) => {
  const genesis = fastGenesis();
  genesis.consensusParams.block.maxBytes = minBlockBytes(genesis.validators.length);
  const running = await startTestNode(liveDir(t), { genesis });
  t.teardown(() => running.close());
  await waitForHeight(running.rpcUrl, 1);
  const node = running.node;
  // Four calls of ~300 KiB each: three fit a block of ~1.03 MiB, four do not.
  const big = Array.from({ length: 4 }, (_, nonce) => {
    const args = new Uint8Array(300 * 1024).fill(nonce + 1);
    const payload = { kind: 'call' as const, contract: new Uint8Array(20), method: 'm', args, value: 0n };
    return signTransaction({ chainId: genesis.chainId, sender: FAUCET.publicKey, nonce, fee: 10_000_000n, gasLimit: 10_000_000, payload }, FAUCET.secretKey);
  });
  for (const stx of big) await node.query.submitTx(stx.bytes);
  const heights = await Promise.all(big.map((stx) => node.query.waitForTx(stx.hash, 30_000).then((r) => r.height)));
  t.ok(new Set(heights).size >= 2, `the four were split over blocks ${[...new Set(heights)].join(', ')}`);
  for (const h of new Set(heights)) {
    const size = (await node.executor.blocks.getBlockBytes(h))!.length;
    t.ok(size <= genesis.consensusParams.block.maxBytes, `block ${h} is ${size} of at most ${genesis.consensusParams.block.maxBytes} bytes`);
  }
  t.ok(heights.filter((h) => h === heights[0]).length === 3, 'the first block took three: as many as fit');
});
