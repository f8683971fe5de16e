/**
 * The weighted validator set and CometBFT's proposer rotation.
 *
 * Proposer rule (CometBFT types/validator_set.go): every validator carries a priority; one
 * increment adds each validator's power to its priority, picks the highest priority (ties go to the
 * smaller address) as proposer and subtracts the total power from it. Before a batch of increments
 * the priorities are rescaled so that max - min <= 2 * total, and centred on their average, so they
 * stay bounded forever. Over any window of `total` increments (without rescaling) each validator
 * proposes exactly `power` times.
 *
 * Heights and rounds as CometBFT uses them: the set at the initial height has been incremented once
 * (NewValidatorSet); each later height increments the previous height's set once; round r of a
 * height increments a copy of that height's set r more times. Priorities are bigints so arithmetic
 * is exact and the same on every validator.
 */
import type { Address } from '../chain/address.ts';
import { ADDRESS_LENGTH } from '../chain/address.ts';
import { compareBytes, equalBytes, toHex } from '../chain/bytes.ts';

/** CometBFT's PriorityWindowSizeFactor: priorities are kept within 2 * total power of each other. */
const PRIORITY_WINDOW_FACTOR = 2n;
/** CometBFT caps total power at MaxInt64 / 8 so priorities never overflow; we keep it a safe integer. */
export const MAX_TOTAL_POWER = Math.floor(Number.MAX_SAFE_INTEGER / 8);

export interface Validator {
  address: Address;
  publicKey: Uint8Array;
  power: number;
}

export class ValidatorSet {
  /** Sorted by address, the canonical order for hashing, indexing and tie-breaks. */
  readonly validators: readonly Validator[];
  readonly totalPower: number;
  readonly initialHeight: number;
  readonly #index = new Map<string, number>();
  // Priorities at #cachedHeight, so walking heights forward costs one increment each.
  #cachedHeight = 0;
  #cachedPriorities: bigint[] = [];
  #cachedProposer = 0;

  constructor(validators: readonly Validator[], initialHeight = 1) {
    if (validators.length === 0) throw new RangeError('validator set: must not be empty');
    if (!Number.isSafeInteger(initialHeight) || initialHeight < 1) throw new RangeError('validator set: initialHeight must be a positive integer');
    let total = 0;
    for (const [i, v] of validators.entries()) {
      if (!(v.address instanceof Uint8Array) || v.address.length !== ADDRESS_LENGTH) throw new TypeError(`validators[${i}].address: expected ${ADDRESS_LENGTH} bytes`);
      if (!(v.publicKey instanceof Uint8Array) || v.publicKey.length !== 32) throw new TypeError(`validators[${i}].publicKey: expected 32 bytes`);
      if (!Number.isSafeInteger(v.power) || v.power <= 0) throw new RangeError(`validators[${i}].power: expected a positive integer, got ${v.power}`);
      total += v.power;
      if (total > MAX_TOTAL_POWER) throw new RangeError(`validator set: total power exceeds ${MAX_TOTAL_POWER}`);
    }
    const sorted = [...validators].map((v) => ({ ...v })).sort((a, b) => compareBytes(a.address, b.address));
    for (const [i, v] of sorted.entries()) {
      const key = toHex(v.address);
      if (this.#index.has(key)) throw new RangeError(`validator set: duplicate address ${key}`);
      this.#index.set(key, i);
    }
    this.validators = sorted;
    this.totalPower = total;
    this.initialHeight = initialHeight;
  }

  get size(): number {
    return this.validators.length;
  }

  indexOf(address: Address): number {
    return this.#index.get(toHex(address)) ?? -1;
  }

  byAddress(address: Address): Validator | undefined {
    const i = this.indexOf(address);
    return i < 0 ? undefined : this.validators[i];
  }

  /** The least power that is more than 2/3 of the total: floor(2T/3) + 1. */
  get quorumPower(): number {
    return Number((2n * BigInt(this.totalPower)) / 3n) + 1;
  }

  /** power > 2/3 of total, compared as 3p > 2T in exact integers. */
  isQuorum(power: number): boolean {
    return 3n * BigInt(power) > 2n * BigInt(this.totalPower);
  }

  /** power > 1/3 of total (f + 1): at least one honest validator is among them. */
  isOneThird(power: number): boolean {
    return 3n * BigInt(power) > BigInt(this.totalPower);
  }

  /** The proposer for (height, round); a pure function of the set, height and round. */
  proposer(height: number, round: number): Validator {
    if (!Number.isSafeInteger(height) || height < this.initialHeight) throw new RangeError(`proposer: height must be an integer >= ${this.initialHeight}`);
    if (!Number.isSafeInteger(round) || round < 0) throw new RangeError('proposer: round must be a non-negative integer');
    const [priorities, atHeight] = this.#prioritiesAt(height);
    const index = round === 0 ? atHeight : this.#increment([...priorities], round);
    return this.validators[index]!;
  }

  isProposer(address: Address, height: number, round: number): boolean {
    return equalBytes(this.proposer(height, round).address, address);
  }

  #prioritiesAt(height: number): [bigint[], number] {
    if (this.#cachedHeight === 0 || height < this.#cachedHeight) {
      this.#cachedPriorities = this.validators.map(() => 0n);
      this.#cachedProposer = this.#increment(this.#cachedPriorities, 1);
      this.#cachedHeight = this.initialHeight;
    }
    while (this.#cachedHeight < height) {
      this.#cachedProposer = this.#increment(this.#cachedPriorities, 1);
      this.#cachedHeight++;
    }
    return [this.#cachedPriorities, this.#cachedProposer];
  }

  /** CometBFT IncrementProposerPriority(times), in place; returns the last proposer's index. */
  #increment(priorities: bigint[], times: number): number {
    const total = BigInt(this.totalPower);
    rescale(priorities, PRIORITY_WINDOW_FACTOR * total);
    const avg = floorDiv(priorities.reduce((a, b) => a + b, 0n), BigInt(priorities.length));
    for (let i = 0; i < priorities.length; i++) priorities[i] = priorities[i]! - avg;
    let proposer = 0;
    for (let t = 0; t < times; t++) {
      for (let i = 0; i < priorities.length; i++) priorities[i] = priorities[i]! + BigInt(this.validators[i]!.power);
      proposer = 0;
      // Strictly greater keeps the first (smallest address) on ties.
      for (let i = 1; i < priorities.length; i++) if (priorities[i]! > priorities[proposer]!) proposer = i;
      priorities[proposer] = priorities[proposer]! - total;
    }
    return proposer;
  }
}

/** Divides every priority by ceil(diff / window) when max - min exceeds the window (Go truncation). */
function rescale(priorities: bigint[], window: bigint): void {
  let max = priorities[0]!;
  let min = priorities[0]!;
  for (const p of priorities) {
    if (p > max) max = p;
    if (p < min) min = p;
  }
  const diff = max - min;
  if (window === 0n || diff <= window) return;
  const ratio = (diff + window - 1n) / window;
  // BigInt division truncates toward zero, like Go's int64 division.
  for (let i = 0; i < priorities.length; i++) priorities[i] = priorities[i]! / ratio;
}

/** Floor division, as Go's big.Int Div (Euclidean for a positive divisor) computes the average. */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}
