/**
 * The JSON-RPC server's protocol edges and limits over real HTTP: every error code, batches and
 * notifications, body size, batch size, concurrency, call timeouts, huge numbers, deep nesting and
 * wide objects. After each, a good request must still work. Slow and hostile connections (deadlines,
 * per-client caps) are in rpc-connections.test.ts.
 */
import t, { type Test } from 'tap';
import { request } from 'node:http';
import { z } from 'zod';
import { defineRpcMethod, RPC_ERRORS, RPC_METHODS, type RpcMethod } from '../rpc/methods.ts';
import { MAX_ISSUES, startRpcServer, type RpcServer } from '../rpc/server.ts';
import { httpRequest, openRpcTestNode, RpcGate, rpcRequest, type RpcTestNode } from './fixtures/rpc-node.ts';

const LIMITS = { maxBodyBytes: 256 * 1024, maxBatch: 5, maxConcurrent: 3, timeoutMs: 400 };

/** `test_block` calls wait until the test opens the gate. */
const gate = new RpcGate();
const warnings: { msg: string; fields?: object }[] = [];

const testMethods: RpcMethod[] = [
  gate.method,
  defineRpcMethod({
    name: 'test_throw', summary: 'throws an unexpected error', params: z.strictObject({}), result: z.object({}), errors: [],
    async handler() {
      throw new Error('secret detail at /home/validator/keys');
    },
  }),
  defineRpcMethod({
    name: 'test_bigint', summary: 'returns what JSON cannot hold', params: z.strictObject({}), result: z.object({}), errors: [],
    async handler() {
      return { n: 1n } as never;
    },
  }),
];

let node: RpcTestNode;
let server: RpcServer;

t.before(async () => {
  node = await openRpcTestNode();
  server = await startRpcServer(node.query, {
    host: '127.0.0.1', port: 0, ...LIMITS, methods: [...RPC_METHODS, ...testMethods],
    log: { warn: (msg, fields) => warnings.push({ msg, fields }) },
  });
  node.rpcUrl = server.url;
});
t.teardown(async () => {
  gate.open();
  await server.close();
  await node.close();
});

/** A good request still gets a good answer. */
async function stillWorks(t: Test): Promise<void> {
  const { status, body } = await rpcRequest(server.url, 'chain_status');
  t.equal(status, 200, 'the server still answers');
  t.equal(body.result?.chain_id, node.query.chainId, 'and a good request still works');
}

function post(body: string | Uint8Array, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  return httpRequest(server.url, { body, headers });
}

async function postJson(body: unknown) {
  const reply = await post(typeof body === 'string' ? body : JSON.stringify(body));
  return { status: reply.status, body: reply.text === '' ? undefined : JSON.parse(reply.text) };
}

const C = Object.fromEntries(Object.entries(RPC_ERRORS).map(([k, v]) => [k, v.code])) as Record<keyof typeof RPC_ERRORS, number>;

t.test('parse errors: invalid JSON, garbage bytes, invalid UTF-8', async (t) => {
  for (const body of ['{"jsonrpc":"2.0",', 'not json', '', '{"a":1}}', '\u0000\u0001']) {
    const r = await postJson(body);
    t.equal(r.status, 200);
    t.same(r.body, { jsonrpc: '2.0', id: null, error: { code: C.parse_error, message: 'parse error: the body is not valid JSON in UTF-8' } }, `parse error for ${JSON.stringify(body)}`);
  }
  const garbage = new Uint8Array(4096).map((_, i) => (i * 7919 + 13) & 0xff);
  t.equal((await postJson(Buffer.from(garbage).toString('latin1'))).body.error.code, C.parse_error, 'garbage bytes');
  const r = await post(Uint8Array.of(0x22, 0xff, 0xfe, 0x22)); // a JSON string holding invalid UTF-8
  t.equal(JSON.parse(r.text).error.code, C.parse_error, 'invalid UTF-8 is a parse error, not replaced silently');
  await stillWorks(t);
});

