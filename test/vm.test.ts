import t, { type Test } from 'tap';
import { addressOf } from '../chain/address.ts';
import { sha256 } from '../chain/hash.ts';
import { TxStatus } from '../chain/receipt.ts';
import { MAX_METHOD_LENGTH } from '../chain/tx.ts';
import { contractAddress } from '../execution/contracts.ts';
import { prepareCode } from '../vm/code.ts';
import { EXPORT_GAS, HOST_MODULE, IMPORT_REFUEL } from '../vm/host-abi.ts';
import { GAS, LIMITS, MAX_CALL_DEPTH } from '../vm/limits.ts';
import { runCall, type CallResult } from '../vm/runtime.ts';
import { ModuleError, Reader } from '../vm/wasm.ts';
import { OP, readInstruction } from '../vm/wasm-instructions.ts';
import { addr, compile, MemoryEnv, wat } from './fixtures/vm.ts';
import { ACCOUNTS, twoChains } from './fixtures/contract-chain.ts';
import { FORWARDER, RELAY, STORE, TABLE } from './fixtures/vm-contracts.ts';

const BLOCK = { chainId: 'hallmark-test', height: 42, time: 1_700_000_000_000, origin: addr(9) };
const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);

function call(env: MemoryEnv, at: Uint8Array, method: string, input = new Uint8Array(0), gasLimit = 50_000_000): Promise<CallResult> {
  const contract = env.contracts.get(Buffer.from(at).toString('hex'))!;
  return runCall(env, BLOCK, { contract, address: at, method, input, caller: addr(7), value: 0n, gasLimit });
}

function refused(t: Test, bytes: Uint8Array, reason: RegExp, what: string): void {
  try {
    prepareCode(bytes);
    t.fail(`${what}: accepted`);
  } catch (err) {
    t.ok(err instanceof ModuleError && reason.test(err.message), `${what}: ${(err as Error).message}`);
  }
}

const MEM = '(memory (export "memory") 1 1)';

