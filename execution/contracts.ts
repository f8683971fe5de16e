/**
 * Contracts in the chain state: deploying a module, calling a method, querying read-only, all
 * through the executor's state overlay so a block's contract writes commit with it atomically.
 *
 * State keys (in the authenticated tree):
 *   0x02 || codeHash              -> the original module
 *   0x03 || codeHash              -> [costTableVersion, instrumented module, [method...]]
 *   0x04 || address               -> [codeHash, creator]
 *   0x05 || address || key        -> a contract's storage value
 * The tree is keyed by sha256(key), which has no order, so storage_next walks an ordered index
 * of storage keys kept beside it in LevelDB (0x78 'x' || address || key -> empty), written in
 * the block's batch from the same overlay writes. It describes the latest committed state:
 * blocks run on that, and a query, which runs on one height while later ones may commit, reads it
 * through the LevelDB snapshot taken when its height was written (Executor.read).
 */
import type { Level } from 'level';
import { formatAddress, type Address } from '../chain/address.ts';
import { compareBytes, concatBytes, toHex, u64be, utf8 } from '../chain/bytes.ts';
import { bytes, decodeCanonical, encodeCanonical, list, text, tuple } from '../chain/codec.ts';
import { sha256 } from '../chain/hash.ts';
import type { Event } from '../chain/receipt.ts';
import type { StateOverlay } from '../state/overlay.ts';
import type { BatchOp } from '../state/tree.ts';
import { ModuleCache, prepareCode, type CompiledContract } from '../vm/code.ts';
import { GAS, LIMITS } from '../vm/limits.ts';
import { HostError, runCall, type BlockContext, type CallResult, type ContractEnv, type ContractEvent } from '../vm/runtime.ts';
import { ModuleError } from '../vm/wasm.ts';
import type { AttachedProof } from '../chain/tx.ts';
import { accountKey, accountOf, encodeAccount } from './account.ts';
import { isCarried, type Zk } from './zk.ts';

const CODE = 0x02;
const INSTRUMENTED = 0x03;
const CONTRACT = 0x04;
const STORAGE = 0x05;
/** The first byte of the storage index beside the tree (rebuilt, never synced: node/state-sync.ts). */
export const STORAGE_INDEX = 0x78;
/** The stored record of instrumented code: the code, and method names (no longer than the module). */
const STORED_CODE_BYTES = LIMITS.maxInstrumentedBytes + LIMITS.maxCodeBytes + 64;

export const codeKey = (hash: Uint8Array) => concatBytes(Uint8Array.of(CODE), hash);
export const instrumentedKey = (hash: Uint8Array) => concatBytes(Uint8Array.of(INSTRUMENTED), hash);
export const contractKey = (address: Address) => concatBytes(Uint8Array.of(CONTRACT), address);
const storagePrefix = (address: Address) => concatBytes(Uint8Array.of(STORAGE), address);

/** The address of the contract `sender` deploys with the transaction of nonce `nonce`. */
export function contractAddress(sender: Address, nonce: number): Address {
  return sha256(concatBytes(utf8('hallmark/contract\n'), sender, u64be(nonce))).subarray(0, 20);
}

export interface ContractInfo {
  address: Address;
  codeHash: Uint8Array;
  creator: Address;
  methods: string[];
}

/** What a deploy or call did, for the receipt. */
export interface ContractOutcome {
  ok: boolean;
  /** Gas the VM used (intrinsic gas is the executor's). */
  gasUsed: number;
  returnData: Uint8Array;
  events: Event[];
  /** `kind: message` when it failed; the refusal reason when the module was refused. */
  error: string;
  /** The module was refused at deploy. */
  refused?: boolean;
}

/** A LevelDB snapshot: the storage index as of one committed height. */
export type IndexSnapshot = ReturnType<Level<Uint8Array, Uint8Array>['snapshot']>;

export interface ContractsOptions {
  /** Compiled modules kept; default 64. */
  cacheSize?: number;
  debugLog?: (address: Address, line: string) => void;
  /** Groth16 verification for groth16_verify (protocol 3); without it the host function is a host error. */
  zk?: Zk;
}

