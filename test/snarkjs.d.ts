/**
 * The part of snarkjs (which ships no types) that the zk fixtures, tests and bench use: the
 * deterministic setup (powers of tau with a beacon, groth16 zkey with a beacon), proving and
 * snarkjs's own verifier (the reference our verifier is compared with).
 */
declare module 'snarkjs' {
  type Logger = { info(...a: unknown[]): void; error(...a: unknown[]): void; debug(...a: unknown[]): void; warn(...a: unknown[]): void };
  export interface Groth16Proof {
    pi_a: string[];
    pi_b: string[][];
    pi_c: string[];
    protocol: string;
    curve: string;
  }
  export const groth16: {
    fullProve(input: Record<string, unknown>, wasm: string, zkey: string): Promise<{ proof: Groth16Proof; publicSignals: string[] }>;
    verify(vk: unknown, publicSignals: unknown, proof: unknown, logger?: Logger): Promise<boolean>;
  };
  export const powersOfTau: {
    newAccumulator(curve: unknown, power: number, file: string, logger?: Logger): Promise<unknown>;
    beacon(oldPtau: string, newPtau: string, name: string, beaconHash: string, numIterationsExp: number, logger?: Logger): Promise<unknown>;
    preparePhase2(oldPtau: string, newPtau: string, logger?: Logger): Promise<unknown>;
  };
  export const zKey: {
    newZKey(r1cs: string, ptau: string, zkey: string, logger?: Logger): Promise<unknown>;
    beacon(oldZkey: string, newZkey: string, name: string, beaconHash: string, numIterationsExp: number, logger?: Logger): Promise<unknown>;
    exportVerificationKey(zkey: string): Promise<Record<string, unknown>>;
  };
  export const r1cs: {
    info(file: string, logger?: Logger): Promise<{ nConstraints: number; nPubInputs: number; nOutputs: number }>;
  };
  export const curves: {
    getCurveFromName(name: string): Promise<{ terminate(): Promise<void> }>;
  };
}
