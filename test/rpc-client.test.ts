/**
 * rpc/client.ts against the real server on a real node (test/fixtures/rpc-node.ts): results are
 * what the server sent, checked against the method table's schemas; params are checked before
 * they leave, with the error the node itself gives; failures carry a code saying what happened.
 */
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { addressOf, formatAddress } from '../chain/address.ts';
import { toHex } from '../chain/bytes.ts';
import { generateKeyPair } from '../chain/keys.ts';
import { RpcClient, RpcClientError } from '../rpc/client.ts';
import { defineRpcMethod, RPC_ERRORS, RPC_METHODS } from '../rpc/methods.ts';
import { startRpcServer, type RpcServer } from '../rpc/server.ts';
import { openRpcTestNode, rpcRequest, type RpcTestNode } from './fixtures/rpc-node.ts';

let node: RpcTestNode;
let server: RpcServer;
t.before(async () => {
  node = await openRpcTestNode({ autoProduce: true });
  server = await startRpcServer(node.query, { host: '127.0.0.1', port: 0 });
  node.rpcUrl = server.url;
});
t.teardown(async () => {
  await server.close();
  await node.close();
});

const recipient = formatAddress(addressOf(generateKeyPair().publicKey));

t.test('typed calls return what the server sent', async (t) => {
  const client = new RpcClient(server.url);
  const stx = await node.transfer(0, addressOf(generateKeyPair().publicKey), 9n);
  const sent = await client.call('tx_broadcast', { tx: toHex(stx.bytes), wait: 'committed', timeout_ms: 5000 });
  t.equal(sent.status, 'committed');
  t.equal(sent.receipt?.code, 0);
  for (const [method, params] of [['chain_status', {}], ['chain_getBlock', { height: sent.height! }], ['tx_get', { hash: sent.hash }], ['state_getAccount', { address: recipient }], ['rpc.discover', {}]] as const) {
    const raw = (await rpcRequest(server.url, method, params)).body.result;
    t.same(await client.call(method, params), raw, `${method}: the server's result`);
  }
  t.same(await client.call('chain_status'), (await rpcRequest(server.url, 'chain_status')).body.result, 'a method without params needs none');
});

t.test('params that fail the schema never leave, and fail as the node would', async (t) => {
  const client = new RpcClient(server.url);
  const local = await client.call('chain_getBlock', { height: -1 }).catch((e: unknown) => e);
  const remote = (await rpcRequest(server.url, 'chain_getBlock', { height: -1 })).body.error!;
  t.ok(local instanceof RpcClientError);
  t.match(local, { code: 'invalid_params', message: remote.message, rpc: { code: RPC_ERRORS.invalid_params.code, data: remote.data } });
});

t.test('errors: the node\'s, a result off its schema, no node, not JSON-RPC, a bad URL', async (t) => {
  const client = new RpcClient(server.url);
  await t.rejects(client.call('chain_getBlock', { height: 999 }), { code: 'rpc_error', message: /no block at height 999/, rpc: { code: RPC_ERRORS.not_found.code, data: { height: 999 } } });

  // A server whose chain_status answers a height that is no height.
  const status = RPC_METHODS.find((m) => m.name === 'chain_status')!;
  const liar = await startRpcServer(node.query, {
    host: '127.0.0.1', port: 0,
    methods: [defineRpcMethod({ ...status, handler: async (q, p, ctx) => ({ ...await status.handler(q, p, ctx) as object, latest_height: -5 }) })],
  });
  t.teardown(() => liar.close());
  await t.rejects(new RpcClient(liar.url).call('chain_status'), { code: 'bad_result', message: /answered chain_status with a result that does not match its schema: latest_height: / });

  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  await t.rejects(new RpcClient(`http://127.0.0.1:${port}`).call('chain_status'), { code: 'no_node', message: `no node at http://127.0.0.1:${port}: is it running?` });

  const html = createServer((_req, res) => res.end('<html></html>'));
  await new Promise<void>((r) => html.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => html.close(() => r())));
  await t.rejects(new RpcClient(`http://127.0.0.1:${(html.address() as AddressInfo).port}`).call('chain_status'), { code: 'not_json_rpc', message: /answered HTTP 200 without JSON-RPC$/ });

  t.throws(() => new RpcClient('ftp://127.0.0.1:1'), { code: 'bad_url', message: 'expected an http:// or https:// URL, got "ftp://127.0.0.1:1"' });
  t.throws(() => new RpcClient('not a url'), { code: 'bad_url' });
});