export class Contracts {
  readonly #db: Level<Uint8Array, Uint8Array>;
  readonly cache: ModuleCache;
  readonly #debugLog: ((address: Address, line: string) => void) | undefined;
  readonly #zk: Zk | undefined;

  constructor(db: Level<Uint8Array, Uint8Array>, opts: ContractsOptions = {}) {
    this.#db = db;
    this.cache = new ModuleCache(opts.cacheSize ?? 64);
    this.#debugLog = opts.debugLog;
    this.#zk = opts.zk;
  }

  /** Deploys `code` at contractAddress(sender, nonce) and runs its `init` with `args`. */
  async deploy(overlay: StateOverlay, block: BlockContext, sender: Address, nonce: number, code: Uint8Array, args: Uint8Array, gasLimit: number): Promise<ContractOutcome> {
    let prepared;
    try {
      prepared = prepareCode(code);
    } catch (err) {
      if (err instanceof ModuleError) return { ok: false, refused: true, gasUsed: 0, returnData: new Uint8Array(0), events: [], error: err.message };
      throw err;
    }
    const address = contractAddress(sender, nonce);
    if ((await overlay.get(contractKey(address))) !== undefined) {
      return failed(0, 'host_error', `a contract already exists at ${formatAddress(address)}`);
    }
    if ((await overlay.get(codeKey(prepared.codeHash))) === undefined) {
      overlay.set(codeKey(prepared.codeHash), code);
      overlay.set(instrumentedKey(prepared.codeHash), encodeCanonical([prepared.costTableVersion, prepared.instrumented, prepared.methods]));
    }
    overlay.set(contractKey(address), encodeCanonical([prepared.codeHash, sender]));
    if (!prepared.hasInit) return { ok: true, gasUsed: 0, returnData: address, events: [], error: '' };
    // The code as stored, which may predate this node's instrumenter if the module was deployed
    // before: every node runs the same bytes whatever its cache holds.
    const env = this.#env(overlay);
    const contract = (await env.contract(address))!;
    const result = await runCall(env, block, {
      contract, address, method: 'init', input: args, caller: sender, value: 0n, gasLimit, initializing: true,
    }, this.#opts());
    return result.ok ? { ...outcome(result), returnData: address } : outcome(result);
  }

  /**
   * Calls `method` of the contract at `address`, moving `value` from `sender` to it first.
   * `carried`: the proofs the transaction carried, all verified before the call.
   */
  call(
    overlay: StateOverlay, block: BlockContext, sender: Address, address: Address, method: string, args: Uint8Array, value: bigint, gasLimit: number,
    carried?: readonly AttachedProof[],
  ): Promise<ContractOutcome> {
    return this.#call(this.#env(overlay, undefined, carried), block, sender, address, method, args, value, gasLimit);
  }

  /**
   * Runs `method` read-only on `overlay` (a committed height, never written back), with the
   * storage index read through `snapshot`, taken when that height was written.
   */
  query(overlay: StateOverlay, snapshot: IndexSnapshot, block: BlockContext, caller: Address, address: Address, method: string, args: Uint8Array, gasLimit: number): Promise<ContractOutcome> {
    return this.#call(this.#env(overlay, snapshot), block, caller, address, method, args, 0n, gasLimit);
  }

  async #call(env: ContractEnv, block: BlockContext, sender: Address, address: Address, method: string, args: Uint8Array, value: bigint, gasLimit: number): Promise<ContractOutcome> {
    // The contract's code is paid for before it is loaded: a limit that cannot pay stops here.
    let codeGas = 0;
    let contract: CompiledContract | undefined;
    try {
      contract = await env.contract(address, (codeBytes) => {
        codeGas = GAS.codeByte * codeBytes;
        if (codeGas > gasLimit) throw new CodeOutOfGas();
      });
    } catch (err) {
      if (err instanceof CodeOutOfGas) return failed(gasLimit, 'out_of_gas', 'out of gas loading the contract code');
      throw err;
    }
    if (contract === undefined) return failed(0, 'no_contract', `no contract at ${formatAddress(address)}`);
    if (value > 0n) {
      try {
        await env.transfer(sender, address, value);
      } catch (err) {
        if (err instanceof HostError) return failed(codeGas, 'insufficient_funds', err.message);
        throw err;
      }
    }
    const result = await runCall(env, block, { contract, address, method, input: args, caller: sender, value, gasLimit: gasLimit - codeGas }, this.#opts());
    return outcome({ ...result, gasUsed: result.gasUsed + codeGas });
  }

  async info(overlay: StateOverlay, address: Address): Promise<ContractInfo | undefined> {
    const record = await overlay.get(contractKey(address));
    if (record === undefined) return undefined;
    const [codeHash, creator] = tuple(decodeCanonical(record, 'contract record'), 2, 'contract record');
    const hash = bytes(codeHash, 'contract.codeHash', 32);
    const stored = await overlay.get(instrumentedKey(hash));
    const [, , methods] = tuple(decodeCanonical(stored!, 'instrumented code', STORED_CODE_BYTES), 3, 'instrumented code');
    return { address, codeHash: hash, creator: bytes(creator, 'contract.creator', 20), methods: list(methods, 4096, 'methods').map((m) => text(m, 'method', 256)) };
  }

  /** The original module of the contract at `address`, with its record; undefined if none. */
  async code(overlay: StateOverlay, address: Address): Promise<{ info: ContractInfo; code: Uint8Array } | undefined> {
    const info = await this.info(overlay, address);
    if (info === undefined) return undefined;
    const code = await overlay.get(codeKey(info.codeHash));
    if (code === undefined) throw new Error(`contract ${formatAddress(address)}: its code is missing from the state`);
    return { info, code };
  }

  #opts() {
    return this.#debugLog === undefined ? {} : { debugLog: this.#debugLog };
  }

