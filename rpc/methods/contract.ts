/** contract_*: deployed code, and read-only calls on the latest state. */
import { z } from 'zod';
import { formatAddress } from '../../chain/address.ts';
import { MAX_METHOD_LENGTH, MAX_TX_BYTES } from '../../chain/tx.ts';
import { RpcError } from '../errors.ts';
import { AddressOut, Hash32, hex, hexOut, ReceiptJson, receiptJson, Uint } from '../json.ts';
import { AddressIn, defineRpcMethod, hexIn, latestHeight, readState } from '../method.ts';

/** The most gas a read-only contract_query may use. */
export const QUERY_GAS_CAP = 50_000_000;

export const contractGetCode = defineRpcMethod({
  name: 'contract_getCode',
  summary: 'A deployed contract: its original module, code hash, creator and callable methods.',
  params: z.strictObject({ address: AddressIn }),
  result: z.object({
    address: AddressOut, code_hash: Hash32, creator: AddressOut, methods: z.array(z.string()), size: Uint,
    code: hexOut('the module as deployed'), height: Uint.describe('the state version read'),
  }),
  errors: ['not_found'],
  async handler(node, p) {
    const height = latestHeight(node);
    const found = await readState(() => node.contractCode(p.address, height), height);
    if (found === undefined) throw RpcError.notFound(`no contract at ${formatAddress(p.address)}`, { address: formatAddress(p.address) });
    const { info, code } = found;
    return {
      address: formatAddress(info.address), code_hash: hex(info.codeHash), creator: formatAddress(info.creator),
      methods: info.methods, size: code.length, code: hex(code), height,
    };
  },
});

export const contractQuery = defineRpcMethod({
  name: 'contract_query',
  summary: 'Runs a contract method read-only on the latest committed state; nothing it writes is kept.',
  description: `Gas is capped at ${QUERY_GAS_CAP}. A failing method is a result with ok false and the reason, not an RPC error.`,
  params: z.strictObject({
    address: AddressIn,
    method: z.string().min(1).max(MAX_METHOD_LENGTH),
    args: hexIn('arguments in the contract ABI encoding', { maxBytes: MAX_TX_BYTES }).optional(),
    gas_limit: Uint.max(QUERY_GAS_CAP).optional().describe(`default and maximum ${QUERY_GAS_CAP}`),
    caller: AddressIn.optional().describe('the caller the method sees (default: the zero address)'),
  }),
  result: z.object({
    ok: z.boolean(), gas_used: Uint, return_data: hexOut('return data'), error: z.string().optional(),
    events: ReceiptJson.shape.events, height: Uint.describe('the state version the query ran on'),
  }),
  errors: ['not_found'],
  async handler(node, p) {
    const latest = latestHeight(node); // before genesis: the error every state method gives
    const { height, outcome: out } = await readState(() => node.queryContract({
      address: p.address, method: p.method, args: p.args ?? new Uint8Array(0), gasLimit: p.gas_limit ?? QUERY_GAS_CAP,
      caller: p.caller ?? new Uint8Array(20),
    }), latest);
    if (!out.ok && out.error.startsWith('no_contract:')) throw RpcError.notFound(`no contract at ${formatAddress(p.address)}`, { address: formatAddress(p.address) });
    const receipt = receiptJson({ status: 0, gasUsed: out.gasUsed, events: out.events, error: out.error, returnData: out.returnData });
    return {
      ok: out.ok, gas_used: out.gasUsed, return_data: hex(out.returnData), ...(out.ok ? {} : { error: out.error }),
      events: receipt.events, height,
    };
  },
});