t.test('invalid requests', async (t) => {
  const cases: [unknown, string | number | null, RegExp][] = [
    [1, null, /expected a JSON-RPC request object/],
    ['"x"', null, /expected a JSON-RPC request object/],
    [null, null, /expected a JSON-RPC request object/],
    [{}, null, /jsonrpc must be exactly "2.0"/],
    [{ jsonrpc: '1.0', id: 1, method: 'chain_status' }, 1, /jsonrpc must be exactly "2.0"/],
    [{ jsonrpc: '2.0', id: 'a' }, 'a', /method must be a string/],
    [{ jsonrpc: '2.0', id: 2, method: 5 }, 2, /method must be a string/],
    [{ jsonrpc: '2.0', id: { x: 1 }, method: 'chain_status' }, null, /id must be a string, a number or null/],
    [{ jsonrpc: '2.0', id: true, method: 'chain_status' }, null, /id must be/],
    [{ jsonrpc: '2.0', id: 3, method: 'chain_status', params: 'x' }, 3, /params must be an object/],
    [{ jsonrpc: '2.0', id: 4, method: 'chain_status', params: null }, 4, /params must be an object/],
    [[], null, /empty batch/],
  ];
  for (const [body, id, message] of cases) {
    const r = await postJson(body);
    t.equal(r.status, 200);
    t.match(r.body, { jsonrpc: '2.0', id, error: { code: C.invalid_request, message } }, `invalid request: ${JSON.stringify(body)}`);
    t.equal(r.body.result, undefined);
  }
  // An invalid request without an id is still answered (it is not a notification).
  const r = await postJson({ jsonrpc: '2.0', method: 7 });
  t.match(r.body, { id: null, error: { code: C.invalid_request } });
  await stillWorks(t);
});

t.test('method not found names the method', async (t) => {
  const r = await postJson({ jsonrpc: '2.0', id: 'm', method: 'chain_nope' });
  t.same(r.body, { jsonrpc: '2.0', id: 'm', error: { code: C.method_not_found, message: 'method not found: "chain_nope"', data: { method: 'chain_nope' } } });
  const long = await postJson({ jsonrpc: '2.0', id: 1, method: 'x'.repeat(100_000) });
  t.equal(long.body.error.code, C.method_not_found);
  t.ok(long.body.error.message.length < 200, 'a huge method name is not echoed whole');
  // Inherited object properties are not methods.
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    t.equal((await postJson({ jsonrpc: '2.0', id: 1, method: name })).body.error.code, C.method_not_found, name);
  }
  await stillWorks(t);
});

t.test('batches and notifications', async (t) => {
  const r = await postJson([
    { jsonrpc: '2.0', id: 1, method: 'chain_status' },
    { jsonrpc: '2.0', method: 'chain_status' }, // notification: no entry
    1,
    { jsonrpc: '2.0', id: 'b', method: 'nope' },
    { jsonrpc: '2.0', id: 2, method: 'chain_getBlock', params: { height: 'x' } },
  ]);
  t.equal(r.status, 200);
  t.equal(r.body.length, 4, 'one response per call with an id, and one for the invalid entry');
  t.equal(r.body[0].id, 1);
  t.equal(r.body[0].result.chain_id, node.query.chainId);
  t.same(r.body[1], { jsonrpc: '2.0', id: null, error: { code: C.invalid_request, message: 'invalid request: expected a JSON-RPC request object' } });
  t.match(r.body[2], { id: 'b', error: { code: C.method_not_found } });
  t.match(r.body[3], { id: 2, error: { code: C.invalid_params, data: { issues: [{ path: 'height' }] } } });

  const allNotes = await post(JSON.stringify([{ jsonrpc: '2.0', method: 'chain_status' }, { jsonrpc: '2.0', method: 'nope' }]));
  t.equal(allNotes.status, 204, 'an all-notification batch is answered with 204');
  t.equal(allNotes.text, '', 'and an empty body');
  const single = await post(JSON.stringify({ jsonrpc: '2.0', method: 'chain_getBlock', params: { height: -1 } }));
  t.equal(single.status, 204, 'a notification gets no response, even with bad params');
  t.equal(single.text, '');
  const nullId = await postJson({ jsonrpc: '2.0', id: null, method: 'chain_status' });
  t.equal(nullId.body.id, null, 'id null is a request, not a notification');
  t.ok(nullId.body.result);

  const over = await postJson(Array.from({ length: LIMITS.maxBatch + 1 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'chain_status' })));
  t.same(over.body, { jsonrpc: '2.0', id: null, error: { code: C.invalid_request, message: `invalid request: batch of ${LIMITS.maxBatch + 1} calls; the limit is ${LIMITS.maxBatch}`, data: { limit: LIMITS.maxBatch } } });
  const full = await postJson(Array.from({ length: LIMITS.maxBatch }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'chain_status' })));
  t.same(full.body.map((x: { id: number }) => x.id), [0, 1, 2, 3, 4], 'a batch at the limit is answered in full, in order');
  await stillWorks(t);
});

