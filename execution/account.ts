/**
 * Accounts in the state tree: key = 0x01 || address, value = canonical [balance, nonce].
 * The nonce counts the account's executed transactions; the next transaction must carry it.
 */
import { ADDRESS_LENGTH, type Address } from '../chain/address.ts';
import { byteKey, concatBytes } from '../chain/bytes.ts';
import { amount, checkAmount, checkUint, decodeCanonical, encodeCanonical, tuple, uint } from '../chain/codec.ts';

export const ACCOUNT_KEY_PREFIX = 0x01;

export interface Account {
  balance: bigint;
  nonce: number;
}

export const EMPTY_ACCOUNT: Readonly<Account> = Object.freeze({ balance: 0n, nonce: 0 });

/** Reads committed accounts; the mempool and RPC see state through this. */
export interface AccountReader {
  getAccount(address: Address): Promise<Account>;
}

export function accountKey(address: Address): Uint8Array {
  if (address.length !== ADDRESS_LENGTH) throw new TypeError('address: expected 20 bytes');
  return concatBytes(Uint8Array.of(ACCOUNT_KEY_PREFIX), address);
}

export function encodeAccount(a: Account): Uint8Array {
  return encodeCanonical([checkAmount(a.balance, 'account.balance'), checkUint(a.nonce, 'account.nonce')]);
}

/** The account stored under its key, or the empty account when nothing is stored there. */
export function accountOf(stored: Uint8Array | undefined): Account {
  return stored ? decodeAccount(stored) : { ...EMPTY_ACCOUNT };
}

export function decodeAccount(bytes: Uint8Array): Account {
  const [balance, nonce] = tuple(decodeCanonical(bytes, 'account', 64), 2, 'account');
  return { balance: amount(balance, 'account.balance'), nonce: uint(nonce, 'account.nonce') };
}

/**
 * The accounts among a block's state writes, as they now stand, keyed by address bytes as a latin1
 * string; a deleted account reads as the empty one.
 */
export function writtenAccounts(writes: readonly (readonly [Uint8Array, Uint8Array | null])[]): Map<string, Account> {
  const out = new Map<string, Account>();
  for (const [key, value] of writes) {
    if (key.length !== 1 + ADDRESS_LENGTH || key[0] !== ACCOUNT_KEY_PREFIX) continue;
    out.set(byteKey(key.subarray(1)), accountOf(value ?? undefined));
  }
  return out;
}
