/**
 * Running a contract call: an instance of the instrumented module per call (pooled, and reset to
 * its state at instantiation before reuse), the host functions of docs/contracts.md, gas handed
 * in and read back through the module's __hallmark_gas global (host functions charge it there),
 * and failures classified by mechanism.
 *
 * The code gets its gas in slices of at most `yieldInterval`; the rest waits in the call's
 * GasMeter (gas-meter.ts). When a slice runs out the code calls refuel, which lets the event loop
 * run (RPC, timers, consensus) before handing over the next slice, as wasmtime's
 * fuel_async_yield_interval does. A call's gas, results and trap points do not depend on the
 * interval: the code traps as out of gas only when the slice and the reserve together cannot pay.
 *
 * Storage lives in LevelDB behind async reads, while WebAssembly host calls are synchronous. The
 * bridge is JSPI (WebAssembly.Suspending / WebAssembly.promising, unflagged since V8 13.6 / Node
 * 24): host functions that may need a read are Suspending imports, and the contract's stack is
 * suspended while the read completes. Re-running calls after each missing read would cost
 * quadratic time in the number of keys a call touches, and a worker thread blocking on
 * Atomics.wait would put a thread hop on every host call.
 */
import { CodedError } from '../chain/errors.ts';
import { sha256 } from '../chain/hash.ts';
import { verifySignature } from '../chain/signature.ts';
import type { CompiledContract } from './code.ts';
import { GasMeter, OutOfGas } from './gas-meter.ts';
import { IMPORT_REFUEL, TRAP_STACK, TRAP_UNREACHABLE } from './host-abi.ts';
import { InstancePool, type Binding } from './instance-pool.ts';
import { GAS, MAX_CALL_DEPTH } from './limits.ts';

export const MAX_KEY_BYTES = 256;
export const MAX_VALUE_BYTES = 64 * 1024;
export const MAX_REVERT_BYTES = 256;
export const MAX_TOPICS = 4;
export const ADDRESS_BYTES = 20;

/** A value that may be ready now (a cache hit) or later (a LevelDB read). */
export type Maybe<T> = T | Promise<T>;

/** The contract storage and state the runtime works on; the executor backs it with a state overlay. */
export interface ContractEnv {
  /** Storage of contract `address`. */
  read(address: Uint8Array, key: Uint8Array): Maybe<Uint8Array | undefined>;
  write(address: Uint8Array, key: Uint8Array, value: Uint8Array): void;
  remove(address: Uint8Array, key: Uint8Array): void;
  /** The smallest key of `address` starting with `prefix` and greater than `after`. */
  next(address: Uint8Array, prefix: Uint8Array, after: Uint8Array | undefined): Maybe<Uint8Array | undefined>;
  /**
   * The compiled code of the contract at `address`, or undefined if there is none. `pay`, when
   * given, is called with its codeBytes before the code is loaded (or found in a cache, the same
   * bytes), and may throw to stop the load: the bytes are paid for whether they are cached or not.
   */
  contract(address: Uint8Array, pay?: (codeBytes: number) => void): Maybe<CompiledContract | undefined>;
  /** Moves `value` base units; throws HostError when `from` cannot pay. */
  transfer(from: Uint8Array, to: Uint8Array, value: bigint): Maybe<void>;
  /**
   * Groth16 verification against a registered key (protocol 3): whether the proof is valid, or
   * 'unknown_key'. Absent before protocol 3, where groth16_verify is a host error.
   */
  groth16?(keyHash: Uint8Array, proof: Uint8Array, signals: Uint8Array): Maybe<boolean | 'unknown_key'>;
  /** Whether the proof is one the transaction carried: verified and paid for before the call ran. */
  carried?(keyHash: Uint8Array, proof: Uint8Array, signals: Uint8Array): boolean;
  /** Undo marks for all-or-nothing inner calls. */
  checkpoint(): number;
  revert(mark: number): void;
}

export interface BlockContext {
  chainId: string;
  height: number;
  /** ms since the Unix epoch. */
  time: number;
  /** The account that signed the transaction. */
  origin: Uint8Array;
}

export interface CallRequest {
  contract: CompiledContract;
  address: Uint8Array;
  method: string;
  input: Uint8Array;
  caller: Uint8Array;
  value: bigint;
  gasLimit: number;
  /** The deploy's run of `init` (the one time it may be called). */
  initializing?: boolean;
}

