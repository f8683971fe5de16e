/**
 * The JSON-RPC server's connections over real sockets: clients that are slow or hostile on purpose
 * (a request left unfinished, a body a byte at a time, an answer never read, too many connections
 * from one address) must not keep the server from answering anyone else, and every refusal ends
 * the connection from the server's side, whether or not the client ever closes it.
 *
 * Each test starts its own server with small deadlines; nothing here measures time. A second client
 * is a second loopback address (`localAddress: '127.0.0.2'`), which the server counts apart.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { clientKey } from '../rpc/connections.ts';
import { defineRpcMethod, RPC_ERRORS, RPC_METHODS } from '../rpc/methods.ts';
import { MAX_RPC_TIMEOUT_MS, RPC_REFUSALS, startRpcServer, type RpcRefusal, type RpcServer, type RpcServerOptions } from '../rpc/server.ts';
import { liveDir } from './fixtures/dirs.ts';
import { BIN, freePort } from './fixtures/processes.ts';
import { openRpcTestNode, RpcGate, type RpcTestNode } from './fixtures/rpc-node.ts';

const OTHER = '127.0.0.2';
const BUSY = RPC_ERRORS.server_busy.code;

/** `test_block` calls wait until the test opens the gate. */
const gate = new RpcGate();
const testMethods = [
  gate.method,
  defineRpcMethod({
    name: 'test_big', summary: 'an answer larger than the kernel buffers a socket', params: z.strictObject({}), result: z.string(), errors: [],
    async handler() {
      return 'x'.repeat(32 << 20);
    },
  }),
];

let node: RpcTestNode;
t.before(async () => {
  node = await openRpcTestNode();
});
t.teardown(async () => {
  gate.open();
  await node.close();
});

/** A server on port 0 with `options`; closed when the test ends. */
async function serve(t: Test, options: Partial<RpcServerOptions>): Promise<RpcServer> {
  const server = await startRpcServer(node.query, { host: '127.0.0.1', port: 0, methods: [...RPC_METHODS, ...testMethods], ...options });
  t.teardown(() => server.close());
  return server;
}