t.test('deploy validation refuses what is not on the allow-list, each with its reason', async (t) => {
  refused(t, new Uint8Array([1, 2, 3]), /bad magic|not a WebAssembly/, 'garbage');
  refused(t, STORE.subarray(0, STORE.length - 7), /past|end|disagree/, 'truncated module');
  refused(t, wat(`(module ${MEM} (func (export "f") (drop (f32.add (f32.const 1) (f32.const 2)))))`), /float/, 'a float instruction');
  refused(t, wat(`(module ${MEM} (func (export "f") (param f64)))`), /f64.*floats/, 'a float parameter');
  refused(t, wat(`(module ${MEM} (func (export "f") (local f32)))`), /f32.*floats/, 'a float local');
  refused(t, wat(`(module ${MEM} (global f64 (f64.const 0)))`), /floats/, 'a float global');
  refused(t, wat(`(module ${MEM} (func (drop (i32.trunc_sat_f32_s (f32.const 1)))))`, { sat_float_to_int: true }), /float/, 'saturating truncation');
  refused(t, wat(`(module ${MEM} (func (drop (v128.const i32x4 0 0 0 0))))`, { simd: true }), /SIMD|v128/, 'SIMD');
  refused(t, wat(`(module (memory (export "memory") 1 1 shared))`, { threads: true }), /shared memory/, 'shared memory');
  refused(t, wat(`(module ${MEM} (func (drop (i32.atomic.load (i32.const 0)))))`, { threads: true }), /atomics/, 'atomics');
  refused(t, wat(`(module ${MEM} (func $f (return_call $f)))`, { tail_call: true }), /tail calls/, 'tail calls');
  refused(t, wat(`(module (memory (export "memory") i64 1 1))`, { memory64: true }), /memory64/, 'memory64');
  refused(t, wat(`(module ${MEM} (memory 1 1))`, { multi_memory: true }), /multi-memory/, 'two memories');
  refused(t, wat(`(module ${MEM} (func (result i32 i32) (i32.const 1) (i32.const 2)))`), /multi-value/, 'two results');
  refused(t, wat(`(module (import "env" "abort" (func)) ${MEM})`), /env\.abort is not a host function/, 'an unknown import');
  refused(t, wat(`(module (import "hallmark" "input_size" (func (result i64))) ${MEM})`), /wrong signature/, 'a host function with the wrong signature');
  refused(t, wat(`(module (import "hallmark" "mem" (memory 1)))`), /only functions may be imported/, 'an imported memory');
  refused(t, wat(`(module (memory (export "memory") 1))`), /no declared maximum/, 'memory without a maximum');
  refused(t, wat(`(module (memory (export "memory") 1 ${LIMITS.maxMemoryPages + 1}))`), /over the cap/, 'memory above the cap');
  refused(t, wat(`(module (memory 1 1))`), /exported as "memory"/, 'memory not exported');
  refused(t, wat(`(module ${MEM} (func (export "__hallmark_gas")))`), /reserved/, 'a reserved export name');
  refused(t, wat(`(module ${MEM} (func ${'(local i64)'.repeat(LIMITS.maxLocals + 1)}))`), /locals/, 'too many locals');
  refused(t, wat(`(module ${MEM} ${'(global i32 (i32.const 0))'.repeat(LIMITS.maxGlobals + 1)})`), /too many globals/, 'too many globals');
  refused(t, wat(`(module ${MEM} (data (i32.const 65530) "0123456789"))`), /does not fit/, 'a data segment past memory');
  refused(t, wat(`(module ${MEM} (func (export "init") (param i32)))`), /init must be a function with no parameters/, 'an init with parameters');
  const withInit = prepareCode(wat(`(module ${MEM} (func (export "init")) (func (export "m")))`));
  t.same([withInit.methods, withInit.hasInit], [['m'], true], 'init runs at deploy and is never a callable method');
  const big = new Uint8Array(10 * 1024 * 1024);
  big.set(STORE);
  refused(t, big, /over the limit/, 'a 10 MB module');
  // Modules the node could store but never load again: every later call's block failed to apply.
  const calls = wat(`(module ${MEM} (func $g) ${`(func ${'(call $g)'.repeat(8000)})`.repeat(8)})`);
  t.ok(calls.length < LIMITS.maxCodeBytes, `a ${calls.length}-byte module of calls is under the module cap`);
  refused(t, calls, new RegExp(`instruments to \\d+ bytes, over the limit of ${LIMITS.maxInstrumentedBytes}`), 'code that instruments past the stored-code cap');
  const method = (n: number) => wat(`(module ${MEM} (func (export "${'m'.repeat(n)}")))`);
  refused(t, method(MAX_METHOD_LENGTH + 1), new RegExp(`over the ${MAX_METHOD_LENGTH} a call may name`), 'a method no call can name');
  t.same(prepareCode(method(MAX_METHOD_LENGTH)).methods, ['m'.repeat(MAX_METHOD_LENGTH)], 'the longest name a call can name is a method');
  const code = prepareCode(STORE);
  t.same(code.methods, ['boom', 'div0', 'echo', 'fail', 'fill', 'flood', 'grow', 'increment', 'keys', 'oob', 'recurse', 'spin', 'sum', 'whoami', 'bad_pointer'].sort(),
    'methods are the () -> () exports not starting with _');
  t.same(prepareCode(STORE).instrumented, code.instrumented, 'instrumentation is deterministic');
  t.ok(WebAssembly.validate(code.instrumented), 'the instrumented module validates');
});

