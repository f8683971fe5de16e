/**
 * The stall that opened the block-validity issue, as a test: a contract method that loops forever,
 * called on a real node. With the largest gas limit anyone can send it is refused at the door (the
 * block gas limit caps every transaction); with the largest limit allowed it runs out of gas inside
 * one block, and the node's event loop keeps turning meanwhile: RPC answers while the block
 * executes. No wall-clock threshold: the event loop's longest stall is compared with the block's own
 * execution time, measured in the same run.
 */
import t from 'tap';
import { fromHex, toHex } from '../chain/bytes.ts';
import { signTransaction, type Payload } from '../chain/tx.ts';
import { STORE } from './fixtures/vm-contracts.ts';
import { fastGenesis, FAUCET, rpc, startTestNode, waitForHeight } from './fixtures/node.ts';
import { liveDir } from './fixtures/dirs.ts';

t.test('a looping contract: the largest gas limit is refused; the largest allowed runs out of gas in one block while the node answers RPC', async (t) => {
  const genesis = fastGenesis();
  const running = await startTestNode(liveDir(t), { genesis });
  t.teardown(() => running.close());
  const url = running.rpcUrl;
  await waitForHeight(url, 1);
  const params = await rpc(url, 'chain_getParams');
  const price = BigInt(params.min_gas_price);
  let nonce = 0;
  const send = (payload: Payload, gasLimit: number, wait = 'committed') => {
    const tx = signTransaction({ chainId: genesis.chainId, sender: FAUCET.publicKey, nonce, fee: BigInt(gasLimit) * price, gasLimit, payload }, FAUCET.secretKey);
    return rpc(url, 'tx_broadcast', { tx: toHex(tx.bytes), wait, timeout_ms: 10_000 }).then((r) => {
      nonce++;
      return r;
    });
  };
  const deployed = await send({ kind: 'deploy', code: STORE, args: new Uint8Array(0) }, 50_000_000);
  t.equal(deployed.receipt.status, 'ok');
  const spin: Payload = { kind: 'call', contract: fromHex(deployed.receipt.return_data), method: 'spin', args: new Uint8Array(0), value: 0n };

  // The largest limit the CLI takes (any safe integer), fee paid in full: refused, with the reason.
  const err = await send(spin, Number.MAX_SAFE_INTEGER).then(() => null, (e: { rpc?: { code: number; message: string; data?: { reason: string } } }) => e.rpc);
  t.equal(err?.code, -32010);
  t.equal(err?.data?.reason, 'gas_limit_too_high');
  t.match(err?.message, new RegExp(`gas limit ${Number.MAX_SAFE_INTEGER} exceeds the block gas limit of ${params.max_gas}`));

  // The largest allowed: watch the event loop and the RPC while its block executes.
  const executor = running.node.executor;
  const apply = executor.applyBlock.bind(executor);
  const spans: { start: number; end: number; txs: number }[] = [];
  executor.applyBlock = async (block, commit) => {
    const span = { start: performance.now(), end: Infinity, txs: block.txs.length };
    spans.push(span);
    try {
      return await apply(block, commit);
    } finally {
      span.end = performance.now();
    }
  };
  let last = performance.now();
  const gaps: { at: number; gap: number }[] = [];
  const ticker = setInterval(() => {
    const now = performance.now();
    gaps.push({ at: now, gap: now - last });
    last = now;
  }, 1);
  const answers: number[] = [];
  let polling = true;
  const poll = (async () => {
    while (polling) {
      await rpc(url, 'chain_status');
      answers.push(performance.now());
    }
  })();
  const r = await send(spin, params.max_gas);
  polling = false;
  await poll;
  clearInterval(ticker);

  t.equal(r.receipt.status, 'contract_failed');
  t.match(r.receipt.error, /^out_of_gas/);
  t.equal(r.receipt.gas_used, params.max_gas, 'it used exactly the block gas limit');
  const span = spans.find((s) => s.txs > 0 && s.end !== Infinity)!;
  const ms = span.end - span.start;
  const during = answers.filter((a) => a > span.start && a < span.end).length;
  const longest = Math.max(...gaps.filter((g) => g.at > span.start && g.at <= span.end + 1).map((g) => g.gap));
  t.comment(`the block of one max_gas loop (${params.max_gas} gas) executed in ${ms.toFixed(0)} ms (${(params.max_gas / ms / 1e6).toFixed(2)}x10^9 gas/s); the event loop's longest stall in it was ${longest.toFixed(1)} ms; ${during} RPC answers meanwhile`);
  t.ok(during >= 3, `RPC answered while the block executed (${during} answers)`);
  t.ok(longest < ms / 4, `the event loop never stalled for more than a quarter of the block (${longest.toFixed(1)} of ${ms.toFixed(0)} ms)`);
});