/** Polls `cond` (a bounded number of times, not a clock) until it holds. */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 4000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never happened: ${what}`);
}

/**
 * A raw TCP client that writes what it is told and never ends or closes the connection itself: it
 * allows half-open connections, so the server's FIN alone does not close it. Only a server that
 * destroys its socket stops counting the connection (`server.load().connections`).
 */
interface RawClient {
  socket: Socket;
  /** Everything the server sent. */
  received(): string;
  isEnded(): boolean;
  /** Settles with what the server sent once the server has ended the connection (FIN or reset). */
  ended: Promise<string>;
}

function rawClient(server: RpcServer, data: string, localAddress = '127.0.0.1'): Promise<RawClient> {
  return new Promise((resolve) => {
    const socket = connect({ port: server.port, host: '127.0.0.1', localAddress, allowHalfOpen: true });
    let got = '';
    let isEnded = false;
    socket.on('data', (c) => { got += c; });
    socket.on('error', () => {}); // a reset, even before 'connect', is one way for the server to end it
    const client: RawClient = {
      socket, received: () => got, isEnded: () => isEnded,
      ended: new Promise<string>((r) => {
        const ended = () => {
          isEnded = true;
          r(got);
          resolve(client);
        };
        socket.once('end', ended);
        socket.once('close', ended);
      }),
    };
    socket.once('connect', () => {
      if (data !== '') socket.write(data);
      resolve(client);
    });
  });
}

/** Many raw clients, opened a few at a time (all are open at the end). */
async function rawClients(t: Test, server: RpcServer, n: number, data: string): Promise<RawClient[]> {
  const out: RawClient[] = [];
  while (out.length < n) out.push(...await Promise.all(Array.from({ length: Math.min(20, n - out.length) }, () => rawClient(server, data))));
  t.teardown(() => { for (const c of out) c.socket.destroy(); });
  return out;
}

/** Headers of a POST whose body will never be complete (Content-Length 100, one byte sent). */
const SLOW_BODY = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{';

function requestText(method: string, opts: { id?: number; keepAlive?: boolean } = {}): string {
  const body = JSON.stringify({ jsonrpc: '2.0', id: opts.id ?? 1, method });
  return `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${opts.keepAlive === false ? 'Connection: close\r\n' : ''}\r\n${body}`;
}

/** One JSON-RPC call from `localAddress` on its own connection. */
function callFrom(server: RpcServer, localAddress: string, method: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(server.url, { method: 'POST', agent: false, localAddress, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 7, method }));
  });
}

async function chainStatusFrom(t: Test, server: RpcServer, localAddress: string, what: string, chainId = node.query.chainId): Promise<void> {
  const r = await callFrom(server, localAddress, 'chain_status');
  t.equal(r.status, 200, `${what}: HTTP 200`);
  t.equal(r.body.result?.chain_id, chainId, `${what}: a chain_status result`);
}

function counts(server: RpcServer, ...reasons: RpcRefusal[]): Record<string, number> {
  return Object.fromEntries(reasons.map((r) => [r, server.refused[r]]));
}

t.test('issue 12: slow bodies hold no slot, so 200 of them from one client stall no one', async (t) => {
  // Before: 64 such connections (max_concurrent) made every request a 503 until they closed.
  const server = await serve(t, { maxConcurrent: 3, maxConnections: 1000, maxConnectionsPerIp: 1000, headerTimeoutMs: 60_000, bodyTimeoutMs: 60_000 });
  const slow = await rawClients(t, server, 200, SLOW_BODY);
  await until('the server reads 200 bodies', () => server.load().reading === 200);
  t.same(server.load(), { connections: 200, reading: 200, handling: 0 }, '200 bodies being read hold no request slot');

  await chainStatusFrom(t, server, OTHER, 'another client');
  await chainStatusFrom(t, server, '127.0.0.1', 'the same address, on a new connection');
  t.equal(server.load().reading, 200, 'the answers came while all 200 slow connections were open');
  t.equal(slow.filter((c) => c.isEnded() || c.received() !== '').length, 0, 'and none of them was answered or closed');
  t.same(counts(server, 'max_concurrent', 'max_concurrent_per_ip'), { max_concurrent: 0, max_concurrent_per_ip: 0 });
});

t.test('200 connections from one client: the per-address cap resets the rest at accept, without a slot', async (t) => {
  const server = await serve(t, { maxConcurrent: 3, maxConnectionsPerIp: 20, headerTimeoutMs: 60_000, bodyTimeoutMs: 60_000 });
  const clients = await rawClients(t, server, 200, SLOW_BODY);
  await until('180 connections are closed by the server', () => clients.filter((c) => c.isEnded()).length === 180);
  await until('20 bodies are being read', () => server.load().reading === 20);
  const dropped = clients.filter((c) => c.isEnded());
  t.same(dropped.map((c) => c.received()).filter((r) => r !== ''), [], 'the dropped ones got no answer: no HTTP was read from them');
  t.equal(server.refused.max_connections_per_ip, 180);
  t.same(server.load(), { connections: 20, reading: 20, handling: 0 });

  await chainStatusFrom(t, server, OTHER, 'another client, while 20 are held');
  const over = await rawClient(server, requestText('chain_status'));
  t.equal(await over.ended, '', 'a 21st connection from the held address is closed unanswered, even with a good request');
  t.equal(server.refused.max_connections_per_ip, 181);

  clients.find((c) => !c.isEnded())!.socket.destroy();
  await until('the server counts 19 connections', () => server.load().connections === 19);
  await chainStatusFrom(t, server, '127.0.0.1', 'the held address, once one of its connections closed');
});

t.test('the total connection cap', async (t) => {
  const server = await serve(t, { maxConnections: 3, maxConnectionsPerIp: 2, headerTimeoutMs: 60_000 });
  const held = [await rawClient(server, ''), await rawClient(server, ''), await rawClient(server, '', OTHER)];
  await until('3 connections', () => server.load().connections === 3);
  const third = await rawClient(server, requestText('chain_status'), '127.0.0.3');
  t.equal(await third.ended, '', 'a third address is closed unanswered when 3 are open in all');
  t.same(counts(server, 'max_connections', 'max_connections_per_ip'), { max_connections: 1, max_connections_per_ip: 0 });
  t.notOk(held.some((c) => c.isEnded()), 'the held ones stay');
  for (const c of held) c.socket.destroy();
});

t.test('deadlines: headers, trickled headers, a body, a trickled body; each is 408 and closed by the server', async (t) => {
  const server = await serve(t, { maxConcurrent: 3, headerTimeoutMs: 150, bodyTimeoutMs: 150, maxConnectionsPerIp: 1000 });
  const silent = await rawClient(server, '');
  const partial = await rawClient(server, 'POST / HTTP/1.1\r\nHost: x\r\n');
  const trickle = (c: RawClient, byte: string) => {
    const timer = setInterval(() => { if (!c.isEnded()) c.socket.write(byte); }, 10);
    c.ended.then(() => clearInterval(timer));
    t.teardown(() => clearInterval(timer));
  };
  const slowHeaders = await rawClient(server, 'POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  trickle(slowHeaders, 'a');
  const slowBody = await rawClient(server, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n[');
  trickle(slowBody, ' ');
  // The case: more slow bodies than slots; each gets its 408 and the server closes it.
  const bodies = await rawClients(t, server, 64, SLOW_BODY);

  for (const [c, what] of [[silent, 'nothing sent'], [partial, 'unfinished headers'], [slowHeaders, 'headers a byte at a time']] as const) {
    t.match(await c.ended, /^HTTP\/1\.1 408 Request Timeout\r\n/, `${what}: 408, and closed by the server`);
  }
  t.match(await slowBody.ended, /^HTTP\/1\.1 408 /, 'a body a byte at a time, still arriving: cut at the body deadline');
  const answers = await Promise.all(bodies.map((c) => c.ended));
  t.equal(answers.filter((a) => /^HTTP\/1\.1 408 /.test(a)).length, 64, '64 slow bodies: each 408 and closed by the server');
  t.same(counts(server, 'header_timeout', 'body_timeout'), { header_timeout: 3, body_timeout: 65 });
  await until('no connection left', () => server.load().connections === 0);
  t.same(server.load(), { connections: 0, reading: 0, handling: 0 }, 'nothing held once they are gone');
  await chainStatusFrom(t, server, '127.0.0.1', 'afterwards');
});

t.test('every refusal is answered and the connection closed by the server, though the client never closes it', async (t) => {
  const server = await serve(t, { maxConcurrent: 3, maxConcurrentPerIp: 1, headerTimeoutMs: 60_000, bodyTimeoutMs: 60_000, maxBodyBytes: 1000 });
  const cases: [string, string, RegExp, RpcRefusal][] = [
    ['a declared body over max_body_bytes', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n[', /^HTTP\/1\.1 413 /, 'max_body_bytes'],
    ['a chunked body growing past it', `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${' '.repeat(0x800)}\r\n`, /^HTTP\/1\.1 413 /, 'max_body_bytes'],
    ['a wrong Content-Type', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n{', /^HTTP\/1\.1 415 /, 'content_type'],
    ['bytes that are not HTTP', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n', /^HTTP\/1\.1 400 /, 'malformed_http'],
    ['headers over 16 KiB', `POST / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n`, /^HTTP\/1\.1 431 /, 'malformed_http'],
  ];
  for (const [what, data, status, reason] of cases) {
    const before = server.refused[reason];
    const c = await rawClient(server, data);
    t.match(await c.ended, status, `${what}: answered`);
    await until(`${what}: the server closed its socket`, () => server.load().connections === 0);
    t.equal(server.refused[reason], before + 1, `${what}: counted as ${reason}`);
  }

  // A request pipelined behind a refused one, in the same segment, is not run.
  gate.close();
  const pipelined = await rawClient(server, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}' + requestText('test_block'));
  const pipelinedAnswer = await pipelined.ended;
  t.match(pipelinedAnswer, /^HTTP\/1\.1 415 /);
  t.equal(pipelinedAnswer.match(/HTTP\/1\.1/g)?.length, 1, 'one answer: the refusal');
  t.equal(gate.started, 0, 'the request behind it never ran');

  // 503s. A body begun before the slots fill is refused once it is complete.
  const late = await rawClient(server, SLOW_BODY, '127.0.0.4');
  await until('the late body is being read', () => server.load().reading === 1);
  gate.close();
  const held = [callFrom(server, '127.0.0.1', 'test_block'), callFrom(server, OTHER, 'test_block')];
  await until('two held requests are in their handlers', () => gate.started === 2);
  const perIp = await rawClient(server, requestText('chain_status'));
  const perIpAnswer = await perIp.ended;
  t.match(perIpAnswer, /^HTTP\/1\.1 503 /, 'a second request from a client at max_concurrent_per_ip: 503, closed by the server');
  t.match(perIpAnswer, /server busy: 1 requests from 127\.0\.0\.1 in flight \(the limit per client is 1\)/);
  held.push(callFrom(server, '127.0.0.3', 'test_block'));
  await until('three held requests', () => gate.started === 3);
  const total = await rawClient(server, requestText('chain_status'), '127.0.0.5');
  const totalAnswer = await total.ended;
  t.match(totalAnswer, /^HTTP\/1\.1 503 /, 'another client at max_concurrent: 503, closed by the server');
  t.match(totalAnswer, new RegExp(`"code":${BUSY},"message":"server busy: 3 requests in flight \\(the limit is 3\\)`));
  late.socket.write(' '.repeat(99));
  t.match(await late.ended, /^HTTP\/1\.1 503 /, 'the body completed while every slot is held: 503, closed');
  t.same(counts(server, 'max_concurrent', 'max_concurrent_per_ip'), { max_concurrent: 2, max_concurrent_per_ip: 1 });
  gate.open();
  t.same((await Promise.all(held)).map((r) => r.body.result), [{ ok: true }, { ok: true }, { ok: true }], 'the held requests still answer');
  await until('every refused connection is gone', () => server.load().connections === 0);
  t.same(server.load(), { connections: 0, reading: 0, handling: 0 });
  await chainStatusFrom(t, server, '127.0.0.1', 'afterwards');
});