  #env(overlay: StateOverlay, snapshot?: IndexSnapshot, carried?: readonly AttachedProof[]): ContractEnv {
    const db = this.#db;
    const zk = this.#zk;
    return {
      ...(zk !== undefined && {
        groth16: (hash: Uint8Array, proof: Uint8Array, signals: Uint8Array) => zk.verifyForContract(overlay, hash, proof, signals),
        carried: (hash: Uint8Array, proof: Uint8Array, signals: Uint8Array) => isCarried(carried, hash, proof, signals),
      }),
      read: (address, key) => overlay.get(concatBytes(storagePrefix(address), key)),
      write: (address, key, value) => overlay.set(concatBytes(storagePrefix(address), key), value),
      remove: (address, key) => overlay.delete(concatBytes(storagePrefix(address), key)),
      next: (address, prefix, after) => nextKey(db, snapshot, overlay, address, prefix, after),
      contract: async (address, pay) => {
        const record = await overlay.get(contractKey(address));
        if (record === undefined) return undefined;
        const hash = bytes(tuple(decodeCanonical(record, 'contract record'), 2, 'contract record')[0], 'contract.codeHash', 32);
        // Stored instrumented code never changes under its hash, so a cached module is that code:
        // no need to read and decode it again (no gas depends on it).
        const cached = this.cache.peek(hash);
        if (cached !== undefined) {
          pay?.(cached.codeBytes);
          return cached;
        }
        const stored = await overlay.get(instrumentedKey(hash));
        if (stored === undefined) throw new Error(`contract ${formatAddress(address)}: its code ${toHex(hash)} is missing from the state`);
        pay?.(stored.length);
        const [, instrumented, methods] = tuple(decodeCanonical(stored, 'instrumented code', STORED_CODE_BYTES), 3, 'instrumented code');
        return this.cache.get(
          hash, () => bytes(instrumented, 'instrumented', { max: LIMITS.maxInstrumentedBytes }), () => list(methods, 4096, 'methods').map((m) => text(m, 'method', 256)),
          stored.length,
        );
      },
      transfer: async (from, to, value) => {
        const payer = accountOf(await overlay.get(accountKey(from)));
        if (payer.balance < value) throw new HostError(`balance ${payer.balance} is less than ${value}`);
        overlay.set(accountKey(from), encodeAccount({ ...payer, balance: payer.balance - value }));
        const payee = accountOf(await overlay.get(accountKey(to)));
        overlay.set(accountKey(to), encodeAccount({ ...payee, balance: payee.balance + value }));
      },
      checkpoint: () => overlay.checkpoint(),
      revert: (mark) => overlay.revert(mark),
    };
  }
}

