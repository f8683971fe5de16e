/**
 * The contracts bench/gas.bench.ts spends gas with, written in WAT: one method per kind of work,
 * each a loop whose count and sizes come from its input as little-endian u32s (`args`). Memory:
 * 0..63 a storage key (a u32 index), 64.. a read buffer, 256.. event topics, 512.. callee method names, ARGS..
 * the input, DATA.. payloads (values, event data, hash inputs; zeros).
 */
import { LIMITS } from '../vm/limits.ts';
import { wat } from '../test/fixtures/vm.ts';

export const ARGS = 1024;
export const DATA = 8192;
/** The most memory a contract may have, and the bytes of it from DATA on. */
export const MAX_MEMORY_BYTES = LIMITS.maxMemoryPages * 65_536;
export const DATA_ROOM = MAX_MEMORY_BYTES - DATA;

const imp = (name: string, params: string, result = '') =>
  `(import "hallmark" "${name}" (func $${name} (param ${params}) ${result ? `(result ${result})` : ''}))`;

/** `(loop ... )` over `$n` iterations of `body` (the count from argument `arg`). */
const repeat = (body: string, arg = 0) => `
    (call $args) (local.set $n (call $a (i32.const ${arg})))
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      ${body}
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))`;

const params32 = Array.from({ length: 32 }, () => 'i64').join(' ');
const locals512 = Array.from({ length: 512 }, () => 'i64').join(' ');

