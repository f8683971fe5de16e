/**
 * Cooperative yields: a call runs its gas in slices of `yieldInterval` and lets the event loop run
 * between them. What a call does (gas, results, traps, events, storage) must not depend on the
 * interval, other calls must be able to run while one waits for its next slice, and the event
 * loop must actually get its turns.
 */
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { buildContracts } from '../contracts/build.ts';
import { encodeValues, type AbiValue } from '../vm/abi.ts';
import { GAS, LIMITS } from '../vm/limits.ts';
import { DEFAULT_YIELD_INTERVAL, runCall, type CallResult } from '../vm/runtime.ts';
import { addr, MemoryEnv, wat } from './fixtures/vm.ts';
import { FORWARDER, RELAY, STORE, TABLE } from './fixtures/vm-contracts.ts';

const BLOCK = { chainId: 'hallmark-test', height: 42, time: 1_700_000_000_000, origin: addr(9) };
const NEVER = Number.MAX_SAFE_INTEGER;
const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface Step {
  at: Uint8Array;
  method: string;
  input?: Uint8Array;
  gas?: number;
  caller?: Uint8Array;
  init?: boolean;
}

function call(env: MemoryEnv, s: Step, yieldInterval: number): Promise<CallResult> {
  const contract = env.contracts.get(hex(s.at))!;
  return runCall(env, BLOCK, {
    contract, address: s.at, method: s.method, input: s.input ?? new Uint8Array(0), caller: s.caller ?? addr(7), value: 0n,
    gasLimit: s.gas ?? 50_000_000, ...(s.init === true && { initializing: true }),
  }, { yieldInterval });
}

/** Everything a call did that a receipt or the state could show. */
function seen(r: CallResult) {
  return {
    ok: r.ok, gasUsed: r.gasUsed, returnData: hex(r.returnData), failure: r.failure,
    events: r.events.map((e) => [hex(e.address), ...e.topics.map(hex), hex(e.data)]),
  };
}

/** Runs `steps` one after another on a fresh env; every outcome, then the storage at the end. */
async function play(deploy: (env: MemoryEnv) => void, steps: Step[], yieldInterval: number, async: boolean) {
  const env = new MemoryEnv({ async });
  deploy(env);
  const outcomes = [];
  for (const s of steps) outcomes.push(seen(await call(env, s, yieldInterval)));
  return { outcomes, storage: [...env.storage.entries()].map(([k, v]) => [k, hex(v)]).sort() };
}

/** Counts turns of the event loop until stopped. */
function turnCounter() {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return { stop: () => ((running = false), turns) };
}

t.test('the yield interval must be a positive integer of gas', async (t) => {
  const env = new MemoryEnv();
  env.deploy(addr(1), STORE);
  for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
    t.throws(() => call(env, { at: addr(1), method: 'increment' }, bad), { name: 'RangeError', message: /yieldInterval must be a positive integer/ }, `${bad}`);
  }
  t.ok(DEFAULT_YIELD_INTERVAL >= 100_000, 'the default leaves ordinary calls a single slice');
});

