/**
 * Admission of a call carrying Groth16 proofs (protocol 3): the costliest check the mempool makes
 * (each proof ~3–9 ms of a verifier thread), and one a refused transaction never pays for. So the
 * cheap checks come first: the gas limit must cover the proofs' price (the fee floor then makes the
 * sender pay for every proof if the transaction is committed), and the sender must hold the fee
 * now. Then at most MAX_PROOF_CHECKS transactions are verified at once; more are refused as
 * `proofs_busy` (retry later) rather than queued, so a flood of proofs cannot hold the verifier
 * threads that blocks wait on. Verification stops at the first invalid proof.
 */
import { senderAddress, type SignedTransaction } from '../chain/tx.ts';
import type { AccountReader } from '../execution/account.ts';
import { intrinsicGas } from '../execution/transaction.ts';
import { MempoolError, noProofs, type ProofCheck } from './config.ts';

/** Calls carrying proofs verified at once for admission, node-wide. */
export const MAX_PROOF_CHECKS = 8;

export class ProofAdmission {
  readonly #check: ProofCheck;
  readonly #accounts: AccountReader;
  #running = 0;

  constructor(check: ProofCheck | undefined, accounts: AccountReader) {
    this.#check = check ?? noProofs;
    this.#accounts = accounts;
  }

  /** Throws MempoolError unless every proof `stx` carries is valid for a registered key. */
  async admit(stx: SignedTransaction): Promise<void> {
    const p = stx.tx.payload;
    if (p.kind !== 'call' || p.proofs === undefined) return;
    const need = intrinsicGas(stx.bytes.length, p);
    if (stx.tx.gasLimit < need) {
      throw new MempoolError('gas_limit_too_low', `gas limit ${stx.tx.gasLimit} does not cover the ${need} gas the call's ${p.proofs.length} proof(s) and envelope cost; no block would run it`);
    }
    const account = await this.#accounts.getAccount(senderAddress(stx));
    if (account.balance < stx.tx.fee) throw new MempoolError('insufficient_fee_balance', `fee ${stx.tx.fee} exceeds the balance ${account.balance}`);
    if (this.#running >= MAX_PROOF_CHECKS) throw new MempoolError('proofs_busy', `${MAX_PROOF_CHECKS} transactions' proofs are being verified; retry later`);
    this.#running++;
    try {
      const refusal = await this.#check(p.proofs);
      if (refusal !== null) throw new MempoolError(refusal.code, refusal.message);
    } finally {
      this.#running--;
    }
  }
}