t.test('one client cannot take every slot: max_concurrent_per_ip', async (t) => {
  const server = await serve(t, { maxConcurrent: 4, maxConcurrentPerIp: 2 });
  gate.close();
  const held = [callFrom(server, '127.0.0.1', 'test_block'), callFrom(server, '127.0.0.1', 'test_block')];
  await until('two held requests from 127.0.0.1', () => gate.started === 2);
  const third = await callFrom(server, '127.0.0.1', 'test_block');
  t.equal(third.status, 503);
  t.same(third.body, { jsonrpc: '2.0', id: null, error: { code: BUSY, message: 'server busy: 2 requests from 127.0.0.1 in flight (the limit per client is 2); retry later' } });
  t.same(server.load().handling, 2);
  const other = callFrom(server, OTHER, 'test_block');
  await until('a request from 127.0.0.2 is handled meanwhile', () => gate.started === 3);
  gate.open();
  t.same((await Promise.all([...held, other])).map((r) => r.body.result), [{ ok: true }, { ok: true }, { ok: true }]);
  t.equal(server.refused.max_concurrent_per_ip, 1);
});

t.test('keep-alive: the next request on the connection is answered; an idle one is closed without a word', async (t) => {
  const server = await serve(t, { keepAliveTimeoutMs: 1000 });
  const c = await rawClient(server, requestText('chain_status', { id: 1 }));
  await until('the first answer', () => /"id":1,/.test(c.received()));
  t.match(c.received(), /\r\nkeep-alive: timeout=1\r\n/i, 'the answer says how long the connection stays open idle');
  c.socket.write(requestText('chain_status', { id: 2 }));
  const all = await c.ended;
  t.equal(all.match(/HTTP\/1\.1 200 OK\r\n/g)?.length, 2, 'both requests answered on one connection');
  t.notMatch(all, /HTTP\/1\.1 408/, 'an idle close sends nothing (the bodies hold random hex, which may contain 408)');
  t.equal(server.refused.keep_alive_timeout, 1);
  t.equal(server.refused.header_timeout, 0);

  const closing = await rawClient(server, requestText('chain_status', { keepAlive: false }));
  t.match(await closing.ended, /\r\nconnection: close\r\n/i, 'Connection: close is honoured');
  t.equal(server.refused.keep_alive_timeout, 1, 'and is not counted as a timeout');
});