/** The workload contract: every method the bench calls. */
export const WORKLOADS = wat(`(module
  (import "hallmark" "input_size" (func $input_size (result i32)))
  (import "hallmark" "gas_left" (func $gas_left (result i64)))
  ${imp('input_read', 'i32')}
  ${imp('return_data', 'i32 i32')}
  ${imp('debug_log', 'i32 i32')}
  ${imp('storage_read', 'i32 i32 i32 i32', 'i32')}
  ${imp('storage_write', 'i32 i32 i32 i32')}
  ${imp('storage_remove', 'i32 i32', 'i32')}
  ${imp('storage_next', 'i32 i32 i32 i32 i32 i32', 'i32')}
  ${imp('emit', 'i32 i32 i32 i32')}
  ${imp('sha256', 'i32 i32 i32')}
  ${imp('ed25519_verify', 'i32 i32 i32 i32', 'i32')}
  ${imp('call', 'i32 i32 i32 i32 i32 i64 i64', 'i32')}
  (type $unary (func (param i32) (result i32)))
  (memory (export "memory") 2 ${LIMITS.maxMemoryPages})
  (table 1 funcref)
  (elem (i32.const 0) $tiny)
  (data (i32.const 512) "nop")
  (data (i32.const 520) "boom")
  (data (i32.const 528) "grow")
  (data (i32.const 536) "\\03\\04\\04")
  (func $args (call $input_read (i32.const ${ARGS})))
  (func $a (param $i i32) (result i32) (i32.load offset=${ARGS} (i32.shl (local.get $i) (i32.const 2))))
  (func $tiny (param i32) (result i32) (local.get 0))
  (func $p32 (param ${params32}) (result i64) (local.get 31))
  (func $l512 (param i32) (result i32) (local ${locals512}) (local.get 0))
  (func $rec (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $rec (i32.sub (local.get 0) (i32.const 1)))))))
  ;; memory to hold \`bytes\` at offset \`at\`, grown (and charged) as needed
  (func $room (param $at i32) (param $bytes i32) (local $need i32)
    (local.set $need (i32.shr_u (i32.add (i32.add (local.get $at) (local.get $bytes)) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then (drop (memory.grow (i32.sub (local.get $need) (memory.size)))))))

  ;; plain instructions: xorshift (23 gas an iteration), and a 1-gas loop that runs out of gas
  (func (export "loop") (local $n i32) (local $x i32)
    (call $args) (local.set $n (call $a (i32.const 0))) (local.set $x (i32.const 1))
    (loop $l
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
      (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.store (i32.const 64) (local.get $x)))
  (func (export "spin") (loop $l (br $l)))
  ;; the worst mixes: dependent 64-bit divisions, dependent loads all over memory, calls with 32
  ;; parameters, callees with 512 locals, call_indirect, recursion to the stack limit
  (func (export "div") (local $n i32) (local $d i64) (local $big i64)
    (local.set $d (i64.const 3)) (local.set $big (i64.const -1))
    ${repeat('(local.set $d (i64.div_u (local.get $big) (local.get $d))) (local.set $d (i64.div_u (local.get $big) (local.get $d)))')}
    (i64.store (i32.const 64) (local.get $d)))
  (func (export "chase") (local $n i32) (local $p i32)
    (drop (memory.grow (i32.sub (i32.const ${LIMITS.maxMemoryPages}) (memory.size))))
    ${repeat(`(local.set $p (i32.and (i32.xor (i32.load (local.get $p)) (i32.add (i32.mul (local.get $p) (i32.const 1664525)) (i32.const 1013904223))) (i32.const ${MAX_MEMORY_BYTES - 4})))
      (i32.store (local.get $p) (local.get $n))`)})
  (func (export "calls") (local $n i32) (local $v i64)
    ${repeat(`(local.set $v (call $p32 ${Array.from({ length: 32 }, () => '(local.get $v)').join(' ')}))`)})
  (func (export "locals") (local $n i32)
    ${repeat('(drop (call $l512 (local.get $n)))')})
  (func (export "indirect") (local $n i32)
    ${repeat('(drop (call_indirect (type $unary) (local.get $n) (i32.const 0)))')})
  (func (export "recurse") (local $n i32)
    ${repeat('(drop (call $rec (call $a (i32.const 1))))')})
  ;; memory.fill / memory.copy: n times len bytes
  (func (export "fill") (local $n i32)
    (call $args) (call $room (i32.const ${DATA}) (i32.mul (call $a (i32.const 1)) (i32.const 2)))
    ${repeat(`(memory.fill (i32.const ${DATA}) (local.get $n) (call $a (i32.const 1)))`)})
  (func (export "copy") (local $n i32)
    (call $args) (call $room (i32.const ${DATA}) (i32.mul (call $a (i32.const 1)) (i32.const 2)))
    ${repeat(`(memory.copy (i32.add (i32.const ${DATA}) (call $a (i32.const 1))) (i32.const ${DATA}) (call $a (i32.const 1)))`)})

  ;; storage: key i = args[1] + i * args[2] mod args[3] (a u32); values of args[2] zero bytes
  (func (export "read") (local $n i32) (local $i i32)
    ${repeat(`(i32.store (i32.const 0) (i32.add (call $a (i32.const 1)) (i32.rem_u (i32.mul (local.get $n) (call $a (i32.const 2))) (call $a (i32.const 3)))))
      (drop (call $storage_read (i32.const 0) (i32.const 4) (i32.const 64) (i32.const 64)))`)})
  (func (export "write") (local $n i32)
    ${repeat(`(i32.store (i32.const 0) (i32.add (call $a (i32.const 1)) (local.get $n)))
      (call $storage_write (i32.const 0) (i32.const 4) (i32.const ${DATA}) (call $a (i32.const 2)))`)})
  (func (export "remove") (local $n i32)
    ${repeat(`(i32.store (i32.const 0) (i32.add (call $a (i32.const 1)) (local.get $n)))
      (drop (call $storage_remove (i32.const 0) (i32.const 4)))`)})
  ;; storage_next: walks the contract's keys in order, n steps
  (func (export "next") (local $n i32) (local $after i32)
    ${repeat(`(if (i32.lt_s (call $storage_next (i32.const 0) (i32.const 0) (i32.const 16) (local.get $after) (i32.const 16) (i32.const 32)) (i32.const 0))
        (then (local.set $after (i32.const 0)))
        (else (local.set $after (i32.const 4))))`)})
  ;; events: args[1] topics, args[2] bytes of data
  (func (export "emit") (local $n i32)
    (call $args) (call $room (i32.const ${DATA}) (call $a (i32.const 2)))
    ${repeat(`(call $emit (i32.const 256) (call $a (i32.const 1)) (i32.const ${DATA}) (call $a (i32.const 2)))`)})
  (func (export "sha256") (local $n i32)
    (call $args) (call $room (i32.const ${DATA}) (call $a (i32.const 1)))
    ${repeat(`(call $sha256 (i32.const ${DATA}) (call $a (i32.const 1)) (i32.const 64))`)})
  ;; ed25519_verify: input [n, message (32 bytes), n x (public key 32, signature 64)]
  (func (export "verify") (local $n i32) (local $ok i32)
    ${repeat(`(local.set $ok (i32.add (local.get $ok) (call $ed25519_verify
        (i32.add (i32.const ${ARGS + 36}) (i32.mul (i32.sub (local.get $n) (i32.const 1)) (i32.const 96)))
        (i32.const ${ARGS + 4}) (i32.const 32)
        (i32.add (i32.const ${ARGS + 68}) (i32.mul (i32.sub (local.get $n) (i32.const 1)) (i32.const 96))))))`)}
    (i32.store (i32.const 64) (local.get $ok))
    (call $return_data (i32.const 64) (i32.const 4)))
  ;; cross-contract calls: input [n, method (0 nop, 1 boom, 2 grow), gas, k, k x address (20 bytes)]:
  ;; calls each in turn, forwarding that much gas (a failing callee uses all it is given)
  (func (export "xcall") (local $n i32)
    ${repeat(`(drop (call $call (i32.add (i32.const ${ARGS + 16}) (i32.mul (i32.rem_u (local.get $n) (call $a (i32.const 3))) (i32.const 20)))
        (i32.const 0) (i32.const 0) (i32.add (i32.const 512) (i32.shl (call $a (i32.const 1)) (i32.const 3))) (i32.load8_u offset=536 (call $a (i32.const 1)))
        (i64.const 0) (i64.extend_i32_u (call $a (i32.const 2)))))`)})
  (func (export "nop"))
  (func (export "boom") (unreachable))
  ;; host calls doing nothing
  (func (export "hostcall") (local $n i32)
    ${repeat('(drop (call $gas_left))')})
  ;; copies: the input n times (it may be large), return data of args[1] bytes n times, debug lines
  (func (export "input") (local $n i32)
    (call $room (i32.const ${ARGS}) (call $input_size))
    ${repeat('(call $input_read (i32.const ' + ARGS + '))')})
  (func (export "ret") (local $n i32)
    (call $args) (call $room (i32.const ${DATA}) (call $a (i32.const 1)))
    ${repeat(`(call $return_data (i32.const ${DATA}) (call $a (i32.const 1)))`)})
  (func (export "log") (local $n i32)
    (call $args) (call $room (i32.const ${DATA}) (call $a (i32.const 1)))
    ${repeat(`(call $debug_log (i32.const ${DATA}) (call $a (i32.const 1)))`)})
)`);