t.test('every refuel branch, and nothing else, is hinted unlikely; calls and the table are renumbered', async (t) => {
  const bytes = prepareCode(TABLE).instrumented;
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes));
  const refuel = imports.findIndex((i) => i.module === HOST_MODULE && i.name === IMPORT_REFUEL);
  t.equal(refuel, imports.length - 1, 'refuel is the last import');
  // The custom sections, and each function body: where its declaration (locals) and code start.
  const customs: { name: string; r: Reader }[] = [];
  const bodies: { decl: number; code: number; end: number }[] = [];
  const top = new Reader(bytes, 8);
  while (top.pos < top.end) {
    const id = top.byte();
    const end = top.u32() + top.pos;
    const r = new Reader(bytes, top.pos, end);
    if (id === 0) customs.push({ name: r.name(), r });
    if (id === 10) {
      t.same(customs.map((c) => c.name), ['metadata.code.branch_hint'], 'the hints come before the code');
      for (let n = r.u32(); n > 0; n--) {
        const size = r.u32();
        const decl = r.pos;
        for (let groups = r.u32(); groups > 0; groups--) (r.u32(), r.byte());
        bodies.push({ decl, code: r.pos, end: decl + size });
        r.pos = decl + size;
      }
    }
    top.pos = end;
  }
  const { r } = customs[0]!;
  let hinted = 0;
  let wrong = 0;
  let lastFunction = -1;
  for (let n = r.u32(); n > 0; n--) {
    const f = r.u32();
    if (f <= lastFunction) wrong++;
    lastFunction = f;
    for (let k = r.u32(); k > 0; k--) {
      const at = bodies[f - imports.length]!.decl + r.u32();
      const [size, hint] = [r.u32(), r.byte()];
      if (bytes[at] !== OP.if || bytes[at - 1] !== 0x54 /* i64.lt_u */ || size !== 1 || hint !== 0) wrong++;
      hinted++;
    }
  }
  let refuels = 0;
  for (const body of bodies) {
    const ins = new Reader(bytes, body.code, body.end);
    while (ins.pos < body.end) {
      const x = readInstruction(ins);
      if (x.op === OP.call && x.imm === refuel) refuels++;
    }
  }
  t.equal(wrong, 0, 'functions in order, each hint an unlikely i64.lt_u if');
  t.ok(refuels > 10 && hinted === refuels, `${hinted} hints for ${refuels} refuel calls`);
  const run = new MemoryEnv();
  run.deploy(addr(4), TABLE);
  t.same((await call(run, addr(4), 'direct', u32(10))).returnData, u32(55), 'the renumbered module runs: direct calls');
  t.same((await call(run, addr(4), 'table', u32(10))).returnData, u32(55), 'calls through the table');
  t.same((await call(run, addr(4), 'size', u32(7))).returnData, u32(4), 'and a host function through the table');
});

t.test('host functions: storage, events, input and return data, context; reads may suspend (JSPI)', async (t) => {
  for (const async of [false, true]) {
    const env = new MemoryEnv({ async });
    const at = addr(1);
    env.deploy(at, STORE);
    const first = await call(env, at, 'increment');
    const second = await call(env, at, 'increment');
    const third = await call(env, at, 'increment');
    t.ok(first.ok && second.ok, `increment succeeds (async reads: ${async})`);
    t.equal(u64(second.returnData), 2n, 'the count persists between calls');
    t.equal(third.gasUsed, second.gasUsed, 'the same path costs the same gas');
    t.not(first.gasUsed, second.gasUsed, 'a different path (no count yet) costs different gas');
    t.same(second.events[0]!.topics[0], sha256(new TextEncoder().encode('count')), 'event topic');
    t.equal(u64(second.events[0]!.data), 2n, 'event data');
    t.equal(u64(third.returnData), 3n);

    const failed = await call(env, at, 'fail');
    t.equal(failed.failure?.kind, 'revert');
    t.equal(failed.failure?.message, 'no way', 'the revert reason is the contract\'s');
    t.ok(failed.gasUsed > 0 && failed.gasUsed < 1_000_000, 'a revert charges only the gas used');

    const keys = await call(env, at, 'keys');
    t.same(new TextDecoder().decode(keys.returnData.subarray(0, 6)), 'k/ak/b', 'storage_next walks keys in order');
    t.same([...keys.returnData.subarray(6)], [0xff, 1], 'then answers -1; has(k/a) is 1');
    t.equal(env.get(at, 'count'), undefined, 'storage_remove removed the key');

    const who = await call(env, at, 'whoami');
    t.same(who.returnData.subarray(0, 20), addr(7), 'caller');
    t.equal(u64(who.returnData.subarray(20)), 42n, 'block height');
    const echo = await call(env, at, 'echo', new Uint8Array([1, 2, 3]));
    t.same([...echo.returnData], [1, 2, 3], 'input in, return data out');
  }
});

t.test('gas: exact, deterministic per path, checked before it is spent', async (t) => {
  const env = new MemoryEnv();
  const at = addr(1);
  env.deploy(at, STORE);
  const a = await call(env, at, 'sum', u32(100));
  const b = await call(env, at, 'sum', u32(200));
  const c = await call(env, at, 'sum', u32(300));
  t.equal(u64(a.returnData), 5050n);
  t.equal(c.gasUsed - b.gasUsed, b.gasUsed - a.gasUsed, 'each loop iteration costs the same');
  t.equal((b.gasUsed - a.gasUsed) % 100, 0, 'a whole number of gas per iteration');
  const exact = await call(env, at, 'sum', u32(100), a.gasUsed);
  t.ok(exact.ok, 'a call given exactly the gas it uses succeeds');
  const short = await call(env, at, 'sum', u32(100), a.gasUsed - 1);
  t.equal(short.failure?.kind, 'out_of_gas', 'one gas less runs out');
  t.equal(short.gasUsed, a.gasUsed - 1, 'out of gas uses the whole limit');

  const spin = await call(env, at, 'spin', undefined, 5_000_000);
  t.equal(spin.failure?.kind, 'out_of_gas', 'an infinite loop stops at the gas limit');
  t.equal(spin.gasUsed, 5_000_000);
});