export interface ContractEvent {
  address: Uint8Array;
  topics: Uint8Array[];
  data: Uint8Array;
}

export type FailureKind = 'revert' | 'out_of_gas' | 'unreachable' | 'trap' | 'stack_overflow' | 'host_error' | 'no_method';

export interface CallResult {
  ok: boolean;
  gasUsed: number;
  returnData: Uint8Array;
  events: ContractEvent[];
  /** Why it failed: a kind and a message of our own (deterministic: it goes into the receipt). */
  failure?: { kind: FailureKind; message: string };
}

/** A host function refused its arguments; the call fails as `host_error`. */
export class HostError extends CodedError<'host_error'> {
  constructor(message: string) {
    super('host_error', message);
  }
}
class RevertSignal extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.reason = reason;
  }
}

/**
 * Gas a call runs between two turns of the event loop, by default. Measured here: ~0.5 ms of the
 * slowest plain code (`loop br`, 2e9 gas/s) against ~4 us per turn, under 1%; host-heavy code
 * gets less done per gas (ed25519_verify in a loop, 6e7 gas/s: ~17 ms). A call of under 1M gas,
 * most transactions, never yields.
 */
export const DEFAULT_YIELD_INTERVAL = 1_000_000;

export interface RuntimeOptions {
  /** Where debug_log lines go; undefined drops them (they never affect consensus). */
  debugLog?: (address: Uint8Array, line: string) => void;
  /** Gas between yields to the event loop (DEFAULT_YIELD_INTERVAL); never changes what a call does. */
  yieldInterval?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Runs one top-level call (a transaction's, or a read-only query's). */
export function runCall(env: ContractEnv, block: BlockContext, req: CallRequest, opts: RuntimeOptions = {}): Promise<CallResult> {
  const interval = opts.yieldInterval ?? DEFAULT_YIELD_INTERVAL;
  if (!Number.isSafeInteger(interval) || interval < 1) throw new RangeError(`yieldInterval must be a positive integer of gas, not ${interval}`);
  return new Call(env, block, opts, BigInt(interval), [], 0).run(req);
}

/** One call frame: an instance and its host functions. Inner calls make their own Call. */
class Call {
  readonly #env: ContractEnv;
  readonly #block: BlockContext;
  readonly #opts: RuntimeOptions;
  readonly #interval: bigint;
  /** Addresses on the call stack, outermost first (re-entry is refused). */
  readonly #stack: Uint8Array[];
  readonly #startSlots: number;
  #meter!: GasMeter;
  #trap!: WebAssembly.Global;
  #slots!: WebAssembly.Global;
  #memory!: WebAssembly.Memory;
  #req!: CallRequest;
  #returnData: Uint8Array = new Uint8Array(0);
  #lastReturn: Uint8Array = new Uint8Array(0);
  #events: ContractEvent[] = [];

  constructor(env: ContractEnv, block: BlockContext, opts: RuntimeOptions, interval: bigint, stack: Uint8Array[], startSlots: number) {
    this.#env = env;
    this.#block = block;
    this.#opts = opts;
    this.#interval = interval;
    this.#stack = stack;
    this.#startSlots = startSlots;
  }