t.test('gas, results, traps, events and storage are the same whatever the yield interval', async (t) => {
  const [store, fwd, table, bomb] = [addr(1), addr(2), addr(4), addr(5)];
  const relays = Array.from({ length: 18 }, (_, i) => addr(100 + i));
  const deploy = (env: MemoryEnv) => {
    env.deploy(store, STORE);
    env.deploy(fwd, FORWARDER);
    env.deploy(table, TABLE);
    env.deploy(bomb, wat(`(module (memory (export "memory") 1 ${LIMITS.maxMemoryPages})
      (func (export "bomb") (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))))`));
    for (const r of relays) env.deploy(r, RELAY);
  };
  const sum100: Step = { at: store, method: 'sum', input: u32(100) };
  const probe = new MemoryEnv();
  deploy(probe);
  const need = (await call(probe, sum100, NEVER)).gasUsed;
  const steps: Step[] = [
    { at: store, method: 'increment' }, { at: store, method: 'increment' }, { at: store, method: 'fail' },
    { at: store, method: 'keys' }, { at: store, method: 'whoami' }, { at: store, method: 'echo', input: Uint8Array.of(1, 2, 3) },
    { at: store, method: 'sum', input: u32(100) }, { at: store, method: 'sum', input: u32(5000) },
    // Each exactly at, and one gas under, what it needs: the trap point does not move.
    { ...sum100, gas: need }, { ...sum100, gas: need - 1 },
    { at: store, method: 'spin', gas: GAS.memoryPage + 30_000 }, { at: store, method: 'recurse', input: u32(1000), gas: 10 ** 9 },
    { at: store, method: 'recurse', input: u32(1_000_000), gas: 10 ** 9 }, { at: store, method: 'grow', gas: 10_000_000 },
    { at: store, method: 'grow', gas: 3 * GAS.memoryPage }, { at: store, method: 'fill' }, { at: store, method: 'fill', gas: GAS.memoryPage + 60_000 },
    { at: store, method: 'flood', gas: 300_000 }, { at: store, method: 'oob' }, { at: store, method: 'boom' },
    { at: store, method: 'div0' }, { at: store, method: 'bad_pointer' }, { at: store, method: '_hidden' },
    { at: bomb, method: 'bomb', gas: 100_000 },
    { at: table, method: 'direct', input: u32(12) }, { at: table, method: 'table', input: u32(12) },
    { at: table, method: 'size', input: u32(7) }, { at: table, method: 'gas', gas: 50_000 }, { at: table, method: 'mismatch', gas: 30_000 },
    // Cross-contract: the forwarded gas comes out of the reserve, the slice, or both.
    { at: fwd, method: 'poke', input: store }, { at: fwd, method: 'poke', input: store, gas: 40_000 },
    { at: fwd, method: 'poke_fail', input: store }, { at: fwd, method: 'reenter' },
    { at: relays[0]!, method: 'relay', input: Uint8Array.from(relays.slice(1).flatMap((a) => [...a])), gas: 10 ** 9 },
  ];
  // Cross-contract calls suspend (JSPI) and take a turn of the event loop even in one slice.
  const single = turnCounter();
  const reference = await play(deploy, steps, NEVER, false);
  const singleTurns = single.stop();
  t.same(reference.outcomes[8]!.ok, true, `sum(100) fits in the ${need} gas it uses`);
  t.same(reference.outcomes[9]!.failure?.kind, 'out_of_gas', 'and not in one less');
  for (const interval of [1, 2, 7, 1000, 50_000]) {
    const turns = turnCounter();
    const run = await play(deploy, steps, interval, false);
    const yielded = turns.stop();
    t.same(run.outcomes, reference.outcomes, `interval ${interval}: every call as with a single slice`);
    t.same(run.storage, reference.storage, `interval ${interval}: the same storage`);
    t.ok(yielded > singleTurns, `interval ${interval}: the event loop ran ${yielded} times during the calls, ${singleTurns} with one slice`);
  }
  t.same(await play(deploy, steps, 3, true), reference, 'interval 3 with storage reads that suspend: the same');
});

t.test('the example contracts behave the same whatever the yield interval', async (t) => {
  const built = await buildContracts();
  const [counter, token, escrow] = [addr(1), addr(2), addr(3)];
  const [alice, bob, carol] = [addr(7), addr(8), addr(10)];
  const args = (...v: AbiValue[]) => encodeValues(v);
  const u64 = (n: number): AbiValue => ({ type: 'u64', value: BigInt(n) });
  const to = (a: Uint8Array): AbiValue => ({ type: 'address', value: a });
  const deploy = (env: MemoryEnv) => {
    env.deploy(counter, built.counter);
    env.deploy(token, built.token);
    env.deploy(escrow, built.escrow);
  };
  const steps: Step[] = [
    { at: token, method: 'init', init: true, caller: alice, input: args({ type: 'string', value: 'Hallmark' }, { type: 'string', value: 'HMK' }, u64(1_000_000)) },
    { at: escrow, method: 'init', init: true, caller: alice, input: args(to(token)) },
    { at: counter, method: 'increment' }, { at: counter, method: 'increment', input: args(u64(41)) }, { at: counter, method: 'get' },
    { at: counter, method: 'increment', input: args({ type: 'string', value: 'x' }) },
    { at: token, method: 'transfer', caller: alice, input: args(to(bob), u64(250)) },
    { at: token, method: 'transfer', caller: alice, input: args(to(carol), u64(2_000_000)) },
    { at: escrow, method: 'deposit', caller: bob, input: args(u64(100), to(carol)) },
    { at: token, method: 'approve', caller: bob, input: args(to(escrow), u64(100)) },
    { at: escrow, method: 'deposit', caller: bob, input: args(u64(100), to(carol)) },
    { at: escrow, method: 'release', caller: carol, input: args(u64(0)) },
    { at: escrow, method: 'release', caller: bob, input: args(u64(0)) },
    { at: token, method: 'balance_of', input: args(to(carol)) }, { at: escrow, method: 'get', input: args(u64(0)) },
    { at: token, method: 'transfer', caller: alice, input: args(to(bob), u64(1)), gas: 3_000 },
  ];
  const reference = await play(deploy, steps, NEVER, true);
  t.ok(reference.outcomes.slice(0, 5).every((o) => o.ok), 'deploys and counter calls succeed');
  t.same(reference.outcomes[8]!.failure?.kind, 'revert', 'a deposit without allowance reverts (the inner call failed)');
  t.ok(reference.outcomes[10]!.ok && reference.outcomes[12]!.ok, 'deposit (a cross-contract call) and release succeed');
  t.same(reference.outcomes[15]!.failure?.kind, 'out_of_gas');
  for (const interval of [1, 64, 5000]) {
    t.same(await play(deploy, steps, interval, true), reference, `interval ${interval}: the same outcomes and storage`);
  }
});

