/** Transactions: show a committed one, send a transfer. */
import type { Command } from 'commander';
import { parseAddress } from '../../chain/address.ts';
import { parseU64, resolveAddress } from '../args.ts';
import { CliError, type CommandContext } from '../context.ts';
import { eventsText, payloadRows, receiptFailed, returnText, rows } from '../format.ts';
import { send, sendOptions, type SendOpts } from '../send.ts';

/** `tx show` and `tx transfer`. */
export function addTxCommands(program: Command, ctx: CommandContext): void {
  const tx = program.command('tx').description('transactions');
  tx.command('show <hash>')
    .description('a committed transaction and its receipt')
    .action(async (hash: string, _opts: unknown, cmd: Command) => {
      if (!/^(?:0x)?[0-9a-fA-F]{64}$/.test(hash)) throw new CliError('usage', `hash: expected 64 hex characters, got ${JSON.stringify(hash)}`);
      const r = await (await ctx.rpcOf(cmd)).call('tx_get', { hash: hash.replace(/^0x/, '').toLowerCase() });
      const { tx: t, receipt: rc } = r;
      const txRows: [string, unknown][] = t === null ? [] : [['sender', t.sender], ['nonce', t.nonce], ['fee', t.fee], ...payloadRows(t.payload)];
      ctx.print(cmd, r, () => rows([
        ['hash', r.hash], ['height', r.height], ['index', r.index], ...txRows, ['status', rc.status], ['gas used', rc.gas_used], ['error', rc.error],
        ['return', t?.payload.type === 'call' ? returnText(rc.return_data) : undefined],
      ]) + eventsText(rc.events));
    });
  sendOptions(tx.command('transfer')
    .description('send base units from a key in the key store')
    .requiredOption('--to <address>', 'recipient: an hm1… address or a key name')
    .requiredOption('--amount <n>', 'base units to send'), 'exactly what a transfer uses')
    .action(async (opts: SendOpts & { to: string; amount: string }, cmd: Command) => {
      const amount = parseU64(opts.amount, '--amount');
      const to = parseAddress(await resolveAddress(ctx.homeOf(cmd), opts.to, '--to'));
      const { r, nonce } = await send(ctx, cmd, opts, { kind: 'transfer', to, amount });
      ctx.print(cmd, r, () => rows([['hash', r.hash], ['status', r.status], ['height', r.height], ['nonce', nonce]]));
      const failure = receiptFailed(r.receipt);
      if (failure) throw new CliError('tx_failed', `transaction ${r.hash} was committed but failed: ${failure}`);
    });
}