t.test('traps are classified by mechanism and cost the whole limit', async (t) => {
  const env = new MemoryEnv();
  const at = addr(1);
  env.deploy(at, STORE);
  const kinds: Record<string, string> = { boom: 'unreachable', oob: 'trap', div0: 'trap', bad_pointer: 'host_error' };
  for (const [method, kind] of Object.entries(kinds)) {
    const r = await call(env, at, method, undefined, 1_000_000);
    t.equal(r.failure?.kind, kind, `${method} is ${kind}`);
    t.equal(r.gasUsed, 1_000_000);
  }
  t.equal((await call(env, at, '_hidden')).failure?.kind, 'no_method', 'an export starting with _ cannot be called');
  t.equal((await call(env, at, 'nope')).failure?.kind, 'no_method');
  t.equal((await call(env, at, EXPORT_GAS)).failure?.kind, 'no_method');
  const stack = await call(env, at, 'recurse', u32(1_000_000), 1_000_000_000);
  t.equal(stack.failure?.kind, 'stack_overflow', 'deep recursion hits the injected stack limit, not V8\'s');
  t.ok((await call(env, at, 'recurse', u32(1000), 1_000_000_000)).ok, 'moderate recursion is fine');
});

t.test('indirect calls: defined and host functions through the table, same gas as direct calls but the index', async (t) => {
  // Each call_indirect costs one more instruction (its index), nothing else: the gas and stack
  // travel the same way.
  const env = new MemoryEnv();
  const at = addr(4);
  env.deploy(at, TABLE);
  const n = 15;
  const direct = await call(env, at, 'direct', u32(n));
  const table = await call(env, at, 'table', u32(n));
  const fib = (k: number): number => (k < 2 ? k : fib(k - 1) + fib(k - 2));
  t.same([direct.returnData, table.returnData], [u32(fib(n)), u32(fib(n))], 'the same result both ways');
  const calls = 2 * fib(n + 1) - 1; // calls of fib(n), the outermost included
  t.equal(table.gasUsed - direct.gasUsed, calls, 'one instruction more per indirect call, nothing else');
  t.same((await call(env, at, 'size', u32(7))).returnData, u32(4), 'a host function called through the table');
  const gas = await call(env, at, 'gas', undefined, 1_000_000);
  const left = u64(gas.returnData);
  t.ok(left > 0n && left < 1_000_000n && BigInt(gas.gasUsed) > 1_000_000n - left, 'gas_left through the table sees the gas charged so far');
  for (const method of ['mismatch', 'empty', 'outside']) {
    const r = await call(env, at, method, undefined, 1_000_000);
    t.same([r.failure?.kind, r.gasUsed], ['trap', 1_000_000], `${method}: a trap that costs the limit`);
  }
  t.ok((await call(env, at, 'direct', u32(3))).ok, 'and the contract still works');
});

t.test('memory: growth is charged per page and capped by the declared maximum', async (t) => {
  const env = new MemoryEnv();
  const at = addr(1);
  env.deploy(at, STORE);
  const grown = await call(env, at, 'grow', undefined, 10_000_000);
  t.ok(grown.ok);
  t.equal(new DataView(grown.returnData.buffer).getUint32(0, true), 4, 'memory stops at its declared maximum');
  t.ok(grown.gasUsed >= 4 * GAS.memoryPage, 'each page asked for was charged, the refused one too');
  t.equal((await call(env, at, 'grow', undefined, 3 * GAS.memoryPage)).failure?.kind, 'out_of_gas', 'a memory bomb runs out of gas');
  const fill = await call(env, at, 'fill', undefined, 1_000_000);
  t.ok(fill.ok && fill.gasUsed >= 65_536 * GAS.bulkByte, 'memory.fill is charged per byte');
  t.equal((await call(env, at, 'fill', undefined, 60_000)).failure?.kind, 'out_of_gas');
  const bomb = wat(`(module (memory (export "memory") 1 ${LIMITS.maxMemoryPages})
    (func (export "bomb") (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))))`);
  env.deploy(addr(2), bomb);
  t.equal((await call(env, addr(2), 'bomb', undefined, 100_000)).failure?.kind, 'out_of_gas');
});

