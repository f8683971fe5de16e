/** WebAssembly contracts: deploy, call, query, code (docs/contracts.md). */
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatAddress, parseAddress } from '../../chain/address.ts';
import { toHex } from '../../chain/bytes.ts';
import { contractAddress } from '../../execution/contracts.ts';
import { abiArgs, parseSafeInt, parseU64, resolveAddress } from '../args.ts';
import { CliError, type CommandContext } from '../context.ts';
import type { RpcParams, RpcResult } from '../../rpc/methods.ts';
import { eventsText, receiptFailed, returnText, rows } from '../format.ts';
import { DEFAULT_CONTRACT_GAS, send, sendOptions, type SendOpts } from '../send.ts';
import { readProofOption } from './zk.ts';

/** `contract deploy`, `call`, `query` and `code`. */
export function addContractCommands(program: Command, ctx: CommandContext): void {
  const contract = program.command('contract').description('deploy, call and query WebAssembly contracts (docs/contracts.md)');
  sendOptions(contract.command('deploy <file> [args...]')
    .description('deploy a module; ARGS go to its init: 42 is a u64, true/false a bool, hm1… an address, 0x… bytes, anything else a string; ' +
      'u64:, bool:, addr: (an address or a key name), bytes: and str: pick the type'), String(DEFAULT_CONTRACT_GAS))
    .action(async (file: string, args: string[], opts: SendOpts, cmd: Command) => {
      let code: Uint8Array;
      try {
        code = new Uint8Array(await readFile(file));
      } catch (err) {
        throw new CliError('usage', `cannot read ${file}: ${(err as Error).message}`);
      }
      const { r, nonce, sender } = await send(ctx, cmd, opts, { kind: 'deploy', code, args: await abiArgs(ctx.homeOf(cmd), args) });
      // Only a deploy committed with status ok made a contract: a refused module, a failed init or
      // one not committed yet (--no-wait) has no address to print.
      const address = r.receipt?.code === 0 ? formatAddress(contractAddress(sender, nonce)) : undefined;
      printOutcome(cmd, r, address === undefined ? r : { ...r, address }, [['address', address], ['hash', r.hash]], false);
    });
  sendOptions(contract.command('call <address> <method> [args...]')
    .description('call a contract method in a transaction; ARGS as for deploy')
    .option('--value <n>', 'base units sent with the call', '0')
    .option('--proof <key-hash,proof.json,public.json>', 'carry a Groth16 proof, verified before the call runs (repeat for more, at most 16; docs/zk.md)',
      (v: string, all: string[]) => [...all, v], [] as string[]),
  `${DEFAULT_CONTRACT_GAS}, plus what carried proofs cost`)
    .action(async (address: string, method: string, args: string[], opts: SendOpts & { value: string; proof: string[] }, cmd: Command) => {
      const to = parseAddress(await resolveAddress(ctx.homeOf(cmd), address, 'address'));
      const value = parseU64(opts.value, '--value');
      const proofs = await Promise.all(opts.proof.map(readProofOption));
      const { r } = await send(ctx, cmd, opts, {
        kind: 'call', contract: to, method, args: await abiArgs(ctx.homeOf(cmd), args), value, ...(proofs.length > 0 && { proofs }),
      });
      printOutcome(cmd, r, r, [['hash', r.hash]], true);
    });
  contract.command('query <address> <method> [args...]')
    .description('run a contract method read-only on the latest state (nothing is written, no fee)')
    .option('--gas-limit <n>', 'gas limit (at most the node\'s cap)')
    .option('--caller <address>', 'the caller the method sees')
    .action(async (address: string, method: string, args: string[], opts: { gasLimit?: string; caller?: string }, cmd: Command) => {
      const home = ctx.homeOf(cmd);
      const params: RpcParams<'contract_query'> = { address: await resolveAddress(home, address, 'address'), method, args: toHex(await abiArgs(home, args)) };
      if (opts.gasLimit !== undefined) params.gas_limit = parseSafeInt(opts.gasLimit, '--gas-limit');
      if (opts.caller !== undefined) params.caller = await resolveAddress(home, opts.caller, '--caller');
      const r = await (await ctx.rpcOf(cmd)).call('contract_query', params);
      ctx.print(cmd, r, () => rows([['ok', r.ok], ['gas used', r.gas_used], ['error', r.error], ['return', returnText(r.return_data)]]) + eventsText(r.events));
      if (!r.ok) throw new CliError('tx_failed', `the query failed: ${String(r.error)}`);
    });
  contract.command('code <address>')
    .description('a deployed contract: code hash, creator, methods; --out writes the module to a file')
    .option('--out <file>', 'write the module here')
    .action(async (address: string, opts: { out?: string }, cmd: Command) => {
      const r = await (await ctx.rpcOf(cmd)).call('contract_getCode', { address: await resolveAddress(ctx.homeOf(cmd), address, 'address') });
      if (opts.out !== undefined) await writeFile(opts.out, Buffer.from(r.code, 'hex'));
      ctx.print(cmd, r, () => rows([
        ['address', r.address], ['code hash', r.code_hash], ['size', r.size], ['creator', r.creator],
        ['methods', r.methods.join(', ')], ['written to', opts.out],
      ]));
    });

  /** A deploy or call: status, and once committed gas, return value and events; exits 1 if it failed. */
  function printOutcome(cmd: Command, r: RpcResult<'tx_broadcast'>, json: unknown, head: [string, unknown][], showReturn: boolean): void {
    const rc = r.receipt;
    ctx.print(cmd, json, () => rows([
      ...head, ['status', rc === undefined ? r.status : rc.status], ['height', r.height], ['gas used', rc?.gas_used],
      ['error', rc?.error], ['return', showReturn && rc?.status === 'ok' ? returnText(rc.return_data) : undefined],
    ]) + eventsText(rc?.events));
    const failure = receiptFailed(rc);
    if (failure) throw new CliError('tx_failed', `transaction ${r.hash} was committed but failed: ${failure}`);
  }
}
