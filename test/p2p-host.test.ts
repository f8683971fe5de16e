/**
 * p2p/identity.ts and p2p/host.ts with real parts: libp2p over loopback TCP (port 0) with Noise
 * and Yamux, node keys in temporary directories.
 */
import t, { type Test } from 'tap';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { utf8 } from '../chain/bytes.ts';
import { createHost, handleMessages, P2PError, request, type Host } from '../p2p/host.ts';
import { loadOrCreateNodeKey, NODE_KEY_FILE, NodeKeyError, nodeKeyFromSeed } from '../p2p/identity.ts';

const PROTOCOL = '/hallmark/test/1.0.0';
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function startHost(t: Test, seedByte: number, opts: { maxConnections?: number } = {}): Promise<Host> {
  const key = await nodeKeyFromSeed(new Uint8Array(32).fill(seedByte));
  const host = await createHost({ privateKey: key.privateKey, listen: '/ip4/127.0.0.1/tcp/0', ...opts });
  t.teardown(() => host.close());
  return host;
}

t.test('two hosts exchange a request and a response over TCP, Noise and Yamux', async (t) => {
  const a = await startHost(t, 1);
  const b = await startHost(t, 2);
  t.not(a.peerId, b.peerId);
  t.ok(b.multiaddrs.length > 0, 'b listens');
  const addr = b.multiaddrs[0]!;
  t.match(addr.toString(), /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//, 'a loopback TCP address');
  t.not(addr.toString(), /\/tcp\/0\//, 'port 0 was replaced by the bound port');
  t.ok(addr.toString().endsWith(`/p2p/${b.peerId}`), 'the address names the peer');

  const seen: { peer: string; msg: string }[] = [];
  await handleMessages(b, PROTOCOL, { maxMessageBytes: 1024 }, (peer, msg) => {
    seen.push({ peer, msg: text(msg) });
    return utf8(`echo:${text(msg)}`);
  });
  const res = await request(a, addr, PROTOCOL, utf8('hello'), { maxMessageBytes: 1024 });
  t.equal(text(res), 'echo:hello');
  t.same(seen, [{ peer: a.peerId, msg: 'hello' }], 'the responder sees the requester\'s peer id');

  // A second request on the same connection, and one sent as a string address.
  t.equal(text(await request(a, addr.toString(), PROTOCOL, utf8('again'), { maxMessageBytes: 1024 })), 'echo:again');
  t.equal(a.libp2p.getConnections(b.libp2p.peerId).length, 1, 'one connection reused');
  const conn = a.libp2p.getConnections(b.libp2p.peerId)[0]!;
  t.equal(conn.encryption, '/noise');
  t.equal(conn.multiplexer, '/yamux/1.0.0');

  const rtt = await a.libp2p.services.ping.ping(addr);
  t.type(rtt, 'number', 'ping answers');

  // A protocol the peer does not speak fails with a typed error.
  const err = await request(a, addr, '/hallmark/none/1.0.0', utf8('x'), { maxMessageBytes: 1024 }).catch((e: unknown) => e);
  t.type(err, P2PError);
  t.equal((err as P2PError).code, 'request_failed');
});

t.test('an oversized request is refused from its length prefix; the host keeps working', async (t) => {
  const a = await startHost(t, 3);
  const b = await startHost(t, 4);
  const addr = b.multiaddrs[0]!;
  const seen: number[] = [];
  await handleMessages(b, PROTOCOL, { maxMessageBytes: 1024 }, (_peer, msg) => {
    seen.push(msg.byteLength);
    return utf8('ok');
  });

  // The requester allows bigger messages than the responder, so the responder must refuse it.
  const big = new Uint8Array(1025).fill(7);
  const err = await request(a, addr, PROTOCOL, big, { maxMessageBytes: 1 << 20 }).catch((e: unknown) => e);
  t.type(err, P2PError, 'the requester sees an error');
  t.equal((err as P2PError).code, 'request_failed');
  t.same(seen, [], 'the handler never saw the oversized message');

  // Exactly the limit is accepted, and later requests still work on the same hosts.
  t.equal(text(await request(a, addr, PROTOCOL, new Uint8Array(1024), { maxMessageBytes: 1 << 20 })), 'ok');
  t.equal(text(await request(a, addr, PROTOCOL, utf8('small'), { maxMessageBytes: 1024 })), 'ok');
  t.same(seen, [1024, 5]);

  // The requester refuses to send past its own limit, without touching the network.
  const local = await request(a, addr, PROTOCOL, big, { maxMessageBytes: 1024 }).catch((e: unknown) => e);
  t.equal((local as P2PError).code, 'message_too_large');
  t.same(seen, [1024, 5]);
});

t.test('an oversized response is refused by the requester', async (t) => {
  const a = await startHost(t, 5);
  const b = await startHost(t, 6);
  const addr = b.multiaddrs[0]!;
  await handleMessages(b, PROTOCOL, { maxMessageBytes: 1024 }, () => new Uint8Array(100));
  const err = await request(a, addr, PROTOCOL, utf8('q'), { maxMessageBytes: 64 }).catch((e: unknown) => e);
  t.equal((err as P2PError).code, 'request_failed');
  t.match((err as Error).message, /too long|length/i, 'the error says the message was too long');
  t.equal((await request(a, addr, PROTOCOL, utf8('q'), { maxMessageBytes: 1024 })).byteLength, 100);
});

t.test('malformed input and a failing handler cost a stream, not the host', async (t) => {
  const a = await startHost(t, 7);
  const b = await startHost(t, 8);
  const addr = b.multiaddrs[0]!;
  let calls = 0;
  const errors: { peer: string; err: Error }[] = [];
  let errorSeen: () => void = () => {};
  const opts = {
    maxMessageBytes: 1024,
    // Long enough that a stream ended by the timeout rather than by the check would stall the test.
    timeoutMs: 600_000,
    onError: (peer: string, err: Error) => { errors.push({ peer, err }); errorSeen(); },
  };
  const nextError = () => new Promise<void>((resolve) => { errorSeen = resolve; });
  await handleMessages(b, PROTOCOL, opts, (_peer, msg) => {
    calls++;
    if (text(msg) === 'throw') throw new Error('handler failed');
    if (text(msg) === 'silent') return undefined;
    return utf8('ok');
  });

  // A length prefix of endless continuation bytes: refused once it is longer than 1024 needs (2 bytes).
  let seen = nextError();
  const raw = await a.libp2p.dialProtocol(addr, PROTOCOL);
  const closed = new Promise<void>((resolve) => raw.addEventListener('close', () => resolve(), { once: true }));
  raw.send(new Uint8Array(64).fill(0xff));
  await seen;
  await closed;
  t.not(raw.status, 'open', 'the responder ended the malformed stream');
  t.equal((errors[0]?.err as P2PError).code, 'message_malformed', 'refused for its length prefix');
  t.equal(errors[0]?.peer, a.peerId, 'the error names the peer');

  // A length larger than allowed, sent as a well-formed 2-byte varint (1025).
  seen = nextError();
  const over = await a.libp2p.dialProtocol(addr, PROTOCOL);
  over.send(Uint8Array.of(0x81, 0x08));
  await seen;
  t.match(errors[1]?.err.message, /Message length too long - 1025 > 1024/);

  // A stream that ends before the message it announced.
  seen = nextError();
  const short = await a.libp2p.dialProtocol(addr, PROTOCOL);
  short.send(Uint8Array.of(10, 1, 2, 3)); // announces 10 bytes, sends 3
  await short.close();
  await seen;
  t.match(errors[2]?.err.message, /Unexpected EOF/);
  t.equal(calls, 0, 'the handler saw none of the malformed messages');

  const thrown = await request(a, addr, PROTOCOL, utf8('throw'), { maxMessageBytes: 1024 }).catch((e: unknown) => e);
  t.equal((thrown as P2PError).code, 'request_failed', 'a handler that throws fails the request');
  t.match(errors[3]?.err.message, /handler failed/);
  const silent = await request(a, addr, PROTOCOL, utf8('silent'), { maxMessageBytes: 1024 }).catch((e: unknown) => e);
  t.equal((silent as P2PError).code, 'request_failed', 'no response is an error for the requester');

  t.equal(text(await request(a, addr, PROTOCOL, utf8('fine'), { maxMessageBytes: 1024 })), 'ok', 'the host still answers');
  t.equal(calls, 3);
  t.equal(errors.length, 4, 'a silent answer is not an error on the responder');
});

t.test('maxConnections refuses inbound connections past the limit; a gater refuses a peer by id', async (t) => {
  const a = await startHost(t, 12);
  const c = await startHost(t, 13);
  const full = await startHost(t, 14, { maxConnections: 1 });
  const fullAddr = full.multiaddrs[0]!;
  await handleMessages(full, PROTOCOL, { maxMessageBytes: 64 }, () => utf8('ok'));
  t.equal(text(await request(a, fullAddr, PROTOCOL, utf8('x'), { maxMessageBytes: 64 })), 'ok', 'the first peer is served');
  const refused = await request(c, fullAddr, PROTOCOL, utf8('x'), { maxMessageBytes: 64 }).catch((e: unknown) => e);
  t.equal((refused as P2PError).code, 'request_failed', 'a second peer is refused');
  t.same(full.libp2p.getConnections().map((x) => x.remotePeer.toString()), [a.peerId], 'only the first peer is connected');
  t.equal(text(await request(a, fullAddr, PROTOCOL, utf8('y'), { maxMessageBytes: 64 })), 'ok', 'the first peer is still served');

  const denied: string[] = [];
  const key = await nodeKeyFromSeed(new Uint8Array(32).fill(15));
  const gated = await createHost({
    privateKey: key.privateKey,
    listen: '/ip4/127.0.0.1/tcp/0',
    connectionGater: {
      denyInboundEncryptedConnection: (peer) => {
        const no = peer.toString() === c.peerId;
        if (no) denied.push(peer.toString());
        return no;
      },
    },
  });
  t.teardown(() => gated.close());
  await handleMessages(gated, PROTOCOL, { maxMessageBytes: 64 }, () => utf8('ok'));
  const gatedErr = await request(c, gated.multiaddrs[0]!, PROTOCOL, utf8('x'), { maxMessageBytes: 64 }).catch((e: unknown) => e);
  t.equal((gatedErr as P2PError).code, 'request_failed', 'the gated peer is refused');
  t.same(denied, [c.peerId], 'refused after Noise proved who it is');
  t.equal(text(await request(a, gated.multiaddrs[0]!, PROTOCOL, utf8('x'), { maxMessageBytes: 64 })), 'ok', 'other peers are served');
});

t.test('the node key persists its peer id across re-creation', async (t) => {
  const dir = t.testdir();
  const path = join(dir, NODE_KEY_FILE);
  const first = await loadOrCreateNodeKey(path);
  t.equal(statSync(path).mode & 0o777, 0o600, 'the key file is private');
  const doc = JSON.parse(readFileSync(path, 'utf8'));
  t.same(Object.keys(doc).sort(), ['peer_id', 'private_key']);
  t.equal(doc.peer_id, first.peerId);
  t.match(first.peerId, /^12D3KooW/, 'an ed25519 peer id');

  const again = await loadOrCreateNodeKey(path);
  t.equal(again.peerId, first.peerId, 'the same peer id when loaded again');
  t.same(again.privateKey.raw, first.privateKey.raw);

  // A host built from the loaded key has that peer id, and a peer sees it.
  const host = await createHost({ privateKey: again.privateKey, listen: '/ip4/127.0.0.1/tcp/0' });
  t.teardown(() => host.close());
  t.equal(host.peerId, first.peerId);
  const other = await startHost(t, 9);
  const seen: string[] = [];
  await handleMessages(other, PROTOCOL, { maxMessageBytes: 64 }, (peer) => { seen.push(peer); return utf8('ok'); });
  await request(host, other.multiaddrs[0]!, PROTOCOL, utf8('hi'), { maxMessageBytes: 64 });
  t.same(seen, [first.peerId]);

  // Different files get different keys.
  const second = await loadOrCreateNodeKey(join(dir, 'other_key.json'));
  t.not(second.peerId, first.peerId);
});

t.test('a malformed node key file is a clear error and is never replaced', async (t) => {
  const dir = t.testdir();
  const valid = await loadOrCreateNodeKey(join(dir, 'valid.json'));
  const validDoc = JSON.parse(readFileSync(join(dir, 'valid.json'), 'utf8'));
  const other = await nodeKeyFromSeed(new Uint8Array(32).fill(1));
  const cases: [string, string, RegExp][] = [
    ['empty', '', /not valid JSON/],
    ['truncated', '{"peer_id": "12D3', /not valid JSON/],
    ['array', '[]', /: \(document\): expected an object, got an array \(fix or remove/],
    ['short key', JSON.stringify({ ...validDoc, private_key: 'abcd' }), /: private_key: expected 64 hex characters \(fix or remove/],
    ['not hex', JSON.stringify({ ...validDoc, private_key: 'zz'.repeat(32) }), /: private_key: expected 64 hex characters/],
    ['missing key', JSON.stringify({ peer_id: valid.peerId }), /: private_key: missing \(required field\)/],
    ['peer id as a number', JSON.stringify({ ...validDoc, peer_id: 12 }), /: peer_id: expected a string, got number 12/],
    ['wrong peer id', JSON.stringify({ ...validDoc, peer_id: other.peerId }), /: peer_id does not belong to private_key/],
    ['extra field', JSON.stringify({ ...validDoc, note: 1 }), /: note: unknown field \(expected one of peer_id, private_key\)/],
    ['misspelt field and a bad key at once', JSON.stringify({ peerid: valid.peerId, private_key: 'ab' }),
      /: peer_id: missing \(required field\); private_key: expected 64 hex characters; peerid: unknown field \(did you mean "peer_id"\?\)/],
  ];
  for (const [name, content, message] of cases) {
    const path = join(dir, `${name.replace(/ /g, '_')}.json`);
    writeFileSync(path, content);
    const err = await loadOrCreateNodeKey(path).catch((e: unknown) => e);
    t.type(err, NodeKeyError, name);
    t.equal((err as NodeKeyError).code, 'node_key_invalid', name);
    t.match((err as Error).message, message, name);
    t.ok((err as Error).message.startsWith(`${path}: `), `${name}: the error names the file`);
    t.equal(readFileSync(path, 'utf8'), content, `${name}: the file is left as it was`);
  }

  const missingDir = await loadOrCreateNodeKey(join(dir, 'no', 'such', 'dir', NODE_KEY_FILE)).catch((e: unknown) => e);
  t.equal((missingDir as NodeKeyError).code, 'node_key_unreadable', 'a missing directory is reported, not created');
});

t.test('createHost checks its options', async (t) => {
  const key = await nodeKeyFromSeed(new Uint8Array(32).fill(10));
  await t.rejects(createHost({ privateKey: key.privateKey, listen: 'not a multiaddr' }), { code: 'host_options_invalid' });
  await t.rejects(createHost({ privateKey: key.privateKey, listen: '/ip4/127.0.0.1/tcp/0', maxConnections: 0 }), { code: 'host_options_invalid' });
  const host = await startHost(t, 11);
  await t.rejects(handleMessages(host, PROTOCOL, { maxMessageBytes: host.maxStreamBufferBytes + 1 }, () => undefined), { code: 'host_options_invalid' });
  await t.rejects(handleMessages(host, PROTOCOL, { maxMessageBytes: 0 }, () => undefined), { code: 'host_options_invalid' });
});