t.test('a client that does not read its answer is closed at the send deadline, and its slot is long free', async (t) => {
  const server = await serve(t, { sendTimeoutMs: 200 });
  const c = await rawClient(server, requestText('test_big'));
  c.socket.pause(); // 32 MiB answer; the kernel buffers a few MiB at most
  await until('the send deadline closes it', () => server.refused.send_timeout === 1);
  await until('no connection left', () => server.load().connections === 0);
  t.same(server.load(), { connections: 0, reading: 0, handling: 0 });
  await chainStatusFrom(t, server, '127.0.0.1', 'afterwards');
});

t.test('the client key: IPv4 per address, IPv4-mapped as IPv4, IPv6 per /64', async (t) => {
  t.equal(clientKey('127.0.0.1'), '127.0.0.1');
  t.not(clientKey('127.0.0.1'), clientKey('127.0.0.2'));
  t.equal(clientKey('::ffff:10.1.2.3'), '10.1.2.3');
  t.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
  t.equal(clientKey('2001:0DB8:0:0:ffff:1:2:3'), '2001:db8:0:0::/64', 'one /64 whatever the host part and case');
  t.not(clientKey('2001:db8:0:1::1'), clientKey('2001:db8::1'), 'another /64 is another client');
  t.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64', 'the zone is not part of the address');
  t.equal(clientKey('::1'), '0:0:0:0::/64');
});