t.test('a module with a start section is refused at deploy, with a reason that points at init', async (t) => {
  const withStart = wat(`(module ${MEM} (global $g (mut i32) (i32.const 0)) (start $s) (func $s (global.set $g (i32.const 1))) (func (export "m")))`);
  refused(t, withStart, /start function \(function 0\).*init/, 'a start section');
  // The same module through a deploy transaction: a receipt with the reason, and no contract.
  const { tx, apply } = await twoChains(t);
  const [deploy] = await apply([tx({ kind: 'deploy', code: withStart, args: new Uint8Array(0) })]);
  t.equal(deploy!.status, TxStatus.invalid_contract);
  t.match(deploy!.error, /start function.*exported init/);
  const [m] = await apply([tx({ kind: 'call', contract: contractAddress(addressOf(ACCOUNTS[0]!.publicKey), 0), method: 'm', args: new Uint8Array(0), value: 0n })]);
  t.match(m!.error, /^no_contract/, 'nothing was deployed');
  t.ok(prepareCode(wat(`(module ${MEM} (func (export "init")) (func (export "m")))`)).hasInit, 'the same setup as init is accepted');
});

t.test('cross-contract calls: return data, all-or-nothing inner state, no re-entry', async (t) => {
  const env = new MemoryEnv({ async: true });
  const store = addr(1);
  const fwd = addr(2);
  env.deploy(store, STORE);
  env.deploy(fwd, FORWARDER);
  const ok = await call(env, fwd, 'poke', store);
  t.ok(ok.ok);
  t.equal(ok.returnData[0], 0, 'the inner call succeeded');
  t.equal(u64(ok.returnData.subarray(1)), 1n, 'its return data came back');
  t.equal(ok.events.length, 1, 'its event is part of the outer result');
  t.same(ok.events[0]!.address, store, 'and names the emitting contract');

  const before = env.get(store, 'count');
  const failed = await call(env, fwd, 'poke_fail', store);
  t.ok(failed.ok, 'the outer call goes on after a failed inner call');
  t.equal(failed.returnData[0], 1, 'the inner call reports failure');
  t.equal(new TextDecoder().decode(failed.returnData.subarray(1)), 'no way', 'with the inner revert reason');
  t.equal(env.get(store, 'count'), before, 'the inner call\'s write was rolled back');
  t.equal(env.get(fwd, 'mark'), 'mark', 'the outer call\'s own write stands');

  const re = await call(env, fwd, 'reenter');
  t.equal(re.returnData[0], 1);
  t.match(new TextDecoder().decode(re.returnData.subarray(1)), /re-entrant call refused/);
});

t.test('the compiled-module cache is bounded and keyed by code hash', async (t) => {
  const { ModuleCache } = await import('../vm/code.ts');
  const cache = new ModuleCache(2);
  const codes = [STORE, FORWARDER, wat(`(module ${MEM})`)].map(prepareCode);
  for (const c of codes) cache.get(c.codeHash, () => c.instrumented, () => c.methods);
  t.equal(cache.size, 2);
  cache.get(codes[2]!.codeHash, () => { throw new Error('should be cached'); }, () => []);
  t.equal(cache.hits, 1);
  t.throws(() => new ModuleCache(0), RangeError);
  const original = wat(`(module ${MEM} (func (export "m")))`);
  t.throws(() => cache.get(sha256(original), () => original, () => ['m']), { code: 'stale_contract_code', message: /before cost table version 3.*replay the chain/ },
    'code not instrumented for slices (stored by an older node) is refused, never run');
  t.equal(cache.peek(sha256(original)), undefined, 'and not cached');
  t.ok(compile(STORE).methods.has('increment'));
});