t.test('a long call lets timers, immediates and an HTTP request run before it ends', async (t) => {
  const env = new MemoryEnv();
  env.deploy(addr(1), STORE);
  const spin = (gas: number, interval: number) => call(env, { at: addr(1), method: 'spin', gas }, interval);

  // One slice: the call runs to its end before anything else (what the issue saw, 29.6 s long).
  const single: string[] = [];
  setImmediate(() => single.push('immediate'));
  const whole = spin(2_000_000, NEVER).then(() => single.push('call'));
  await whole;
  await new Promise((resolve) => setImmediate(resolve));
  t.same(single, ['call', 'immediate'], 'with a single slice the immediate waits for the call');

  const server = createServer((_, res) => res.end('pong'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const order: string[] = [];
  setImmediate(() => order.push('immediate'));
  setTimeout(() => order.push('timeout'), 0);
  // 200M gas in slices of 100k: 2,000 turns of the event loop for a loopback request's few.
  const long = spin(200_000_000, 100_000).then((r) => {
    order.push('call');
    return r;
  });
  const answered = new Promise<string>((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        order.push('http');
        resolve(body);
      });
    }).on('error', reject);
  });
  const [r, body] = await Promise.all([long, answered]);
  t.equal(body, 'pong');
  t.same([r.failure?.kind, r.gasUsed], ['out_of_gas', 200_000_000], 'the call still ran out of gas at its limit');
  t.same(order.slice().sort(), ['call', 'http', 'immediate', 'timeout']);
  t.equal(order[order.length - 1], 'call', `the timer, the immediate and the HTTP answer came first: ${order.join(', ')}`);
});

t.test('while a call waits for its next slice, other calls of the same and other contracts run, each with its own gas', async (t) => {
  const [store, fwd] = [addr(1), addr(2)];
  const deploy = (env: MemoryEnv) => {
    env.deploy(store, STORE);
    env.deploy(fwd, FORWARDER);
  };
  const longA: Step = { at: store, method: 'sum', input: u32(300_000), gas: 10 ** 8 };
  const longB: Step = { at: store, method: 'sum', input: u32(200_000), gas: 10 ** 8 };
  const short: Step[] = [{ at: store, method: 'increment' }, { at: fwd, method: 'poke', input: store }, { at: store, method: 'keys' }];
  const after: Step = { at: store, method: 'sum', input: u32(1000) };
  // Alone, one after another.
  const alone = new MemoryEnv();
  deploy(alone);
  const expected = [];
  for (const s of [longA, longB, ...short, after]) expected.push(seen(await call(alone, s, NEVER)));

  const env = new MemoryEnv();
  deploy(env);
  const ended: string[] = [];
  const a = call(env, longA, 10_000).then((r) => (ended.push('A'), r));
  const b = call(env, longB, 7_000).then((r) => (ended.push('B'), r));
  const others = [];
  for (const s of short) others.push(seen(await call(env, s, 10_000)));
  ended.push('short calls');
  const [ra, rb] = await Promise.all([a, b]);
  t.equal(ended[0], 'short calls', 'the short calls (one through a cross-contract call) ran while both long calls waited');
  t.same([seen(ra), seen(rb)], expected.slice(0, 2), 'two interleaved calls of one contract: each its own result and gas');
  t.same(others, expected.slice(2, 5), 'and the calls in between saw and did what they do alone');
  t.same(seen(await call(env, after, 10_000)), expected[5], 'the pooled instances are still sound');
});
