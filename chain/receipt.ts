/**
 * Receipts: what executing one transaction did. Status codes are stable numbers that clients may
 * switch on; the error message is for people.
 *
 * Wire shape: [status, gasUsed, [[type, [[key, value], ...]], ...], error, returnData]
 */
import { bytes, checkUint, CodecError, decodeCanonical, encodeCanonical, list, text, tuple, uint, type CborValue } from './codec.ts';
import { merkleRoot } from './merkle.ts';

/** Stable receipt status codes. 0 is success; the rest say why nothing but the fee was applied. */
export const TxStatus = {
  ok: 0,
  /**
   * Reserved: under protocol 1 a transaction with a bad signature, for another chain or that does
   * not decode makes its block invalid (chain/block-rules.ts), so no receipt carries 1, 2 or 7.
   */
  invalid_signature: 1,
  wrong_chain: 2,
  /** Nonce or fee balance check failed: the transaction had no effect at all. */
  bad_nonce: 3,
  insufficient_fee_balance: 4,
  /** Fee paid and nonce used, but the payload was reverted. */
  insufficient_funds: 5,
  out_of_gas: 6,
  malformed: 7,
  /** Fee paid and nonce used; the contract call failed (the error says how) and was reverted. */
  contract_failed: 8,
  /** Fee paid and nonce used; the module was refused at deploy (the error says why). */
  invalid_contract: 9,
  /** Fee paid and nonce used; the model registry refused the operation (the error says why). */
  model_refused: 10,
  /**
   * Fee paid and nonce used; a verification key was refused, or a proof the call carried was
   * (unknown key, not valid by the rule): the error is `code: message`, and the call did not run.
   */
  zk_refused: 11,
} as const;
export type TxStatusCode = (typeof TxStatus)[keyof typeof TxStatus];
const STATUS_CODES = new Set<number>(Object.values(TxStatus));

export interface Event {
  type: string;
  attributes: [key: string, value: string][];
}

export interface Receipt {
  status: TxStatusCode;
  gasUsed: number;
  events: Event[];
  /** Empty on success. */
  error: string;
  /** A contract call's return data, a deploy's contract address; empty otherwise. */
  returnData: Uint8Array;
}

const MAX_EVENTS = 256;
const MAX_ATTRIBUTES = 64;
const MAX_TEXT = 4096;

function receiptTuple(r: Receipt): CborValue {
  return [r.status, checkUint(r.gasUsed, 'receipt.gasUsed'), r.events.map((e) => [e.type, e.attributes.map(([k, v]) => [k, v])]), r.error, r.returnData];
}

export function encodeReceipt(r: Receipt): Uint8Array {
  return encodeCanonical(receiptTuple(r));
}

export function decodeReceipt(encoded: Uint8Array): Receipt {
  const [status, gasUsed, events, error, returnData] = tuple(decodeCanonical(encoded, 'receipt', 1 << 20), 5, 'receipt');
  const code = uint(status, 'receipt.status');
  if (!STATUS_CODES.has(code)) throw new CodecError('schema', `receipt.status: unknown code ${code}`);
  return {
    status: code as TxStatusCode,
    gasUsed: uint(gasUsed, 'receipt.gasUsed'),
    events: list(events, MAX_EVENTS, 'receipt.events').map((e, i) => {
      const [type, attrs] = tuple(e, 2, `receipt.events[${i}]`);
      return {
        type: text(type, `receipt.events[${i}].type`, MAX_TEXT),
        attributes: list(attrs, MAX_ATTRIBUTES, `receipt.events[${i}].attributes`).map((a, j) => {
          const [k, v] = tuple(a, 2, `receipt.events[${i}].attributes[${j}]`);
          return [text(k, 'attribute key', MAX_TEXT), text(v, 'attribute value', MAX_TEXT)] as [string, string];
        }),
      };
    }),
    error: text(error, 'receipt.error', MAX_TEXT),
    returnData: bytes(returnData, 'receipt.returnData', { max: 1 << 19 }),
  };
}

/** Merkle root over the receipts' encodings, in block order: the next header's lastResultsHash. */
export function receiptsRoot(encodedReceipts: readonly Uint8Array[]): Uint8Array {
  return merkleRoot(encodedReceipts);
}