  async run(req: CallRequest): Promise<CallResult> {
    this.#req = req;
    const limit = BigInt(req.gasLimit);
    const fail = (kind: FailureKind, message: string, gasUsed: number): CallResult => ({
      ok: false, gasUsed, returnData: new Uint8Array(0), events: [], failure: { kind, message },
    });
    const callable = req.initializing === true ? req.method === 'init' : req.contract.methods.has(req.method);
    if (!callable) return fail('no_method', `the contract has no method ${JSON.stringify(req.method)}`, 0);
    // The instance's memory is paid for before the instance is made (a new one faults it all in).
    const memory = BigInt(GAS.memoryPage * req.contract.memoryPages);
    if (limit < memory) return fail('out_of_gas', 'out of gas', req.gasLimit);
    const pooled = pool.acquire(req.contract);
    pooled.binding.call = this;
    const x = pooled.exports;
    this.#meter = new GasMeter(pooled.gas, this.#interval);
    this.#trap = pooled.trap;
    this.#slots = pooled.slots;
    this.#memory = pooled.memory;
    this.#meter.setLeft(limit - memory);
    this.#trap.value = 0;
    this.#slots.value = this.#startSlots;
    const stackBefore = this.#stack.length;
    this.#stack.push(req.address);
    try {
      await WebAssembly.promising(x[req.method] as () => unknown)();
      const gasUsed = Number(limit - this.#meter.left());
      pool.release(req.contract, pooled);
      return { ok: true, gasUsed, returnData: this.#returnData, events: this.#events };
    } catch (err) {
      pooled.binding.call = null; // a failed call's instance is dropped, never reused
      if (err instanceof RevertSignal) return fail('revert', err.reason, Number(limit - this.#meter.left()));
      if (err instanceof OutOfGas) return fail('out_of_gas', 'out of gas', req.gasLimit);
      if (err instanceof HostError) return fail('host_error', err.message, req.gasLimit);
      if (err instanceof WebAssembly.RuntimeError) {
        switch (this.#trap.value as number) {
          case TRAP_STACK: return fail('stack_overflow', 'stack limit exceeded', req.gasLimit);
          case TRAP_UNREACHABLE: return fail('unreachable', 'the contract executed unreachable', req.gasLimit);
          default: return fail('trap', 'trap: memory out of bounds, division by zero, integer overflow or bad indirect call', req.gasLimit);
        }
      }
      // Not the contract's doing (a storage read failed, or a bug here): the block must not be
      // applied with a made-up receipt, so it propagates.
      throw err;
    } finally {
      this.#stack.length = stackBefore;
    }
  }

  /** A view of `len` bytes at `ptr`, or a host error; re-derived on every use (memory may grow). */
  #view(ptr: number, len: number): Uint8Array {
    const p = ptr >>> 0;
    const n = len >>> 0;
    const buf = this.#memory.buffer;
    if (p + n > buf.byteLength) throw new HostError(`memory range ${p}+${n} is out of bounds`);
    return new Uint8Array(buf, p, n);
  }

  #copyIn(ptr: number, len: number, perByte: number = GAS.host.byte): Uint8Array {
    this.#meter.charge(GAS.host.base + perByte * (len >>> 0));
    return this.#view(ptr, len).slice();
  }

  #copyOut(dst: number, bytes: Uint8Array, cap = bytes.length): void {
    const n = Math.min(bytes.length, cap >>> 0);
    this.#meter.charge(GAS.host.byte * n);
    this.#view(dst, n).set(bytes.subarray(0, n));
  }

  #key(ptr: number, len: number): Uint8Array {
    if (len >>> 0 > MAX_KEY_BYTES) throw new HostError(`storage key of ${len >>> 0} bytes is over ${MAX_KEY_BYTES}`);
    return this.#copyIn(ptr, len, GAS.host.byte);
  }