t.test('huge numbers, wrong types, deep nesting and wide objects', async (t) => {
  for (const height of ['1e400', '18446744073709551616', '9007199254740992', '1.5', '-0.5', '"1"', 'true', '[]', '{}']) {
    const r = await postJson(`{"jsonrpc":"2.0","id":1,"method":"chain_getBlock","params":{"height":${height}}}`);
    t.match(r.body, { id: 1, error: { code: C.invalid_params, data: { issues: [{ path: 'height' }] } } }, `height ${height}`);
  }
  const hugeId = await postJson('{"jsonrpc":"2.0","id":1e400,"method":"chain_status"}');
  t.match(hugeId.body, { id: null, error: { code: C.invalid_request } }, 'an id that is not a finite number is refused');
  const wrongTx = await postJson({ jsonrpc: '2.0', id: 1, method: 'tx_broadcast', params: { tx: 123 } });
  t.match(wrongTx.body.error, { code: C.invalid_params, data: { issues: [{ path: 'tx', message: /expected string/ }] } });

  // Deep nesting within the body limit, as a param, as a request and as the id.
  const depth = 100_000;
  const deep = '['.repeat(depth) + ']'.repeat(depth);
  const asParam = await postJson(`{"jsonrpc":"2.0","id":1,"method":"chain_getBlock","params":{"height":${deep}}}`);
  t.match(asParam.body.error, { code: C.invalid_params, data: { issues: [{ path: 'height' }] } });
  const asBatch = await postJson(`[${deep}]`);
  t.match(asBatch.body, [{ id: null, error: { code: C.invalid_request } }]);
  const asId = await postJson(`{"jsonrpc":"2.0","id":${deep},"method":"chain_status"}`);
  t.match(asId.body, { id: null, error: { code: C.invalid_request } });
  const deepObject = '{"a":'.repeat(40_000) + '1' + '}'.repeat(40_000);
  const asUnknown = await postJson(`{"jsonrpc":"2.0","id":1,"method":"chain_status","params":{"x":${deepObject}}}`);
  t.same(asUnknown.body.error.data.issues, [{ path: 'x', message: 'unknown parameter' }]);

  // A wide object: tens of thousands of unknown keys give a bounded list of issues.
  const wide = Object.fromEntries(Array.from({ length: 15_000 }, (_, i) => [`k${i}`, i]));
  const w = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_status', params: wide }));
  t.ok(w.text.length < 4096, `the answer stays small (${w.text.length} bytes)`);
  const issues = JSON.parse(w.text).error.data.issues;
  t.equal(issues.length, MAX_ISSUES + 1);
  t.same(issues.at(-1), { path: 'params', message: `and ${15_000 - MAX_ISSUES} more issues` });
  await stillWorks(t);
});

t.test('internal errors are logged, and the client sees no detail', async (t) => {
  warnings.length = 0;
  const r = await post(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'test_throw' }));
  t.same(JSON.parse(r.text), { jsonrpc: '2.0', id: 9, error: { code: C.internal_error, message: 'internal error' } });
  t.notMatch(r.text, /secret|stack|\/home/, 'no message or stack reaches the client');
  t.equal(warnings.length, 1);
  t.match(warnings[0], { msg: 'rpc: internal error', fields: { method: 'test_throw', error: { message: 'secret detail at /home/validator/keys', stack: /^Error: secret detail[^]*\n\s+at / } } });
  const big = await postJson({ jsonrpc: '2.0', id: 10, method: 'test_bigint' });
  t.match(big.body, { id: 10, error: { code: C.internal_error } }, 'a result JSON cannot hold is an internal error');
  await stillWorks(t);
});

