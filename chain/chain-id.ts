import { CodecError } from './codec.ts';

export const MAX_CHAIN_ID_LENGTH = 64;
const CHAIN_ID = /^[a-z0-9][a-z0-9._-]*$/;

/** A chain id is part of everything signed, so its form is fixed: short, lower-case, no spaces. */
export function checkChainId(chainId: string): string {
  if (typeof chainId !== 'string' || chainId.length === 0 || chainId.length > MAX_CHAIN_ID_LENGTH || !CHAIN_ID.test(chainId)) {
    throw new RangeError(`chain id ${JSON.stringify(chainId)}: use 1-${MAX_CHAIN_ID_LENGTH} characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit`);
  }
  return chainId;
}

/** Reads a chain id field from decoded bytes: the same rule, as a CodecError. */
export function readChainId(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_CHAIN_ID_LENGTH || !CHAIN_ID.test(v)) {
    throw new CodecError('schema', `${what}: not a valid chain id`);
  }
  return v;
}
