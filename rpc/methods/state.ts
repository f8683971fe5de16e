/** state_*: accounts and Merkle proofs of any state key. */
import { z } from 'zod';
import { formatAddress } from '../../chain/address.ts';
import { encodeStateProof, MAX_KEY_BYTES } from '../../state/tree.ts';
import { accountKey, accountOf } from '../../execution/account.ts';
import { AddressOut, AmountOut, Hash32, hex, hexOut, Uint } from '../json.ts';
import { AddressIn, defineRpcMethod, HeightIn, hexIn, latestHeight, readState, resolveHeight } from '../method.ts';

export const stateGetAccount = defineRpcMethod({
  name: 'state_getAccount',
  summary: 'Balance and nonce of an account in the latest committed state (zero for an account never used).',
  params: z.strictObject({ address: AddressIn }),
  result: z.object({ address: AddressOut, balance: AmountOut, nonce: Uint, height: Uint.describe('the state version read') }),
  errors: [],
  async handler(node, p) {
    const height = latestHeight(node);
    const account = accountOf(await readState(() => node.stateValue(accountKey(p.address), height), height));
    return { address: formatAddress(p.address), balance: account.balance.toString(), nonce: account.nonce, height };
  },
});

export const stateGetProof = defineRpcMethod({
  name: 'state_getProof',
  summary: 'A Merkle proof that a state key holds a value (or is absent) at a height, with that height\'s root.',
  description: 'Give key (raw state key) or address (for its account key 0x01 || address), not both. Verify with ' +
    'state/proof.ts: verifyStateProof(root, key, value ?? undefined, decodeStateProof(proof)).',
  params: z.strictObject({
    key: hexIn('state key', { maxBytes: MAX_KEY_BYTES }).optional(),
    address: AddressIn.optional(),
    height: HeightIn.optional().describe('state version: the state after this block (default: the latest; 0 is genesis)'),
  }).refine((p) => (p.key === undefined) !== (p.address === undefined), { message: 'give exactly one of key and address', path: ['key'] }),
  result: z.object({
    key: hexOut('state key'),
    height: Uint,
    value: hexOut('stored value').nullable().describe('null when the key is absent'),
    proof: hexOut('proof in the state/proof.ts canonical encoding'),
    root: Hash32.describe('state root at height'),
  }),
  errors: ['not_found'],
  async handler(node, p) {
    const height = resolveHeight(node, p.height, 'state');
    const key = p.key ?? accountKey(p.address!);
    const proved = await readState(() => node.stateProof(key, height), height);
    return {
      key: hex(key),
      height,
      value: proved.value === undefined ? null : hex(proved.value),
      proof: hex(encodeStateProof(proved.proof)),
      root: hex(proved.root),
    };
  },
});
