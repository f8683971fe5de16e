/**
 * A call's gas, as runtime.ts hands it to the code: a slice in the instance's __hallmark_gas global,
 * which the code spends and host functions charge, and the rest, the reserve, held here. What is
 * left is always slice + reserve. When a slice runs out the code calls refuel, which lets the event
 * loop run before handing over the next one; a call's gas and trap points do not depend on the
 * slice size, since the code traps as out of gas only when slice and reserve together cannot pay.
 */

/** The call ran out of gas (the runtime fails it as `out_of_gas`). */
export class OutOfGas extends Error {}

/** A turn of the event loop: I/O callbacks and timers due run before this resolves. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class GasMeter {
  /** The current slice, in the instance (the code keeps it in a local between host calls). */
  readonly #gas: WebAssembly.Global;
  /** Most gas handed to the code at once. */
  readonly #interval: bigint;
  /** The call's gas not yet handed to the code. */
  #reserve = 0n;

  constructor(gas: WebAssembly.Global, interval: bigint) {
    this.#gas = gas;
    this.#interval = interval;
  }

  /** The call's gas left: the slice the code holds and the reserve. */
  left(): bigint {
    return (this.#gas.value as bigint) + this.#reserve;
  }

  /** Hands the code a first slice of `left`, the rest to the reserve. */
  setLeft(left: bigint): void {
    const slice = left < this.#interval ? left : this.#interval;
    this.#gas.value = slice;
    this.#reserve = left - slice;
  }

  /**
   * Takes `n` gas, from the slice while it can pay; past it the slice is emptied, so the code
   * refuels (and yields) at its next block: host charges count towards the interval too.
   */
  charge(n: number): void {
    const slice = this.#gas.value as bigint;
    const cost = BigInt(n);
    if (slice >= cost) {
      this.#gas.value = slice - cost;
      return;
    }
    const left = slice + this.#reserve;
    this.#gas.value = 0n;
    if (left < cost) {
      this.#reserve = 0n;
      throw new OutOfGas();
    }
    this.#reserve = left - cost;
  }

  /**
   * The code's slice (`slice`, it was not written back) cannot pay a block of `cost`: out of gas
   * if the reserve cannot make up the difference, which is where one budget would have trapped;
   * otherwise the next slice, at least `cost`, after a turn of the event loop.
   */
  async refuel(slice: bigint, cost: bigint): Promise<bigint> {
    const left = slice + this.#reserve;
    if (left < cost) {
      this.#gas.value = 0n;
      this.#reserve = 0n;
      throw new OutOfGas();
    }
    await nextTurn();
    const next = left < this.#interval ? left : cost > this.#interval ? cost : this.#interval;
    this.#reserve = left - next;
    return next;
  }

  /**
   * Takes up to `asked` for an inner call, which meters it on its own: out of the reserve first,
   * so the callee yields on its own slices and the caller's slice stays as it was.
   */
  forward(asked: bigint): bigint {
    const left = this.left();
    const forwarded = asked < left ? asked : left;
    const fromReserve = forwarded < this.#reserve ? forwarded : this.#reserve;
    this.#reserve -= fromReserve;
    this.#gas.value = (this.#gas.value as bigint) - (forwarded - fromReserve);
    return forwarded;
  }

  /** Gives back what an inner call did not use. */
  refund(n: bigint): void {
    this.#reserve += n;
  }
}
