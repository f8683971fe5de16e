/**
 * The part of ffjavascript (which ships no types) that zk/ uses: the BN254 curve built in
 * WebAssembly (`buildBn128(true)`: single-threaded, no workers). Points and field elements are
 * Uint8Arrays in ffjavascript's Montgomery form; G1/G2 points are affine (2 coordinates) or
 * Jacobian (3 coordinates), told apart by their length.
 */
declare module 'ffjavascript' {
  export interface Field {
    readonly n8: number;
    readonly zero: Uint8Array;
    readonly one: Uint8Array;
    fromObject(a: unknown): Uint8Array;
    toObject(a: Uint8Array): unknown;
    add(a: Uint8Array, b: Uint8Array): Uint8Array;
    mul(a: Uint8Array, b: Uint8Array): Uint8Array;
    square(a: Uint8Array): Uint8Array;
    isSquare(a: Uint8Array): boolean;
    sqrt(a: Uint8Array): Uint8Array;
    eq(a: Uint8Array, b: Uint8Array): boolean;
  }
  export interface Group {
    readonly F: Field;
    readonly zero: Uint8Array;
    readonly one: Uint8Array;
    readonly b: Uint8Array;
    add(a: Uint8Array, b: Uint8Array): Uint8Array;
    neg(a: Uint8Array): Uint8Array;
    isZero(a: Uint8Array): boolean;
    timesScalar(a: Uint8Array, s: bigint | Uint8Array): Uint8Array;
    eq(a: Uint8Array, b: Uint8Array): boolean;
    toAffine(a: Uint8Array): Uint8Array;
    toJacobian(a: Uint8Array): Uint8Array;
    isValid(a: Uint8Array): boolean;
    fromObject(a: unknown): Uint8Array;
    toObject(a: Uint8Array): unknown;
  }
  export interface Curve {
    readonly q: bigint;
    readonly r: bigint;
    readonly F1: Field;
    readonly F2: Field;
    readonly F12: Field;
    readonly G1: Group;
    readonly G2: Group;
    readonly Gt: Field;
    prepareG1(p: Uint8Array): Uint8Array;
    prepareG2(p: Uint8Array): Uint8Array;
    millerLoop(preP: Uint8Array, preQ: Uint8Array): Uint8Array;
    finalExponentiation(a: Uint8Array): Uint8Array;
    terminate(): Promise<void>;
  }
  export function buildBn128(singleThread?: boolean): Promise<Curve>;
}