/**
 * A callee with an init (so a deploy compiles it) and methods nop, boom (traps, so its instance is dropped, never reused) and grow (to
 * the most memory allowed, touching every 4 KiB of it): `pages` of initial memory (copied to reset
 * a pooled instance, allocated and faulted in for a new one), and `fillerBytes` of code made of
 * branches, which instrument to ~8x their size. `salt` makes each one's code hash its own.
 */
export function callee(pages: number, salt: number, fillerBytes = 0): Uint8Array {
  const funcs = 8;
  const reps = Math.floor(fillerBytes / funcs / 4);
  const filler = reps === 0 ? '' : Array.from({ length: funcs }, (_, i) => `(func $f${i} (export "_f${i}") (block ${'(br_if 0 (i32.const 0))'.repeat(reps)}))`).join('\n');
  return wat(`(module (memory (export "memory") ${pages} ${LIMITS.maxMemoryPages}) (global $salt i32 (i32.const ${salt}))
    (func (export "init")) (func (export "nop")) (func (export "boom") (unreachable))
    (func (export "grow") (local $p i32)
      (drop (memory.grow (i32.sub (i32.const ${LIMITS.maxMemoryPages}) (memory.size))))
      (local.set $p (i32.const ${MAX_MEMORY_BYTES}))
      (loop $t
        (local.set $p (i32.sub (local.get $p) (i32.const 4096)))
        (i32.store8 (local.get $p) (i32.const 1))
        (br_if $t (local.get $p))))
    ${filler})`);
}

/** The largest module the VM admits whose instrumentation costs the most per byte (see callee). */
export function heaviestDeploy(salt: number, maxBytes: number): Uint8Array {
  let filler = maxBytes;
  let code = callee(1, salt, filler);
  while (code.length > maxBytes) {
    filler -= code.length - maxBytes + 64;
    code = callee(1, salt, filler);
  }
  return code;
}
