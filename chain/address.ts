/**
 * Addresses: the first 20 bytes of sha256(ed25519 public key), as CometBFT derives validator
 * addresses. Text form is bech32m with the prefix `hm` (e.g. `hm1q…`): a checksum catches typos, and
 * bech32m fixes bech32's weakness to inserted or deleted `q`s near the end.
 */
import { bech32m } from '@scure/base';
import { CodedError } from './errors.ts';
import { sha256 } from './hash.ts';

export const ADDRESS_LENGTH = 20;
export const ADDRESS_PREFIX = 'hm';

/** A 20-byte account or validator address. */
export type Address = Uint8Array;

export class AddressError extends CodedError<'address_invalid'> {
  constructor(message: string) {
    super('address_invalid', message);
  }
}

export function addressOf(publicKey: Uint8Array): Address {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new TypeError('publicKey: expected 32 bytes');
  }
  return sha256(publicKey).slice(0, ADDRESS_LENGTH);
}

export function formatAddress(address: Address): string {
  if (!(address instanceof Uint8Array) || address.length !== ADDRESS_LENGTH) {
    throw new TypeError(`address: expected ${ADDRESS_LENGTH} bytes`);
  }
  return bech32m.encodeFromBytes(ADDRESS_PREFIX, address);
}

/** Parses the text form; the error says what is wrong (prefix, checksum, characters, length). */
export function parseAddress(text: string): Address {
  if (typeof text !== 'string') throw new AddressError('address: expected text');
  const at = text.lastIndexOf('1');
  if (at < 1 || text.slice(0, at).toLowerCase() !== ADDRESS_PREFIX) {
    throw new AddressError(`address ${JSON.stringify(text)}: must start with "${ADDRESS_PREFIX}1"`);
  }
  let decoded;
  try {
    decoded = bech32m.decodeToBytes(text);
  } catch (err) {
    const reason = (err as Error).message.toLowerCase().includes('checksum') ? 'checksum does not match (typo?)' : (err as Error).message;
    throw new AddressError(`address ${JSON.stringify(text)}: ${reason}`);
  }
  if (decoded.bytes.length !== ADDRESS_LENGTH) {
    throw new AddressError(`address ${JSON.stringify(text)}: holds ${decoded.bytes.length} bytes, expected ${ADDRESS_LENGTH}`);
  }
  return decoded.bytes;
}