  /**
   * The host functions for one instance, calling into whichever Call the instance serves now
   * (`binding.call`): pooled instances are reused by later calls.
   */
  static imports(binding: Binding<Call>): Record<string, WebAssembly.ImportValue> {
    const self = (): Call => binding.call!;
    const address = () => self().#req.address;
    const suspending = (f: (...args: number[]) => Maybe<number>) => new WebAssembly.Suspending(f);
    const then = <T, R>(v: Maybe<T>, f: (t: T) => R): Maybe<R> => (v instanceof Promise ? v.then(f) : f(v));
    return {
      input_size: () => {
        self().#meter.charge(GAS.host.base);
        return self().#req.input.length;
      },
      input_read: (dst: number) => {
        self().#meter.charge(GAS.host.base);
        self().#copyOut(dst, self().#req.input);
      },
      return_data: (ptr: number, len: number) => {
        self().#returnData = self().#copyIn(ptr, len, GAS.host.returnByte);
      },
      revert: (ptr: number, len: number) => {
        const bytes = self().#copyIn(ptr, Math.min(len >>> 0, MAX_REVERT_BYTES));
        throw new RevertSignal(utf8.decode(bytes));
      },
      debug_log: (ptr: number, len: number) => {
        const bytes = self().#copyIn(ptr, len);
        self().#opts.debugLog?.(address(), utf8.decode(bytes));
      },
      storage_read: suspending((k: number, kl: number, dst: number, cap: number) => {
        self().#meter.charge(GAS.host.storageRead);
        const key = self().#key(k, kl);
        return then(self().#env.read(address(), key), (value) => {
          if (value === undefined) return -1;
          self().#copyOut(dst, value, cap);
          return value.length;
        });
      }),
      storage_write: (k: number, kl: number, v: number, vl: number) => {
        if (vl >>> 0 > MAX_VALUE_BYTES) throw new HostError(`storage value of ${vl >>> 0} bytes is over ${MAX_VALUE_BYTES}`);
        self().#meter.charge(GAS.host.storageWrite + GAS.host.storageByte * ((kl >>> 0) + (vl >>> 0)));
        const key = self().#key(k, kl);
        self().#env.write(address(), key, self().#copyIn(v, vl));
      },
      storage_remove: suspending((k: number, kl: number) => {
        self().#meter.charge(GAS.host.storageRemove);
        const key = self().#key(k, kl);
        return then(self().#env.read(address(), key), (value) => {
          if (value === undefined) return 0;
          self().#env.remove(address(), key);
          return 1;
        });
      }),
      storage_has: suspending((k: number, kl: number) => {
        self().#meter.charge(GAS.host.storageRead);
        const key = self().#key(k, kl);
        return then(self().#env.read(address(), key), (value) => (value === undefined ? 0 : 1));
      }),
      storage_next: suspending((p: number, pl: number, a: number, al: number, dst: number, cap: number) => {
        self().#meter.charge(GAS.host.storageNext);
        const prefix = self().#key(p, pl);
        const after = (al >>> 0) === 0 ? undefined : self().#key(a, al);
        return then(self().#env.next(address(), prefix, after), (key) => {
          if (key === undefined) return -1;
          self().#copyOut(dst, key, cap);
          return key.length;
        });
      }),
      caller: (dst: number) => self().#context(dst, self().#req.caller),
      self_address: (dst: number) => self().#context(dst, self().#req.address),
      origin: (dst: number) => self().#context(dst, self().#block.origin),
      block_height: () => {
        self().#meter.charge(GAS.host.base);
        return BigInt(self().#block.height);
      },
      block_time: () => {
        self().#meter.charge(GAS.host.base);
        return BigInt(self().#block.time);
      },
      chain_id: (dst: number, cap: number) => {
        const id = new TextEncoder().encode(self().#block.chainId);
        self().#meter.charge(GAS.host.base);
        self().#copyOut(dst, id, cap);
        return id.length;
      },
      gas_left: () => {
        self().#meter.charge(GAS.host.base);
        return self().#meter.left();
      },
      value: () => {
        self().#meter.charge(GAS.host.base);
        return BigInt.asIntN(64, self().#req.value);
      },
      emit: (t: number, count: number, d: number, dl: number) => {
        if (count >>> 0 > MAX_TOPICS) throw new HostError(`an event has at most ${MAX_TOPICS} topics`);
        self().#meter.charge(GAS.host.emit + GAS.host.emitByte * (32 * (count >>> 0) + (dl >>> 0)));
        const topicBytes = self().#copyIn(t, 32 * (count >>> 0));
        const topics = Array.from({ length: count >>> 0 }, (_, i) => topicBytes.slice(32 * i, 32 * i + 32));
        self().#events.push({ address: address(), topics, data: self().#copyIn(d, dl) });
      },
      sha256: (ptr: number, len: number, dst: number) => {
        self().#meter.charge(GAS.host.sha256);
        self().#copyOut(dst, sha256(self().#copyIn(ptr, len)));
      },
      ed25519_verify: (pk: number, msg: number, ml: number, sig: number) => {
        self().#meter.charge(GAS.host.ed25519Verify);
        return verifySignature(self().#copyIn(pk, 32), self().#copyIn(msg, ml), self().#copyIn(sig, 64)) ? 1 : 0;
      },
      groth16_verify: suspending((...args: number[]) => self().#groth16(args)),
      call: suspending((...args: number[]) => self().#innerCall(args)),
      [IMPORT_REFUEL]: new WebAssembly.Suspending((slice: bigint, cost: bigint) => self().#meter.refuel(slice, cost)),
      returndata_size: () => {
        self().#meter.charge(GAS.host.base);
        return self().#lastReturn.length;
      },
      returndata_read: (dst: number) => {
        self().#meter.charge(GAS.host.base);
        self().#copyOut(dst, self().#lastReturn);
      },
    };
  }

  #context(dst: number, value: Uint8Array): void {
    this.#meter.charge(GAS.host.base);
    this.#copyOut(dst, value);
  }

  /**
   * `groth16_verify(key_hash, key_hash_len, proof, proof_len, signals, signals_len) -> i32`: 1 if
   * the proof is valid for the registered key, 0 if not (a proof or signals of the wrong length
   * included); a key that is not registered is a host error. A proof the transaction carried was
   * verified and paid for before the call: it costs only its copy.
   */
  #groth16([k, kl, p, pl, s, sl]: number[]): Maybe<number> {
    this.#meter.charge(GAS.host.base);
    const env = this.#env;
    if (env.groth16 === undefined) throw new HostError('groth16_verify is not available yet');
    if (kl! >>> 0 !== 32) throw new HostError('groth16_verify: a key is named by its 32-byte hash');
    const hash = this.#copyIn(k!, 32);
    const proof = this.#copyIn(p!, Math.min(pl! >>> 0, 257));
    const signals = this.#copyIn(s!, sl!);
    if (env.carried?.(hash, proof, signals) === true) return 1;
    this.#meter.charge(GAS.host.groth16 + GAS.host.groth16Signal * Math.ceil(signals.length / 32));
    const answer = (r: boolean | 'unknown_key'): number => {
      if (r === 'unknown_key') throw new HostError(`groth16_verify: no verification key ${Buffer.from(hash).toString('hex')} is registered`);
      return r ? 1 : 0;
    };
    const r = env.groth16(hash, proof, signals);
    return r instanceof Promise ? r.then(answer) : answer(r);
  }

  /** `call(addr, input, input_len, method, method_len, value: i64, gas: i64) -> i32`. */
  async #innerCall(args: unknown[]): Promise<number> {
    const [a, i, il, m, ml] = args as number[];
    const value = BigInt.asUintN(64, args[5] as bigint);
    const gasAsked = BigInt.asUintN(64, args[6] as bigint);
    this.#meter.charge(GAS.host.call);
    const target = this.#copyIn(a!, ADDRESS_BYTES);
    const input = this.#copyIn(i!, il!);
    const method = utf8.decode(this.#copyIn(m!, Math.min(ml! >>> 0, 256)));
    const failWith = (reason: string) => {
      this.#lastReturn = new TextEncoder().encode(reason);
      return 1;
    };
    if (this.#stack.length >= MAX_CALL_DEPTH) return failWith(`call depth limit of ${MAX_CALL_DEPTH} reached`);
    if (this.#stack.some((s) => equal(s, target))) return failWith('re-entrant call refused: the contract is already on the call stack');
    const contract = await this.#env.contract(target, (codeBytes) => this.#meter.charge(GAS.codeByte * codeBytes));
    if (contract === undefined) return failWith('no contract at that address');
    if (method.startsWith('_') || !contract.methods.has(method)) return failWith(`the contract has no method ${JSON.stringify(method)}`);
    const forwarded = this.#meter.forward(gasAsked);
    const mark = this.#env.checkpoint();
    const caller = this.#req.address;
    try {
      if (value > 0n) await this.#env.transfer(caller, target, value);
    } catch (err) {
      if (!(err instanceof HostError)) throw err;
      this.#meter.refund(forwarded);
      this.#env.revert(mark);
      return failWith(err.message);
    }
    const inner = new Call(this.#env, this.#block, this.#opts, this.#interval, this.#stack, this.#slots.value as number);
    const result = await inner.run({ contract, address: target, method, input, caller, value, gasLimit: Number(forwarded) });
    this.#meter.refund(forwarded - BigInt(result.gasUsed));
    if (!result.ok) {
      this.#env.revert(mark);
      return failWith(result.failure!.message);
    }
    this.#events.push(...result.events);
    this.#lastReturn = result.returnData;
    return 0;
  }
}

/** Instances of the instrumented modules, each serving one Call at a time. */
const pool = new InstancePool<Call>((binding) => Call.imports(binding));

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
