/**
 * What one transaction of a valid block does to the state: the fee, the nonce, the gas its
 * envelope costs before its payload runs, and the payload (a transfer, or a contract deploy or
 * call run by the VM). The block around it (execution/executor.ts) has already checked its chain
 * id, signature, sender key, gas cap and fee floor.
 */
import { addressOf, formatAddress, type Address } from '../chain/address.ts';
import type { Header } from '../chain/block.ts';
import { TxStatus, type Event, type Receipt, type TxStatusCode } from '../chain/receipt.ts';
import type { Payload, SignedTransaction } from '../chain/tx.ts';
import type { StateOverlay } from '../state/overlay.ts';
import { GAS as VM_GAS } from '../vm/limits.ts';
import { accountKey, accountOf, encodeAccount, type Account } from './account.ts';
import type { Contracts } from './contracts.ts';
import { executeModelOp, ModelRefusal, modelOpGas } from './models.ts';
import { proofGas, zkKeyGas, ZkRefusal, type Zk } from './zk.ts';
import type { Answer } from '../zk/groth16.ts';

/**
 * Gas: a fixed cost per transaction plus a cost per byte of its encoding, plus the payload's own,
 * priced by time as vm/limits.ts is (bench/gas.bench.ts, docs/contracts.md). txBase covers what
 * every transaction costs with state and caches cold: its signature checked with a new key, its
 * sender's account read, updated and committed, its receipt; transfer the recipient's account (a
 * new one: a missing read and an insert); txByte decoding, hashing and storing the bytes.
 */
export const GAS = Object.freeze({ txBase: 800_000, txByte: 15, transfer: 300_000 });

/** Gas a transaction of `size` encoded bytes uses before its payload runs: what a transfer uses in all. */
export function intrinsicGas(size: number, payload: Payload): number {
  const kind = payload.kind === 'transfer' ? GAS.transfer
    : payload.kind === 'deploy' ? VM_GAS.deployBase + VM_GAS.deployByte * payload.code.length
    : payload.kind === 'model' ? modelOpGas(payload.op)
    : payload.kind === 'zk_key' ? zkKeyGas(payload.key.length) : VM_GAS.callBase + proofGas(payload.proofs ?? []);
  return GAS.txBase + GAS.txByte * size + kind;
}

function failure(status: TxStatusCode, gasUsed: number, error: string): Receipt {
  return { status, gasUsed, events: [], error, returnData: new Uint8Array(0) };
}

async function readAccount(overlay: StateOverlay, address: Address): Promise<Account> {
  return accountOf(await overlay.get(accountKey(address)));
}

function writeAccount(overlay: StateOverlay, address: Address, a: Account): void {
  overlay.set(accountKey(address), encodeAccount(a));
}

/** Groth16 for a protocol-3 block: the verifier and the answers to this transaction's proofs, verified before the block ran. */
export interface TxZk {
  zk: Zk;
  answers: readonly (Answer | undefined)[] | undefined;
}

/**
 * One transaction of a valid block (its chain id, signature, sender key, gas cap and fee floor
 * were checked with the block). Checks that fail before the fee is taken (nonce, fee balance)
 * leave no trace; after that the whole fee is paid to the proposer (unused gas is not refunded)
 * and the nonce advances whatever the payload does, and a failing payload is reverted.
 */
export async function executeTx(
  overlay: StateOverlay, stx: SignedTransaction, proposer: Address, contracts: Contracts, header: Header, zk?: TxZk,
): Promise<Receipt> {
  const { tx } = stx;
  const chainId = header.chainId;
  const sender = addressOf(tx.sender);
  const from = await readAccount(overlay, sender);
  if (tx.nonce !== from.nonce) return failure(TxStatus.bad_nonce, 0, `nonce ${tx.nonce}: account nonce is ${from.nonce}`);
  if (from.balance < tx.fee) return failure(TxStatus.insufficient_fee_balance, 0, `balance ${from.balance} does not cover fee ${tx.fee}`);

  writeAccount(overlay, sender, { balance: from.balance - tx.fee, nonce: from.nonce + 1 });
  if (tx.fee > 0n) {
    const p = await readAccount(overlay, proposer);
    writeAccount(overlay, proposer, { ...p, balance: p.balance + tx.fee });
  }
  const p = tx.payload;
  const intrinsic = intrinsicGas(stx.bytes.length, p);
  if (intrinsic > tx.gasLimit) return failure(TxStatus.out_of_gas, tx.gasLimit, `needs ${intrinsic} gas, limit is ${tx.gasLimit}`);

  const mark = overlay.checkpoint();
  if (p.kind === 'transfer') {
    const payer = await readAccount(overlay, sender);
    if (payer.balance < p.amount) {
      overlay.revert(mark);
      return failure(TxStatus.insufficient_funds, intrinsic, `balance ${payer.balance} is less than ${p.amount}`);
    }
    writeAccount(overlay, sender, { ...payer, balance: payer.balance - p.amount });
    const payee = await readAccount(overlay, p.to);
    writeAccount(overlay, p.to, { ...payee, balance: payee.balance + p.amount });
    const events: Event[] = [{
      type: 'transfer',
      attributes: [['from', formatAddress(sender)], ['to', formatAddress(p.to)], ['amount', p.amount.toString()]],
    }];
    return { status: TxStatus.ok, gasUsed: intrinsic, events, error: '', returnData: new Uint8Array(0) };
  }
  if (p.kind === 'model') {
    try {
      const events = await executeModelOp(overlay, p.op, { sender, header, txHash: stx.hash });
      return { status: TxStatus.ok, gasUsed: intrinsic, events, error: '', returnData: new Uint8Array(0) };
    } catch (err) {
      if (!(err instanceof ModelRefusal)) throw err;
      overlay.revert(mark);
      return failure(TxStatus.model_refused, intrinsic, `${err.code}: ${err.message}`);
    }
  }
  if (p.kind === 'zk_key' || (p.kind === 'call' && p.proofs !== undefined)) {
    // The block rule admits these payloads only under protocol 3, whose executor always has zk.
    if (zk === undefined) throw new Error('a Groth16 payload reached an executor without a verifier');
    try {
      if (p.kind === 'zk_key') {
        const events = await zk.zk.register(overlay, p.key, sender, header.height);
        return { status: TxStatus.ok, gasUsed: intrinsic, events, error: '', returnData: new Uint8Array(0) };
      }
      await zk.zk.checkCarried(overlay, p.proofs!, zk.answers);
    } catch (err) {
      if (!(err instanceof ZkRefusal)) throw err;
      overlay.revert(mark);
      return failure(TxStatus.zk_refused, intrinsic, `${err.code}: ${err.message}`);
    }
  }
  // Contracts: what is left of the limit after the intrinsic gas is the VM's.
  const block = { chainId, height: header.height, time: header.time, origin: sender };
  const vmGas = tx.gasLimit - intrinsic;
  const out = p.kind === 'deploy'
    ? await contracts.deploy(overlay, block, sender, tx.nonce, p.code, p.args, vmGas)
    : await contracts.call(overlay, block, sender, p.contract, p.method, p.args, p.value, vmGas, p.kind === 'call' ? p.proofs : undefined);
  const gasUsed = intrinsic + out.gasUsed;
  if (!out.ok) {
    overlay.revert(mark);
    return failure(out.refused === true ? TxStatus.invalid_contract : TxStatus.contract_failed, gasUsed, out.error);
  }
  return { status: TxStatus.ok, gasUsed, events: out.events, error: '', returnData: out.returnData };
}
