/** Signing a transaction with a key of the key store and broadcasting it: what `tx transfer` and `contract deploy` and `call` share. */
import type { Command } from 'commander';
import { addressOf, formatAddress } from '../chain/address.ts';
import { toHex } from '../chain/bytes.ts';
import { encodeSignedTransaction, signTransaction, type Payload, type Transaction } from '../chain/tx.ts';
import { intrinsicGas } from '../execution/transaction.ts';
import { proofGas } from '../execution/zk.ts';
import { parseSafeInt, parseU64 } from './args.ts';
import type { CommandContext } from './context.ts';
import { FAUCET_KEY, getKey } from './keystore.ts';

/** Gas limit of contract deploys and calls unless --gas-limit says otherwise (a transfer's is exact). */
export const DEFAULT_CONTRACT_GAS = 20_000_000;

/** The options of every command that signs and sends a transaction. */
export function sendOptions(c: Command, defaultGas: string): Command {
  return c
    .option('--fee <n>', "fee in base units (default: the gas limit times the node's minimum gas price; unused gas is not refunded)")
    .option('--from <name>', 'key that signs and pays', FAUCET_KEY)
    .option('--nonce <n>', "sender nonce (default: the account's next nonce)")
    .option('--gas-limit <n>', `gas limit, at most the chain's max_gas (default: ${defaultGas})`)
    .option('--no-wait', 'return once the mempool admits it instead of waiting for the commit');
}

export interface SendOpts {
  fee?: string;
  from: string;
  nonce?: string;
  gasLimit?: string;
  wait: boolean;
}

/**
 * The gas a transfer, a model registry operation or a key registration uses is its intrinsic gas, which depends on its encoded size, which depends
 * on the gas limit and fee it declares: iterate to the fixed point (sizes settle in a step or two).
 */
function exactIntrinsicGas(priced: (gasLimit: number) => Transaction): number {
  let gas = 0;
  for (let i = 0; i < 8; i++) {
    const tx = priced(gas);
    const need = intrinsicGas(encodeSignedTransaction({ tx, signature: new Uint8Array(64) }).length, tx.payload);
    if (need <= gas) return gas;
    gas = need;
  }
  return gas;
}

/**
 * Signs `payload` with the --from key and broadcasts it. The nonce is looked up unless given;
 * without --gas-limit a transfer, model operation or key registration declares exactly the gas it uses and a contract transaction
 * DEFAULT_CONTRACT_GAS (plus what the proofs a call carries cost); without --fee the fee is the gas limit times the node's minimum gas price.
 */
export async function send(ctx: CommandContext, cmd: Command, opts: SendOpts, payload: Payload) {
  const givenFee = opts.fee === undefined ? null : parseU64(opts.fee, '--fee');
  const givenGas = opts.gasLimit === undefined ? null : parseSafeInt(opts.gasLimit, '--gas-limit');
  const given = opts.nonce === undefined ? null : parseSafeInt(opts.nonce, '--nonce');
  const key = await getKey(ctx.homeOf(cmd), opts.from);
  const rpc = await ctx.rpcOf(cmd);
  const status = await rpc.call('chain_status');
  const price = BigInt((await rpc.call('chain_getParams')).admission_min_gas_price);
  const nonce = given ?? (await rpc.call('state_getAccount', { address: formatAddress(addressOf(key.publicKey)) })).nonce;
  const base = { chainId: status.chain_id, sender: key.publicKey, nonce, payload };
  const priced = (gasLimit: number): Transaction => ({ ...base, gasLimit, fee: givenFee ?? BigInt(gasLimit) * price });
  const t = priced(givenGas ?? (payload.kind === 'transfer' || payload.kind === 'model' || payload.kind === 'zk_key' ? exactIntrinsicGas(priced)
    : DEFAULT_CONTRACT_GAS + (payload.kind === 'call' ? proofGas(payload.proofs ?? []) : 0)));
  const signed = signTransaction(t, key.secretKey);
  key.secretKey.fill(0);
  const r = await rpc.call('tx_broadcast', { tx: toHex(signed.bytes), wait: opts.wait ? 'committed' : 'checked' });
  return { r, nonce, sender: addressOf(t.sender) };
}