/** The smallest storage key of `address` with `prefix`, above `after`: staged writes merged with the index. */
async function nextKey(
  db: Level<Uint8Array, Uint8Array>, snapshot: IndexSnapshot | undefined, overlay: StateOverlay, address: Address, prefix: Uint8Array, after: Uint8Array | undefined,
): Promise<Uint8Array | undefined> {
  const base = storagePrefix(address);
  const above = (k: Uint8Array) => k.length >= prefix.length && compareBytes(k.subarray(0, prefix.length), prefix) === 0 && (after === undefined || compareBytes(k, after) > 0);
  const stagedLive = overlay.nextStaged(concatBytes(base, prefix), after && concatBytes(base, after))?.subarray(base.length);
  const indexBase = concatBytes(Uint8Array.of(STORAGE_INDEX), address);
  const from = concatBytes(indexBase, after !== undefined && compareBytes(after, prefix) > 0 ? after : prefix);
  let committed: Uint8Array | undefined;
  // Small batches, growing: most steps need one or two keys, and `for await` over the iterator
  // read ahead far more (~2.9 ms a step over a 100,000-key index against ~0.1 ms, bench/gas.bench.ts).
  const it = db.keys({ gte: from, lt: concatBytes(indexBase, new Uint8Array(257).fill(0xff)), ...(snapshot && { snapshot }) });
  try {
    scan: for (let size = 4; ; size = Math.min(size * 4, 1024)) {
      const batch = await it.nextv(size);
      for (const key of batch) {
        const k = key.subarray(indexBase.length);
        if (!above(k)) {
          if (compareBytes(k.subarray(0, prefix.length), prefix) > 0) break scan;
          continue;
        }
        if (overlay.deletes(concatBytes(base, k))) continue;
        committed = k;
        break scan;
      }
      if (batch.length < size) break;
    }
  } finally {
    await it.close();
  }
  if (stagedLive === undefined) return committed?.slice();
  if (committed === undefined) return stagedLive.slice();
  return (compareBytes(stagedLive, committed) <= 0 ? stagedLive : committed).slice();
}

/** A call transaction's limit cannot pay for loading the contract's code. */
class CodeOutOfGas extends Error {}

function failed(gasUsed: number, kind: string, message: string): ContractOutcome {
  return { ok: false, gasUsed, returnData: new Uint8Array(0), events: [], error: `${kind}: ${message}` };
}

function outcome(r: CallResult): ContractOutcome {
  if (!r.ok) return failed(r.gasUsed, r.failure!.kind, r.failure!.message);
  return { ok: true, gasUsed: r.gasUsed, returnData: r.returnData, events: r.events.map(eventOf), error: '' };
}

function eventOf(e: ContractEvent): Event {
  return {
    type: 'contract',
    attributes: [
      ['contract', formatAddress(e.address)],
      ...e.topics.map((t) => ['topic', toHex(t)] as [string, string]),
      ['data', toHex(e.data)],
    ],
  };
}

/** The index ops for a block's state writes: put or delete one entry per storage key written. */
export function storageIndexOps(writes: Iterable<readonly [Uint8Array, Uint8Array | null]>): BatchOp[] {
  const ops: BatchOp[] = [];
  for (const [key, value] of writes) {
    if (key[0] !== STORAGE) continue;
    const indexKey = concatBytes(Uint8Array.of(STORAGE_INDEX), key.subarray(1));
    ops.push(value === null ? { type: 'del', key: indexKey } : { type: 'put', key: indexKey, value: new Uint8Array(0) });
  }
  return ops;
}