t.test('body over maxBodyBytes: 413 without reading the rest', async (t) => {
  // Declared too large: refused from the headers alone.
  const declared = await new Promise<{ status: number; text: string; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = request(server.url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': String(10 * LIMITS.maxBodyBytes) } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.write('['); // a first byte, and then never the rest
  });
  t.equal(declared.status, 413);
  t.equal(declared.headers.connection, 'close');
  t.same(JSON.parse(declared.text), {
    jsonrpc: '2.0', id: null,
    error: { code: C.request_too_large, message: `request body of "${10 * LIMITS.maxBodyBytes}" bytes exceeds the limit of ${LIMITS.maxBodyBytes}`, data: { limit_bytes: LIMITS.maxBodyBytes } },
  });

  // Chunked, growing past the limit: answered once the limit is crossed, while the client is still
  // sending; the server closes the connection instead of reading on.
  const chunk = Buffer.alloc(16 * 1024, 0x20);
  const streamed = await new Promise<{ status: number; text: string; sent: number }>((resolve, reject) => {
    let sent = 0;
    let done = false;
    const req = request(server.url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        done = true;
        resolve({ status: res.statusCode!, text, sent });
      });
    });
    req.on('error', (err) => { if (!done) reject(err); });
    const pump = () => {
      // Never ends on its own: only the server's answer stops it.
      while (!done && sent < 100 * LIMITS.maxBodyBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
    };
    pump();
  });
  t.equal(streamed.status, 413);
  t.match(JSON.parse(streamed.text), { id: null, error: { code: C.request_too_large, data: { limit_bytes: LIMITS.maxBodyBytes } } });
  t.ok(streamed.sent < 100 * LIMITS.maxBodyBytes, `answered before the client finished (${streamed.sent} bytes sent)`);

  // Exactly at the limit is accepted (and here is a parse error, being spaces and a brace).
  const atLimit = await post('{' + ' '.repeat(LIMITS.maxBodyBytes - 1));
  t.equal(atLimit.status, 200);
  t.equal(JSON.parse(atLimit.text).error.code, C.parse_error);
  await stillWorks(t);
});

t.test('HTTP methods, paths and Content-Type', async (t) => {
  const get = await httpRequest(server.url, { method: 'GET', headers: {} });
  t.equal(get.status, 200);
  t.match(get.text, /POST .*application\/json/);
  const put = await httpRequest(server.url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
  t.equal(put.status, 405);
  t.equal(put.headers.allow, 'POST, GET');
  const path = await httpRequest(new URL('/rpc', server.url).href, { body: '{}' });
  t.equal(path.status, 404);
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_status' });
  const text = await post(body, { 'content-type': 'text/plain' });
  t.equal(text.status, 415);
  t.match(JSON.parse(text.text), { id: null, error: { code: C.invalid_request, message: /Content-Type must be application\/json, got "text\/plain"/ } });
  const none = await post(body, {});
  t.equal(none.status, 415);
  const charset = await post(body, { 'content-type': 'Application/JSON; charset=utf-8' });
  t.equal(charset.status, 200, 'parameters and case are fine');
  t.equal(JSON.parse(charset.text).result.chain_id, node.query.chainId);
  await stillWorks(t);
});

t.test('a call over timeoutMs gets an error; its slot frees when it settles', async (t) => {
  gate.close();
  const r = await postJson({ jsonrpc: '2.0', id: 't', method: 'test_block' });
  t.same(r.body, { jsonrpc: '2.0', id: 't', error: { code: C.request_timeout, message: `test_block did not finish within ${LIMITS.timeoutMs} ms`, data: { timeout_ms: LIMITS.timeoutMs } } });
  // Within a batch each call times out on its own; the others answer.
  const batch = await postJson([{ jsonrpc: '2.0', id: 1, method: 'test_block' }, { jsonrpc: '2.0', id: 2, method: 'chain_status' }]);
  t.match(batch.body, [{ id: 1, error: { code: C.request_timeout } }, { id: 2, result: { chain_id: node.query.chainId } }]);
  gate.open();
  await stillWorks(t);
});

t.test('over maxConcurrent: 503 and -32003 at once; the held requests still finish', async (t) => {
  gate.close();
  const held = Array.from({ length: LIMITS.maxConcurrent }, (_, i) => postJson({ jsonrpc: '2.0', id: i, method: 'test_block' }));
  for (let i = 0; i < 10_000 && gate.started < LIMITS.maxConcurrent; i++) await new Promise((r) => setImmediate(r));
  t.equal(gate.started, LIMITS.maxConcurrent, 'the held requests are all in their handlers');
  // A burst well beyond the limit: every one is refused, none waits for the gate.
  const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => post(JSON.stringify({ jsonrpc: '2.0', id: 100 + i, method: 'chain_status' }))));
  t.same([...new Set(burst.map((r) => r.status))], [503], 'all refused with 503');
  t.same(JSON.parse(burst[0]!.text), { jsonrpc: '2.0', id: null, error: { code: C.server_busy, message: `server busy: ${LIMITS.maxConcurrent} requests in flight (the limit is ${LIMITS.maxConcurrent}); retry later` } });
  t.equal(burst[0]!.headers['retry-after'], '1');
  gate.open();
  const results = await Promise.all(held);
  t.same(results.map((r) => r.body.result), Array(LIMITS.maxConcurrent).fill({ ok: true }), 'the held requests answer once released');
  await stillWorks(t);
});