t.test('cross-contract calls nest at most MAX_CALL_DEPTH deep', async (t) => {
  const env = new MemoryEnv();
  const relays = Array.from({ length: MAX_CALL_DEPTH + 2 }, (_, i) => addr(100 + i));
  for (const r of relays) env.deploy(r, RELAY);
  const chain = (n: number) => Uint8Array.from(relays.slice(1, n).flatMap((a) => [...a]));
  const depth = (r: CallResult) => new DataView(r.returnData.buffer, r.returnData.byteOffset).getUint32(0, true);
  const full = await call(env, relays[0]!, 'relay', chain(MAX_CALL_DEPTH), 1_000_000_000);
  t.ok(full.ok);
  t.equal(depth(full), MAX_CALL_DEPTH, `a chain of ${MAX_CALL_DEPTH} calls completes`);
  const over = await call(env, relays[0]!, 'relay', chain(MAX_CALL_DEPTH + 1), 1_000_000_000);
  t.ok(over.ok, 'one more: the innermost call fails, the callers go on');
  t.equal(depth(over), MAX_CALL_DEPTH, 'the deepest call that ran was the limit');
  t.match(new TextDecoder().decode(over.returnData.subarray(4)), /call depth limit of 16 reached/, 'with the reason');
});

t.test('a reused instance starts every call as a new one would: memory, globals, after growth and after traps', async (t) => {
  const env = new MemoryEnv();
  const at = addr(5);
  env.deploy(at, wat(`(module
    (import "hallmark" "return_data" (func $ret (param i32 i32)))
    (memory (export "memory") 1 4)
    (global $g (mut i32) (i32.const 7))
    (data (i32.const 16) "\\05")
    (func $bump
      (global.set $g (i32.add (global.get $g) (i32.const 1)))
      (i32.store8 (i32.const 16) (i32.add (i32.load8_u (i32.const 16)) (i32.const 1)))
      (i32.store (i32.const 0) (global.get $g))
      (i32.store8 (i32.const 4) (i32.load8_u (i32.const 16))))
    (func (export "bump") (call $bump) (call $ret (i32.const 0) (i32.const 5)))
    (func (export "bump_and_grow") (call $bump) (drop (memory.grow (i32.const 1))) (call $ret (i32.const 0) (i32.const 5)))
    (func (export "bump_and_trap") (call $bump) unreachable))`));
  const seen = async (method: string) => {
    const r = await call(env, at, method);
    return r.ok ? [...r.returnData] : r.failure!.kind;
  };
  const fresh = [8, 0, 0, 0, 6];
  t.same(await seen('bump'), fresh, 'the first call');
  t.same(await seen('bump'), fresh, 'the second sees the global and memory as at instantiation');
  t.same(await seen('bump_and_grow'), fresh);
  t.same(await seen('bump'), fresh, 'after a call that grew memory');
  t.equal(await seen('bump_and_trap'), 'unreachable');
  t.same(await seen('bump'), fresh, 'after a call that trapped');
  const a = await call(env, at, 'bump');
  const b = await call(env, at, 'bump');
  t.equal(a.gasUsed, b.gasUsed);
});

t.test('cost table 3: a call pays for its initial memory, entering a function pays its frame and locals, return data pays per byte', async (t) => {
  const env = new MemoryEnv();
  const at = addr(77);
  env.deploy(at, wat(`(module
    (import "hallmark" "return_data" (func $ret (param i32 i32)))
    (memory (export "memory") 2 2)
    (func $f (local i64 i64 i64))
    (func (export "nop"))
    (func (export "enter") (call $f))
    (func (export "ret") (call $ret (i32.const 0) (i32.const 100))))`));
  const nop = await call(env, at, 'nop', undefined, 10_000_000);
  t.equal(nop.gasUsed, 2 * GAS.memoryPage + GAS.frame, 'two pages of memory and the frame of nop');
  const enter = await call(env, at, 'enter', undefined, 10_000_000);
  t.equal(enter.gasUsed - nop.gasUsed, 1 + GAS.frame + 3 * GAS.local, 'a call instruction, a frame, three locals');
  const ret = await call(env, at, 'ret', undefined, 10_000_000);
  t.equal(ret.returnData.length, 100);
  t.ok(ret.gasUsed - nop.gasUsed >= 100 * GAS.host.returnByte + GAS.host.base, 'return data is paid per byte, with the host call');
  const poor = await call(env, at, 'nop', undefined, 2 * GAS.memoryPage - 1);
  t.equal(poor.failure?.kind, 'out_of_gas', 'a limit that cannot pay for the memory fails before the instance is made');
  t.equal(poor.gasUsed, 2 * GAS.memoryPage - 1, 'and uses its whole limit');
});