t.test('bad options are refused with the option named', async (t) => {
  for (const [options, message] of [
    [{ maxConnectionsPerIp: 0 }, /maxConnectionsPerIp: expected a positive integer, got 0/],
    [{ maxConcurrentPerIp: 1.5 }, /maxConcurrentPerIp: expected a positive integer/],
    [{ headerTimeoutMs: MAX_RPC_TIMEOUT_MS + 1 }, /headerTimeoutMs: at most 2147483647 ms/],
    [{ keepAliveTimeoutMs: -1 }, /keepAliveTimeoutMs: expected a positive integer/],
  ] as const) {
    await t.rejects(startRpcServer(node.query, { host: '127.0.0.1', port: 0, ...options }), { message }, JSON.stringify(options));
  }
  t.same(RPC_REFUSALS.length, new Set(RPC_REFUSALS).size);
});

t.test('hallmark start takes the [rpc] connection keys from config.toml', async (t) => {
  const home = liveDir(t);
  const [rpcPort, p2pPort] = [await freePort(), await freePort()];
  const init = spawn(process.execPath, [BIN, '--home', home, 'init'], { stdio: 'ignore' });
  t.equal(await new Promise((r) => init.once('exit', r)), 0, 'init');
  writeFileSync(join(home, 'config.toml'), `[rpc]\nlisten = "127.0.0.1:${rpcPort}"\nmax_connections_per_ip = 2\nheader_timeout_ms = 300\n`
    + `[p2p]\nlisten = "127.0.0.1:${p2pPort}"\n[metrics]\nenabled = false\n`);
  const proc = spawn(process.execPath, [BIN, '--home', home, 'start'], { stdio: 'ignore' });
  const exited = new Promise((r) => proc.once('exit', r));
  t.teardown(async () => {
    if (proc.exitCode === null) proc.kill('SIGTERM');
    await exited;
  });
  const server = { port: rpcPort, url: `http://127.0.0.1:${rpcPort}/` } as RpcServer;
  let ready = false;
  for (let i = 0; i < 600 && !ready && proc.exitCode === null; i++) {
    ready = await callFrom(server, OTHER, 'chain_status').then((r) => r.status === 200, () => false);
    if (!ready) await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(ready, 'the node answers');

  const held = [await rawClient(server, '', '127.0.0.5'), await rawClient(server, '', '127.0.0.5')];
  const third = await rawClient(server, requestText('chain_status'), '127.0.0.5');
  t.equal(await third.ended, '', 'max_connections_per_ip = 2: a third connection is closed unanswered');
  const { chain_id: chainId } = JSON.parse(readFileSync(join(home, 'genesis.json'), 'utf8'));
  await chainStatusFrom(t, server, '127.0.0.6', 'another address meanwhile', chainId);
  for (const c of held) t.match(await c.ended, /^HTTP\/1\.1 408 /, 'header_timeout_ms = 300: the silent ones get 408 and are closed');
});
