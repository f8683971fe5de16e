/**
 * The initial state a chain starts from. The genesis file format, its validation and validators
 * come with the node (genesis/); this is the part the executor needs.
 */
import type { Address } from './address.ts';

export interface GenesisAccount {
  address: Address;
  balance: bigint;
}

export interface GenesisState {
  chainId: string;
  /** Unix time in milliseconds; the first block's time must not be earlier. */
  time: number;
  accounts: GenesisAccount[];
}
